/**
 * The ssh transport (master-initiated): the system OpenSSH client runs the
 * agent bootstrap on the host. BatchMode (never a prompt), one multiplexed
 * connection per host (ControlMaster/ControlPersist, sockets under the work
 * directory), and host keys always checked: an unknown or changed key is a
 * failed connection, never a question and never an exception.
 */
import { spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { bootstrapProgram, shQuote } from "../agent/agent.js";
import { ok, type Result } from "../protocol/result.js";
import {
  TailBuffer,
  type Channel,
  type LinkEnd,
  type Transport,
  type TransportError,
} from "./transport.js";

export interface SshTransportOptions {
  /** [user@]host[:port] */
  readonly address: string;
  /** The agent's directory on the host; relative to the login directory. Default "herd". */
  readonly root?: string;
  /** The shell that runs the agent on the host. Default ["/bin/sh"]. */
  readonly shell?: readonly string[];
  /** Directory for the control sockets (created 0700). */
  readonly controlDir: string;
  readonly identity?: string | null;
  readonly knownHosts?: string | null;
  /** Extra `-o` options. */
  readonly options?: readonly string[];
  /** The ssh client; default "ssh". */
  readonly ssh?: string;
  /** Seconds for the TCP connection and the ssh handshake. Default 30. */
  readonly connectTimeout?: number;
  /** Seconds the shared connection outlives its last session. Default 60. */
  readonly persist?: number;
}

export interface SshTarget {
  readonly destination: string;
  readonly port: number | null;
}

/** Splits "[user@]host[:port]". */
export function parseSshAddress(address: string): SshTarget {
  const m = /^(.*?)(?::([0-9]{1,5}))?$/.exec(address)!;
  return { destination: m[1]!, port: m[2] === undefined ? null : Number(m[2]) };
}

export class SshTransport implements Transport {
  readonly kind = "ssh";
  readonly description: string;
  readonly #o: SshTransportOptions;
  readonly #target: SshTarget;

  constructor(opts: SshTransportOptions) {
    this.#o = opts;
    this.#target = parseSshAddress(opts.address);
    this.description = `ssh ${opts.address}`;
  }

  /** The ssh options every invocation (session or control command) uses. */
  #baseArgs(): string[] {
    const o = this.#o;
    const a = [
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=yes",
      "-o",
      `ConnectTimeout=${o.connectTimeout ?? 30}`,
      "-o",
      "ControlMaster=auto",
      "-o",
      `ControlPath=${o.controlDir}/%C`,
      "-o",
      `ControlPersist=${o.persist ?? 60}`,
      "-o",
      "ServerAliveInterval=15",
      "-o",
      "ServerAliveCountMax=4",
    ];
    if (o.knownHosts != null) a.push("-o", `UserKnownHostsFile=${o.knownHosts}`);
    if (o.identity != null) a.push("-o", "IdentitiesOnly=yes", "-i", o.identity);
    for (const opt of o.options ?? []) a.push("-o", opt);
    if (this.#target.port !== null) a.push("-p", String(this.#target.port));
    return a;
  }

  /** ssh and its options (no destination), for tools that ride the shared connection (rsync -e). */
  sshCommand(): { readonly argv: readonly string[]; readonly destination: string } {
    return {
      argv: [this.#o.ssh ?? "ssh", ...this.#baseArgs()],
      destination: this.#target.destination,
    };
  }

  /** The command line the host's login shell runs (sh or csh alike: one line, quoted words). */
  remoteCommand(): string {
    const shell = this.#o.shell ?? ["/bin/sh"];
    const root = this.#o.root ?? "herd";
    return `exec ${shell.map(shQuote).join(" ")} -c ${shQuote(bootstrapProgram(shell))} herd-agent ${shQuote(root)}`;
  }

  open(): Promise<Result<Channel, TransportError>> {
    mkdirSync(this.#o.controlDir, { recursive: true, mode: 0o700 });
    const ssh = this.#o.ssh ?? "ssh";
    const child = spawn(
      ssh,
      ["-T", ...this.#baseArgs(), "--", this.#target.destination, this.remoteCommand()],
      {
        stdio: ["pipe", "pipe", "pipe"],
      },
    );
    const tail = new TailBuffer();
    child.stderr.on("data", (d: Buffer) => {
      tail.push(d);
    });
    child.stdin.on("error", () => undefined);
    const ended = new Promise<LinkEnd>((res) => {
      child.on("error", (e) => {
        res({ reason: `cannot run ${ssh}: ${e.message}` });
      });
      child.on("close", (code, signal) => {
        const why =
          signal !== null ? `ssh killed by ${signal}` : `ssh exited with status ${code ?? "?"}`;
        const diag = tail.toString().trim().split("\n").at(-1) ?? "";
        res({ reason: diag === "" ? why : `${why}: ${diag}` });
      });
    });
    return Promise.resolve(
      ok({
        input: child.stdin,
        output: child.stdout,
        ended,
        diagnostics: () => tail.toString(),
        destroy: () => {
          child.kill("SIGTERM");
        },
      }),
    );
  }

  /** Stops the shared connection (ssh -O exit), so nothing outlives the master. */
  dispose(): Promise<void> {
    return new Promise((res) => {
      const c = spawn(
        this.#o.ssh ?? "ssh",
        [...this.#baseArgs(), "-O", "exit", "--", this.#target.destination],
        {
          stdio: "ignore",
        },
      );
      const timer = setTimeout(() => c.kill("SIGKILL"), 10_000);
      c.on("error", () => {
        clearTimeout(timer);
        res();
      });
      c.on("close", () => {
        clearTimeout(timer);
        res();
      });
    });
  }
}
