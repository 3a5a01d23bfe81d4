/**
 * A simulated pkgsrc for full-size runs of the real master: the real scan of
 * the whole tree (what `bmake pbulk-index` printed in each directory), the
 * stage durations of a real bulk build's history, and failures injected at a
 * chosen rate. Hosts of a simulated farm (simfarm.ts) answer the master's
 * tasks from it; the master itself runs unchanged.
 *
 * Durations: a package found in the history takes its own stage times; any
 * other takes those of a history row picked by a hash of its PKGPATH, so the
 * full tree gets the real distribution. Failures: a package fails when a hash
 * of its PKGNAME and the seed falls under the rate, at a stage picked the
 * same way; the same seed always fails the same packages.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parseHistory, type HistoryRow } from "../../src/core/history.js";
import { multiVersionArgs } from "../../src/core/targets.js";
import { tarHeader } from "../../src/hosts/tar.js";

export const DATA_2026 = join(import.meta.dirname, "../../../../shared/data/pkgsrc-2026");

/** What one directory's `bmake pbulk-index` printed, and the PKGNAME of each make-argument set. */
export interface SimDir {
  /** The records as pbulk-index prints them (no PKG_LOCATION: the scan adds it). */
  readonly index: Buffer;
  /** MULTI_VERSION make arguments joined by spaces → PKGNAME. */
  readonly names: ReadonlyMap<string, string>;
}

/** Herd's per-package targets that take time on a host, and the history stages each stands for. */
const STAGE_OF: Readonly<Record<string, readonly string[]>> = {
  clean: ["pre-clean"],
  Depends: ["depends"],
  checksum: ["checksum"],
  configure: ["configure"],
  build: ["build"],
  package: ["install", "package"],
};
/** Seconds of what the history does not time (the master's own steps on the host). */
const FIXED_SECONDS: Readonly<Record<string, number>> = {
  Init: 0.5,
  Vars: 0.5,
  fetch: 0.2,
  extract: 0.5,
  patch: 0.2,
  scan: 1.5,
};
/** The stage herd records for a make target, where the names differ. */
const HERD_STAGE: Readonly<Record<string, string>> = { clean: "Clean", package: "Package" };
/** Where an injected failure happens, in proportion. */
const FAIL_STAGES = ["configure", "build", "build", "build", "package"] as const;

export interface SimPkgsrc {
  /** PKG_LOCATION → its directory's scan output. */
  readonly dirs: ReadonlyMap<string, SimDir>;
  /** Seconds (unscaled) a target takes for a package. */
  seconds(pkgpath: string, target: string): number;
  /** The stage a package fails at, or undefined. */
  failure(pkgname: string, pkgpath: string): string | undefined;
}

/** A 32-bit number from a hash of the words: the same words, the same number. */
function hash32(...words: readonly string[]): number {
  return createHash("sha1").update(words.join("\0")).digest().readUInt32BE(0);
}

/** Splits pbulk-scan output (records starting at PKGNAME=, PKG_LOCATION among their lines) by directory. */
export function dirsOfScan(scan: Buffer): Map<string, SimDir> {
  const dirs = new Map<string, { parts: string[]; names: Map<string, string> }>();
  for (const { loc, text } of scanRecords(scan)) {
    const lines = text.split("\n");
    const pkgname = lines[0]!.slice("PKGNAME=".length);
    const mv = lines.find((l) => l.startsWith("MULTI_VERSION="))?.slice(14);
    let d = dirs.get(loc);
    if (d === undefined) dirs.set(loc, (d = { parts: [], names: new Map() }));
    d.parts.push(lines.filter((l) => !l.startsWith("PKG_LOCATION=")).join("\n"));
    d.names.set((multiVersionArgs(mv) ?? []).join(" "), pkgname);
  }
  const out = new Map<string, SimDir>();
  for (const [loc, d] of dirs)
    out.set(loc, { index: Buffer.from(d.parts.join(""), "latin1"), names: d.names });
  return out;
}

/** Decompresses a zstd file of the data directory. */
export function readZst(path: string): Buffer {
  return execFileSync("zstd", ["-dcq", path], { maxBuffer: 1 << 30 });
}

export interface SimOptions {
  readonly scan: Buffer;
  readonly history: string;
  /** Share of packages that fail (0..1). */
  readonly failRate: number;
  readonly seed: string;
  /** Only these directories (a reduced run), all when undefined. */
  readonly only?: ReadonlySet<string>;
}

