/**
 * Helpers for fault-injection tests: a seeded PRNG, a build whose events a
 * test watches (and may act on) as they arrive, killing agents and cleaning
 * up after them, and reading what the store recorded.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import Database from "better-sqlite3";
import { CLI } from "./paths.js";
import { type Event, expectedOutcomes } from "./fixture.js";

/** mulberry32: a small seeded PRNG, so a failing run can be replayed from its seed. */
export function prng(seed: number): () => number {
  // Scrambled first: mulberry32's first outputs for neighbouring seeds are alike.
  let a = Math.imul((seed >>> 0) ^ 0x5bd1e995, 0x9e3779b1) >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [lo, hi] from a PRNG. */
export function between(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

export interface Watched {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly events: Event[];
  readonly stderr: string;
}

/**
 * Runs the CLI with --json; `onEvent` sees each event as it arrives (with the
 * child, to kill it). Killed with SIGKILL after `timeoutMs`.
 */
export function watchHerd(
  args: readonly string[],
  onEvent: (e: Event, n: number, child: ReturnType<typeof spawn>) => void,
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<Watched> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", [CLI, ...args, "--json"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: opts.env ?? process.env,
    });
    const events: Event[] = [];
    let buf = "";
    let err = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs ?? 280_000);
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.startsWith("{")) continue;
        const e = JSON.parse(line) as Event;
        events.push(e);
        onEvent(e, events.length, child);
      }
    });
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, events, stderr: err });
    });
  });
}

/** The pids of a local host's agent processes (its shell and subshells). */
export function agentPids(work: string, host: string): number[] {
  const r = spawnSync("pgrep", ["-f", `${join(work, "hosts", host)}/\\.herd-agent`], {
    encoding: "utf8",
  });
  return r.stdout
    .split("\n")
    .filter((p) => p !== "")
    .map(Number);
}

/** SIGKILLs a local host's agent with its whole process group (its tasks); how many pids it found. */
export function killAgent(work: string, host: string): number {
  const pids = agentPids(work, host);
  for (const pid of pids) killGroup(pid);
  return pids.length;
}

/** Kills whatever still runs from a work directory's hosts (agents a killed master left behind). */
export function killLeftovers(work: string): void {
  const r = spawnSync("pgrep", ["-f", `${join(work, "hosts")}/`], { encoding: "utf8" });
  for (const p of r.stdout.split("\n").filter((x) => x !== "")) killGroup(Number(p));
}

function killGroup(pid: number): void {
  try {
    process.kill(-pid, "SIGKILL");
  } catch {
    try {
      process.kill(pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
}

export interface StoredPackage {
  readonly pkgname: string;
  readonly state: string;
  readonly sha256: string | null;
  readonly reason: string;
}

/** The package rows of a work directory's latest build, read-only (the store may be on a full disk). */
export function storedPackages(work: string): Map<string, StoredPackage> {
  const db = new Database(join(work, "herd.db"), { readonly: true });
  try {
    const rows = db
      .prepare(
        "SELECT pkgname, state, sha256, reason FROM packages WHERE build_id = (SELECT max(id) FROM builds)",
      )
      .all() as StoredPackage[];
    return new Map(rows.map((r) => [r.pkgname, r]));
  } finally {
    db.close();
  }
}

/** The store's state each fixture package must end in (a PKG_FAIL_REASON package is stored as failed). */
export function expectedStates(): Map<string, string> {
  return new Map(
    [...expectedOutcomes()].map(([p, o]) => [p, o === "prefailed" ? "failed" : o] as const),
  );
}

export function sha256(file: string): string {
  return createHash("sha256").update(readFileSync(file)).digest("hex");
}

/**
 * Files in the repository whose sha256 differs from what the store recorded
 * for their package (empty when all match). Package files carry their build
 * date, so two builds never give the same bytes: the store's own record is
 * the reference, not another build.
 */
export function checksumMismatches(work: string): string[] {
  const stored = storedPackages(work);
  const all = join(work, "packages/All");
  const bad: string[] = [];
  for (const f of readdirSync(all).filter((x) => x.endsWith(".tgz"))) {
    const row = stored.get(f.slice(0, -4));
    const sum = sha256(join(all, f));
    if (row?.sha256 !== sum)
      bad.push(`${f}: file ${sum}, store ${row === undefined ? "no row" : String(row.sha256)}`);
  }
  return bad;
}

/** Leftovers of half-received files in the repository. */
export function halfReceived(work: string): string[] {
  return readdirSync(join(work, "packages/All")).filter(
    (f) => f.endsWith(".incoming") || f.endsWith(".part"),
  );
}

/** How often each package has a given package-end result in an event stream. */
export function endCounts(events: readonly Event[], result: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const e of events)
    if (e.type === "package-end" && e.result === result) {
      const p = e.pkgname as string;
      out.set(p, (out.get(p) ?? 0) + 1);
    }
  return out;
}

/** Packages started again after a package-end "built" of theirs (must be none). */
export function rebuiltAfterBuilt(events: readonly Event[]): string[] {
  const built = new Set<string>();
  const again: string[] = [];
  for (const e of events) {
    const p = e.pkgname as string;
    if (e.type === "package-end" && e.result === "built") built.add(p);
    if (e.type === "package-start" && built.has(p)) again.push(p);
  }
  return again;
}
