/** Shared set-up for tests that drive real agent processes. */
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { hostName } from "../../src/core/hostspec.js";
import { AgentConnection } from "../../src/hosts/connection.js";
import type { HostPool } from "../../src/hosts/pool.js";
import { describeState, type HostStateKind } from "../../src/hosts/state.js";
import { LocalTransport, type LocalChannel } from "../../src/hosts/local.js";
import { scratchDir } from "../lib/scratch.js";

/** The shells every agent test runs under. */
export const SHELLS: readonly (readonly string[])[] = [["dash"], ["busybox", "sh"]];

export function tempDir(prefix: string): { path: string; remove: () => void } {
  const path = scratchDir(`herd-${prefix}-`);
  return {
    path,
    remove: () => {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

/**
 * A directory of busybox applet links (and cksum), nothing else, for a PATH that
 * proves the agent needs only POSIX utilities (plus the test's own tools).
 */
export function busyboxOnlyPath(dir: string, extra: readonly string[] = []): string {
  const bin = join(dir, "bb-bin");
  mkdirSync(bin, { recursive: true });
  const busybox = execFileSync("sh", ["-c", "command -v busybox"]).toString().trim();
  // Debian's busybox has no cksum applet: the system's (POSIX) one stands in.
  const cksum = execFileSync("sh", ["-c", "command -v cksum"]).toString().trim();
  symlinkSync(cksum, join(bin, "cksum"));
  const applets = ["sh", "cat", "chmod", "cp", "dd", "kill", "mkdir", "mkfifo", "mv", "rm"];
  for (const a of [
    ...applets,
    "rmdir",
    "uname",
    "wc",
    "sleep",
    "printf",
    "echo",
    "tar",
    "busybox",
    ...extra,
  ]) {
    symlinkSync(busybox, join(bin, a));
  }
  return bin;
}

export interface TestAgent {
  readonly conn: AgentConnection;
  readonly channel: LocalChannel;
  readonly root: string;
}

/** Starts a local agent under `shell` in `root` and waits for its hello. */
export async function startAgent(
  root: string,
  shell: readonly string[],
  env?: NodeJS.ProcessEnv,
  chunkSize?: number,
): Promise<TestAgent> {
  const t = new LocalTransport({ root, shell, ...(env === undefined ? {} : { env }) });
  const ch = await t.open();
  if (!ch.ok) throw new Error(ch.error.message);
  const c = await AgentConnection.open(ch.value, {
    helloTimeoutMs: 20_000,
    ...(chunkSize === undefined ? {} : { chunkSize }),
  });
  if (!c.ok) throw new Error(c.error.message);
  return { conn: c.value, channel: ch.value, root };
}

/**
 * Waits until host `name` is in state `kind`; throws (instead of hanging) if
 * it is lost or gone first, unless that is what is awaited.
 */
export async function waitState(
  pool: HostPool,
  name: string,
  kind: HostStateKind,
  opts: { readonly deadlineMs?: number; readonly tolerateLost?: boolean } = {},
): Promise<void> {
  const deadlineMs = opts.deadlineMs ?? 30_000;
  const t0 = Date.now();
  for (;;) {
    const s = pool.get(hostName(name))?.state;
    if (s?.kind === kind) return;
    if (
      s !== undefined &&
      s.kind !== kind &&
      ((s.kind === "lost" && (opts.tolerateLost !== true || s.quarantine !== null)) ||
        s.kind === "gone")
    ) {
      throw new Error(`host ${name} is ${describeState(s)} while waiting for ${kind}`);
    }
    const left = deadlineMs - (Date.now() - t0);
    if (left <= 0)
      throw new Error(`host ${name} did not reach ${kind} (is ${s?.kind ?? "unknown"})`);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      pool.changed(),
      new Promise((res) => {
        timer = setTimeout(res, Math.min(left, 1000));
      }),
    ]);
    clearTimeout(timer);
  }
}