export function simPkgsrc(o: SimOptions): SimPkgsrc {
  const all = dirsOfScan(o.scan);
  const dirs =
    o.only === undefined ? all : new Map([...all].filter(([loc]) => o.only?.has(loc) === true));
  const spared = infrastructure(
    (o.only === undefined ? o.scan : scanOf(o.scan, o.only)).toString("latin1"),
  );
  const h = parseHistory(o.history);
  if (!h.ok) throw new Error(`history line ${h.error.line}: ${h.error.message}`);
  const rows = h.rows.filter((r) => r.outcome === "success");
  const byPath = new Map<string, HistoryRow>(rows.map((r) => [r.pkgpath, r]));
  const rowOf = (pkgpath: string): HistoryRow =>
    byPath.get(pkgpath) ?? rows[hash32("row", pkgpath) % rows.length]!;
  return {
    dirs,
    seconds(pkgpath, target) {
      const fixed = FIXED_SECONDS[target];
      if (fixed !== undefined) return fixed;
      const stages = STAGE_OF[target];
      if (stages === undefined) return 0;
      const row = rowOf(pkgpath);
      let ms = 0;
      for (const s of stages) ms += row.stages.get(s) ?? 0;
      return ms / 1000;
    },
    failure: (pkgname, pkgpath) => injectedFailure(pkgname, pkgpath, spared, o.seed, o.failRate),
  };
}

/**
 * The directories more than 1% of the tree's directories depend on, directly
 * or not (cwrappers, libffi, perl, ...): never made to fail, as a usable
 * tree's infrastructure rarely does, or one failure would fail most of the
 * build. Counted over directories (ALL_DEPENDS locations), lazily: a BFS up
 * the reverse graph that stops at the bound, for the few packages asked about.
 */
export function infrastructure(scanText: string): (pkgpath: string) => boolean {
  const up = new Map<string, Set<string>>();
  const dirs = new Set<string>();
  for (const rec of scanText.split(/\n(?=PKGNAME=)/)) {
    const loc = /(?:^|\n)PKG_LOCATION=([^\n]*)/.exec(rec)?.[1];
    if (loc === undefined) continue;
    dirs.add(loc);
    const line = /(?:^|\n)ALL_DEPENDS=([^\n]*)/.exec(rec)?.[1] ?? "";
    for (const m of line.matchAll(/:\.\.\/\.\.\/([^/\s]+\/[^/\s]+)/g)) {
      let s = up.get(m[1]!);
      if (s === undefined) up.set(m[1]!, (s = new Set()));
      s.add(loc);
    }
  }
  const bound = Math.max(3, dirs.size / 100);
  const memo = new Map<string, boolean>();
  return (pkgpath) => {
    const known = memo.get(pkgpath);
    if (known !== undefined) return known;
    const seen = new Set<string>([pkgpath]);
    const queue = [pkgpath];
    while (queue.length > 0 && seen.size <= bound) {
      for (const d of up.get(queue.pop()!) ?? [])
        if (!seen.has(d)) {
          seen.add(d);
          queue.push(d);
        }
    }
    const v = seen.size > bound;
    memo.set(pkgpath, v);
    return v;
  };
}

/** The stage at which a package is made to fail, or undefined (the same for the same seed). */
export function injectedFailure(
  pkgname: string,
  pkgpath: string,
  spared: (pkgpath: string) => boolean,
  seed: string,
  rate: number,
): string | undefined {
  if (hash32("fail", seed, pkgname) / 2 ** 32 >= rate || spared(pkgpath)) return undefined;
  return FAIL_STAGES[hash32("stage", seed, pkgname) % FAIL_STAGES.length];
}

export interface Expected {
  /** Packages the plan builds (no skip or fail reason, nor any below them). */
  readonly toBuild: ReadonlySet<string>;
  readonly built: ReadonlySet<string>;
  /** pkgname → the stage it fails at (herd's stage name). */
  readonly failed: ReadonlyMap<string, string>;
  readonly indirect: ReadonlySet<string>;
}

/**
 * What a build of a resolved scan (pbulk-resolve's output, as `herd resolve`
 * prints it) must end with when the injected failures happen: worked out here
 * from the records alone, not by herd's planner.
 */
export function expectedOutcomes(presolve: string, seed: string, rate: number): Expected {
  const spared = infrastructure(presolve);
  const recs = new Map<string, { bad: boolean; deps: string[]; path: string }>();
  for (const text of presolve.split(/\n(?=PKGNAME=)/)) {
    const get = (k: string): string | undefined =>
      new RegExp(`(?:^|\\n)${k}=([^\\n]*)`).exec(text)?.[1];
    const name = get("PKGNAME");
    if (name === undefined) continue;
    // No DEPENDS line: no dependencies (an unresolved one sets PKG_FAIL_REASON).
    const deps = get("DEPENDS");
    const bad = (get("PKG_SKIP_REASON") ?? "") !== "" || (get("PKG_FAIL_REASON") ?? "") !== "";
    recs.set(name, {
      bad,
      deps: (deps ?? "").split(/\s+/).filter((d) => d !== ""),
      path: get("PKG_LOCATION") ?? "",
    });
  }
  const buildable = new Map<string, boolean>();
  const canBuild = (name: string): boolean => {
    const known = buildable.get(name);
    if (known !== undefined) return known;
    buildable.set(name, false);
    const r = recs.get(name);
    const v = r !== undefined && !r.bad && r.deps.every(canBuild);
    buildable.set(name, v);
    return v;
  };
  const toBuild = new Set([...recs.keys()].filter(canBuild));
  // A package fails at its injected stage only if everything below it was built.
  const injected = new Map<string, string>();
  for (const n of toBuild) {
    const st = injectedFailure(n, recs.get(n)?.path ?? "", spared, seed, rate);
    if (st !== undefined) injected.set(n, st);
  }
  const broken = new Map<string, boolean>();
  const isBroken = (name: string): boolean => {
    const known = broken.get(name);
    if (known !== undefined) return known;
    const v = injected.has(name) || (recs.get(name)?.deps ?? []).some(isBroken);
    broken.set(name, v);
    return v;
  };
  const failed = new Map<string, string>();
  const built = new Set<string>();
  const indirect = new Set<string>();
  for (const n of toBuild) {
    const st = injected.get(n);
    if ((recs.get(n)?.deps ?? []).some(isBroken)) indirect.add(n);
    else if (st !== undefined) failed.set(n, HERD_STAGE[st] ?? st);
    else built.add(n);
  }
  return { toBuild, built, failed, indirect };
}

