/**
 * The real 2013 pkgsrc tree for tests and benchmarks: the tree, its
 * bootstrap kit and pkgsrc's own pbulk tools, prepared once per machine by
 * scripts/pkgsrc2013.sh in a cache directory outside the repository (keyed
 * by the tarball's checksum) and reused afterwards.
 *
 * Host directories live in that cache too, one set per test: a local host's
 * copy of the tree (about 240 MB) is synced by herd once, and later runs find
 * the tree id unchanged and skip the sync, as a real build host would.
 */
import { spawn, spawnSync } from "node:child_process";
import { createReadStream, existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { hostName } from "../../src/core/hostspec.js";
import { LocalTransport } from "../../src/hosts/local.js";
import { HostPool } from "../../src/hosts/pool.js";
import { describeState } from "../../src/hosts/state.js";
import { treeSyncPrepare } from "../../src/hosts/treesync/treesync.js";
import {
  bootstrapOverrides,
  treeWithCategory as treeWithCategoryOf,
} from "../../src/cli/demo-real.js";
import { ROOT } from "./paths.js";

/** The shared real data: the tarball and its bootstrap.sh. */
export const DATA_2013 = resolve(ROOT, "../shared/data/pkgsrc-2013");
/** The local category the real-build test adds to its copy of the tree. */
export const LOCAL_CATEGORY = join(ROOT, "tests/fixtures/pkgsrc2013/local");

export interface Pkgsrc2013 {
  /** The cache directory. */
  readonly dir: string;
  /** The pristine tree, stamped with a herd tree id. */
  readonly tree: string;
  /** The bootstrap's prefix (compiled into its bmake and pkg tools). */
  readonly prefix: string;
  /** A tar of the pristine prefix. */
  readonly kit: string;
  readonly bmake: string;
  readonly pkgInfo: string;
  readonly pbulkScan: string;
  readonly pbulkResolve: string;
}

/** Why the real tree cannot be used on this machine, or undefined when it can. */
export function pkgsrc2013Missing(): string | undefined {
  if (process.platform !== "linux") return "the 2013 bootstrap is prepared for Linux";
  if (!existsSync(join(DATA_2013, "pkgsrc-2013-03-30.tar.zst")))
    return `no real data in ${DATA_2013}`;
  for (const tool of ["gcc", "make", "bash", "zstd", "flock", "unshare"]) {
    if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) return `${tool} is missing`;
  }
  return undefined;
}

/** Why local hosts cannot get a private prefix here (no mount namespace for us), or undefined. */
export function sandboxMissing(): string | undefined {
  const argv =
    process.getuid?.() === 0
      ? ["unshare", "--mount", "true"]
      : ["unshare", "--map-root-user", "--mount", "true"];
  return spawnSync(argv[0]!, argv.slice(1)).status === 0
    ? undefined
    : "cannot make a mount namespace (unshare -m) for the hosts' private prefixes";
}

let prepared: Pkgsrc2013 | undefined;

/** The prepared tree and tools (first use on a machine takes a few minutes). */
export function preparePkgsrc2013(): Pkgsrc2013 {
  if (prepared !== undefined) return prepared;
  const r = spawnSync("sh", [join(ROOT, "scripts/pkgsrc2013.sh"), DATA_2013], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 30 * 60_000,
  });
  const dir = r.stdout.trim().split("\n").at(-1) ?? "";
  if (r.status !== 0 || !existsSync(join(dir, "ready")))
    throw new Error(`scripts/pkgsrc2013.sh failed (status ${String(r.status)})`);
  prepared = {
    dir,
    tree: join(dir, "pkgsrc"),
    prefix: join(dir, "prefix"),
    kit: join(dir, "kit.tar"),
    bmake: join(dir, "prefix/bin/bmake"),
    pkgInfo: join(dir, "prefix/sbin/pkg_info"),
    pbulkScan: join(dir, "pbulk/pbulk-scan"),
    pbulkResolve: join(dir, "pbulk/pbulk-resolve"),
  };
  return prepared;
}

