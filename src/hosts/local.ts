/**
 * The local transport: the agent runs as a local shell process whose root
 * directory stands for the host's machine (its tree copy, prefix, packages).
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { resolve } from "node:path";
import { bootstrapProgram } from "../agent/agent.js";
import { ok, type Result } from "../protocol/result.js";
import {
  TailBuffer,
  type Channel,
  type LinkEnd,
  type Transport,
  type TransportError,
} from "./transport.js";

export interface LocalTransportOptions {
  /** The host's directory: the agent's root. */
  readonly root: string;
  /** The shell to run the agent, e.g. ["dash"] or ["busybox", "sh"]; default ["sh"]. */
  readonly shell?: readonly string[];
  /** Environment of the agent process; default the master's. */
  readonly env?: NodeJS.ProcessEnv;
}

/** A local channel also exposes the agent's pid, so tests can kill it. */
export interface LocalChannel extends Channel {
  readonly pid: number;
}

/** Maps a hosts-file `shell=` value to a command: "busybox" means `busybox sh`. */
export function shellCommand(value: string | undefined): readonly string[] {
  if (value === undefined || value === "") return ["sh"];
  if (value === "busybox") return ["busybox", "sh"];
  return value.split(",");
}

export class LocalTransport implements Transport {
  readonly kind = "local";
  readonly description: string;
  readonly #root: string;
  readonly #shell: readonly string[];
  readonly #env: NodeJS.ProcessEnv | undefined;

  constructor(opts: LocalTransportOptions) {
    this.#root = resolve(opts.root);
    this.#shell = opts.shell ?? ["sh"];
    this.#env = opts.env;
    this.description = `local ${this.#shell.join(" ")} in ${this.#root}`;
  }

  get root(): string {
    return this.#root;
  }

  open(): Promise<Result<LocalChannel, TransportError>> {
    try {
      mkdirSync(this.#root, { recursive: true });
    } catch (e) {
      const message = `cannot create the host directory ${this.#root}: ${(e as Error).message}`;
      return Promise.resolve({ ok: false, error: { reason: "unreachable", message } });
    }
    const [cmd, ...pre] = this.#shell as [string, ...string[]];
    // A process group of its own, so destroy() takes its tasks down with it.
    const child = spawn(
      cmd,
      [...pre, "-c", bootstrapProgram(this.#shell), "herd-agent", this.#root],
      {
        stdio: ["pipe", "pipe", "pipe"],
        detached: true,
        env: this.#env ?? process.env,
        cwd: this.#root,
      },
    );
    const tail = new TailBuffer();
    child.stderr.on("data", (d: Buffer) => {
      tail.push(d);
    });
    // Writes after the agent died must not crash the master.
    child.stdin.on("error", () => undefined);
    const ended = new Promise<LinkEnd>((res) => {
      child.on("error", (e) => {
        res({ reason: `cannot start ${cmd}: ${e.message}` });
      });
      child.on("close", (code, signal) => {
        res({
          reason:
            signal !== null
              ? `agent killed by ${signal}`
              : `agent exited with status ${code ?? "?"}`,
        });
      });
    });
    const pid = child.pid ?? -1;
    return Promise.resolve(
      ok({
        input: child.stdin,
        output: child.stdout,
        ended,
        pid,
        diagnostics: () => tail.toString(),
        destroy: () => {
          try {
            if (pid > 0) process.kill(-pid, "SIGKILL");
          } catch {
            // already gone
          }
        },
      }),
    );
  }
}
