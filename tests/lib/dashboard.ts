/**
 * Helpers for dashboard tests and screenshots: a herd process whose
 * dashboard URL is read from its output, and a compiler that waits at a
 * gate, so a test decides when the fixture build moves on.
 */
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { CLI } from "./paths.js";
import { scratchDir } from "./scratch.js";

export interface HerdProcess {
  /** The dashboard URL herd printed; rejects if herd exits first. */
  readonly url: Promise<string>;
  /** The exit code (null: killed by a signal). */
  readonly exited: Promise<number | null>;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** SIGKILLs herd if it still runs. */
  readonly kill: () => void;
  /** Asks herd to stop (SIGTERM). */
  readonly stop: () => void;
}

/** Starts the CLI; the URL is the first http://… on stdout or stderr. */
export function startHerd(args: readonly string[], env: NodeJS.ProcessEnv = {}): HerdProcess {
  const child = spawn("node", [CLI, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, ...env },
  });
  let out = "";
  let err = "";
  let found: (u: string) => void = () => undefined;
  let failed: (e: Error) => void = () => undefined;
  const url = new Promise<string>((res, rej) => {
    found = res;
    failed = rej;
  });
  // Callers that only wait for the exit need not handle a missing URL.
  url.catch(() => undefined);
  const look = (): void => {
    const m = /(http:\/\/\S+)/.exec(err + out);
    if (m !== null) found(m[1]!);
  };
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
    look();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
    look();
  });
  const exited = new Promise<number | null>((res) => {
    child.on("close", (code) => {
      failed(new Error(`herd exited (${String(code)}) before printing a URL:\n${err}`));
      res(code);
    });
  });
  return {
    url,
    exited,
    stdout: () => out,
    stderr: () => err,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    stop: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    },
  };
}

export interface Gate {
  /** A C compiler (for CC=) that waits until the gate is open, at most two minutes. */
  readonly cc: string;
  open(): void;
  remove(): void;
}

/** A closed gate in a fresh directory; every compile also takes `delaySeconds` longer. */
export function gatedCompiler(delaySeconds = 0): Gate {
  const dir = scratchDir("herd-gate-");
  const gate = join(dir, "open");
  const cc = join(dir, "gated-cc");
  writeFileSync(
    cc,
    `#!/bin/sh
# Holds every compile until the test opens the gate (at most 120 s).
i=0
while [ ! -e '${gate}' ] && [ "$i" -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done
sleep ${delaySeconds}
exec cc "$@"
`,
    { mode: 0o755 },
  );
  return {
    cc,
    open: () => {
      writeFileSync(gate, "");
    },
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