/** A herd config for building with the bootstrap: its bmake, its prefix private to each local host. */
export function bootstrapConfig(p: Pkgsrc2013, extra: Record<string, unknown> = {}): object {
  return { ...bootstrapOverrides(p), ...extra };
}

/** The pristine tree plus a category of one's own, cached (see src/cli/demo-real.ts). */
export function treeWithCategory(p: Pkgsrc2013, category: string): string {
  return treeWithCategoryOf(p, category);
}

/** The directory of a named set of local hosts (their roots live under it, kept between runs). */
export function hostSet(p: Pkgsrc2013, name: string): string {
  const dir = join(p.dir, "hosts", name);
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** A hosts file of N local hosts rooted in a host set. */
export function localHostsFile(set: string, n: number, file: string): string {
  const lines = Array.from(
    { length: n },
    (_, i) => `local${i + 1} local ${join(set, `local${i + 1}`)}`,
  );
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

/** The scan records of a pbulk-scan style file, each as its text, sorted (for set comparison). */
export function recordSet(text: string): string[] {
  const out: string[] = [];
  let cur: string[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("PKGNAME=") && cur.length > 0) {
      out.push(cur.join("\n"));
      cur = [];
    }
    if (line !== "") cur.push(line);
  }
  if (cur.length > 0) out.push(cur.join("\n"));
  return out.sort();
}

export interface Ran {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

/** Runs a command to the end (killed after timeoutMs), stdin from a file or nothing. */
export function runCmd(
  argv: readonly string[],
  opts: {
    readonly stdin?: string;
    readonly timeoutMs?: number;
    readonly env?: NodeJS.ProcessEnv;
  } = {},
): Promise<Ran> {
  return new Promise((res, rej) => {
    const t0 = performance.now();
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: [opts.stdin === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      env: opts.env ?? process.env,
      detached: true,
    });
    if (opts.stdin !== undefined) createReadStream(opts.stdin).pipe(child.stdin!);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on("data", (d: Buffer) => out.push(d));
    child.stderr?.on("data", (d: Buffer) => err.push(d));
    // The whole process group: pbulk-scan's and herd's children go too.
    const timer = setTimeout(
      () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          /* gone */
        }
      },
      opts.timeoutMs ?? 10 * 60_000,
    );
    child.on("error", rej);
    child.on("close", (code) => {
      clearTimeout(timer);
      res({
        code,
        stdout: Buffer.concat(out).toString("latin1"),
        stderr: Buffer.concat(err).toString("utf8"),
        seconds: (performance.now() - t0) / 1000,
      });
    });
  });
}

/**
 * Brings the hosts' copies of a tree up to date with herd's own tree sync
 * (uuid-gated: hosts already holding the tree id skip it), so a timed scan
 * or build afterwards does not wait for hosts still receiving 240 MB.
 */
export async function syncHosts(tree: string, roots: readonly string[]): Promise<void> {
  const pool = new HostPool({
    heartbeatTimeoutMs: 120_000,
    prepare: treeSyncPrepare(tree, () => ({ dest: "pkgsrc", sync: true })),
  });
  try {
    roots.forEach((root, i) => {
      const r = pool.add({
        name: hostName(`sync${i + 1}`),
        transport: new LocalTransport({ root }),
        slots: 1,
        speed: 1,
        tags: [],
      });
      if (!r.ok) throw new Error(r.error.message);
    });
    const deadline = Date.now() + 20 * 60_000;
    for (;;) {
      const states = pool.list().map((h) => h.state);
      if (states.every((s) => s.kind === "idle")) return;
      const bad = states.find((s) => s.kind === "lost" || s.kind === "gone");
      if (bad !== undefined) throw new Error(`tree sync failed: ${describeState(bad)}`);
      if (Date.now() > deadline) throw new Error("tree sync did not finish in 20 minutes");
      await Promise.race([pool.changed(), new Promise((r) => setTimeout(r, 1000))]);
    }
  } finally {
    await pool.close();
  }
}