/**
 * A tree the master can scan and sync: mk/ and every directory of the scan
 * with a Makefile, so `herd build --tree` lists exactly the scanned directories.
 */
export function writeSimTree(dir: string, pkgpaths: Iterable<string>): number {
  mkdirSync(join(dir, "mk"), { recursive: true });
  writeFileSync(join(dir, "mk", "bsd.pkg.mk"), "# simulated tree: hosts answer from a real scan\n");
  let n = 0;
  for (const p of pkgpaths) {
    mkdirSync(join(dir, p), { recursive: true });
    writeFileSync(join(dir, p, "Makefile"), "# simulated\n");
    n++;
  }
  return n;
}

/** A minimal binary package (gzipped tar with +CONTENTS naming it), as vetPackage and pkg_summary read. */
export function simPackage(pkgname: string, pkgpath: string): Buffer {
  const member = (name: string, text: string): Buffer[] => {
    const data = Buffer.from(text);
    const pad = Buffer.alloc((512 - (data.length % 512)) % 512);
    return [tarHeader(name, "0", 0o644, data.length, 0), data, pad];
  };
  return gzipSync(
    Buffer.concat([
      ...member("+CONTENTS", `@name ${pkgname}\n@cwd /usr/pkg\nshare/doc/${pkgname}\n`),
      ...member("+COMMENT", `simulated ${pkgname}\n`),
      ...member("+BUILD_INFO", `PKGPATH=${pkgpath}\n`),
      ...member(`share/doc/${pkgname}`, "simulated\n"),
      Buffer.alloc(1024),
    ]),
  );
}

/** Each record of a pbulk-scan output with its PKG_LOCATION, in order. */
function* scanRecords(scan: Buffer): Generator<{ loc: string; text: string }> {
  const text = scan.toString("latin1");
  const first = text.startsWith("PKGNAME=") ? 0 : text.indexOf("\nPKGNAME=");
  let start = first <= 0 ? first : first + 1;
  while (start >= 0) {
    const next = text.indexOf("\nPKGNAME=", start);
    const rec = text.slice(start, next < 0 ? text.length : next + 1);
    start = next < 0 ? -1 : next + 1;
    const m = /\nPKG_LOCATION=([^\n]*)/.exec(rec);
    yield { loc: m?.[1] ?? "", text: rec };
  }
}

/**
 * `count` directories picked by a hash of their PKGPATH and the seed, with
 * every directory their ALL_DEPENDS lead to: a smaller tree that resolves
 * as the whole one does.
 */
export function closedSubset(scan: Buffer, count: number, seed: string): Set<string> {
  const deps = new Map<string, Set<string>>();
  for (const { loc, text } of scanRecords(scan)) {
    let d = deps.get(loc);
    if (d === undefined) deps.set(loc, (d = new Set()));
    const line = /\nALL_DEPENDS=([^\n]*)/.exec(text)?.[1] ?? "";
    for (const tok of line.split(/\s+/)) {
      const m = /:\.\.\/\.\.\/([^/]+\/[^/]+)$/.exec(tok);
      if (m !== null) d.add(m[1]!);
    }
  }
  const order = [...deps.keys()].sort(
    (a, b) => hash32("pick", seed, a) - hash32("pick", seed, b) || a.localeCompare(b),
  );
  const out = new Set<string>();
  const add = (p: string): void => {
    if (out.has(p) || !deps.has(p)) return;
    out.add(p);
    for (const d of deps.get(p) ?? []) add(d);
  };
  for (const p of order.slice(0, count)) add(p);
  return out;
}

/** The records of these directories, as pbulk-scan wrote them. */
export function scanOf(scan: Buffer, only: ReadonlySet<string>): Buffer {
  const parts: string[] = [];
  for (const { loc, text } of scanRecords(scan)) if (only.has(loc)) parts.push(text);
  return Buffer.from(parts.join(""), "latin1");
}
