/**
 * The scan phase of a build: `make pbulk-index` in every package directory,
 * spread over the hosts, results streaming back to the master. A package
 * whose SCAN_DEPENDS files (and Makefile) are unchanged since its last scan
 * is not scanned again: its cached records are reused. With a package list,
 * the listed directories are scanned and then, as pbulk does, the
 * directories their dependencies live in.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, normalize } from "node:path";
import { parseDependency } from "../core/resolve.js";
import { frameScanOutput } from "../core/pscan.js";
import {
  RecordParser,
  formatErrorText,
  isPkgPath,
  withField,
  type ScanRecord,
} from "../core/records.js";
import { rebaseQuery, scanArgv, scanMkName, splitScanOutput } from "./distfiles.js";
import type { EventBus } from "../events/types.js";
import type { HostPool } from "../hosts/pool.js";
import { UserError } from "../cli/errors.js";
import { rebaseScanDepends } from "../core/scanpaths.js";
import { HOST } from "./layout.js";
import { QueuePlanner } from "../core/sched/queue.js";
import { dispatchLoop, mayWork } from "./dispatch.js";
import type { Workdir } from "./workdir.js";
import { batchArgv, batchNonce, batchSize, splitBatch } from "./scan-batch.js";

export interface ScanStepOptions {
  readonly pool: HostPool;
  readonly tree: string;
  readonly wd: Workdir;
  readonly bus: EventBus;
  readonly make: string;
  readonly pkgs?: readonly string[];
  /**
   * Learn each package's distfiles in the same make run (distfiles: "master"),
   * so the master can fetch them ahead of the build.
   */
  readonly distfiles?: boolean;
  /**
   * Called with each package directory's distfile query as soon as it is
   * known (a cached one at the start, a fresh one when its scan ends) and
   * the directory's records, so fetching can start during the scan.
   */
  readonly onQuery?: (pkgpath: string, query: string, records: readonly ScanRecord[]) => void;
  /**
   * The tree's id (kept right by treestamp.ts: any file changed gives a new
   * one). The cache checked against the tree under an id is trusted without
   * reading the tree again while the id stays.
   */
  readonly treeId?: string;
  /** Most directories scanned in one task (default MAX_BATCH; 1: one each). */
  readonly batch?: number;
  /**
   * The config's extra environment, which the build's make runs get too: it may change
   * what a package depends on (FETCH_USING, PKG_OPTIONS.*), so the scan runs with it,
   * and a cached scan made with another is not used.
   */
  readonly env?: Readonly<Record<string, string>>;
}

/** A scan's records and, with `distfiles`, what make said of the directory's distfiles. */
export interface ScanResult {
  readonly records: ScanRecord[];
  /** PKGPATH → the four lines of the distfile query (DISTFILE_QUERY's output). */
  readonly distfiles: ReadonlyMap<string, string>;
}

/**
 * The package directories of a tree as pbulk-scan finds them: the SUBDIR
 * lists of the top Makefile and of each category's Makefile (a directory
 * commented out of its category is not scanned). A tree whose top Makefile
 * lists nothing is walked instead: every category/dir with a Makefile.
 */
export function listPackageDirs(tree: string): string[] {
  const categories = subdirs(join(tree, "Makefile"));
  if (categories.length === 0) return walkPackageDirs(tree);
  const out: string[] = [];
  for (const cat of categories) {
    for (const dir of subdirs(join(tree, cat, "Makefile"))) {
      const path = `${cat}/${dir}`;
      if (isPkgPath(path) && exists(join(tree, path, "Makefile"))) out.push(path);
    }
  }
  return [...new Set(out)].sort();
}

/** The `SUBDIR+=` words of a Makefile (as `bmake show-subdir-var VARNAME=SUBDIR` gives them), but variables. */
function subdirs(makefile: string): string[] {
  let text: string;
  try {
    text = readFileSync(makefile, "latin1");
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const m = /^SUBDIR\s*\+?=(.*)$/.exec(line);
    if (m === null) continue;
    for (const w of m[1]!.replace(/#.*/, "").trim().split(/\s+/))
      if (w !== "" && !w.includes("$")) out.push(w);
  }
  return out;
}

/** Every category/dir with a Makefile. */
function walkPackageDirs(tree: string): string[] {
  const out: string[] = [];
  for (const cat of readdirSync(tree, { withFileTypes: true })) {
    if (
      !cat.isDirectory() ||
      cat.name.startsWith(".") ||
      ["mk", "bootstrap", "doc", "distfiles", "packages", "regress"].includes(cat.name)
    )
      continue;
    for (const pkg of readdirSync(join(tree, cat.name), { withFileTypes: true })) {
      if (!pkg.isDirectory() || pkg.name.startsWith(".") || pkg.name === "CVS") continue;
      const path = `${cat.name}/${pkg.name}`;
      if (isPkgPath(path) && exists(join(tree, path, "Makefile"))) out.push(path);
    }
  }
  return out.sort();
}

function exists(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** Digest of the files a package's scan read, so an unchanged package is not rescanned. */
class SourceDigests {
  readonly #files = new Map<string, string>();
  /** `env`: the scan's extra environment, part of every digest ("" when none). */
  constructor(
    private readonly tree: string,
    private readonly env: string,
  ) {}

  file(rel: string): string {
    let d = this.#files.get(rel);
    if (d === undefined) {
      try {
        d = createHash("sha256")
          .update(readFileSync(join(this.tree, rel)))
          .digest("hex");
      } catch {
        d = "missing";
      }
      this.#files.set(rel, d);
    }
    return d;
  }

  /** Digest of every file of a package dir (but its work dirs) and of the SCAN_DEPENDS its records list. */
  of(pkgpath: string, records: readonly ScanRecord[]): string {
    const files = new Set<string>(packageFiles(this.tree, pkgpath));
    for (const r of records) {
      for (const f of (r.get("SCAN_DEPENDS") ?? "").split(/\s+/)) {
        if (f === "") continue;
        const rel = normalize(join(pkgpath, f));
        if (!rel.startsWith("..") && !rel.startsWith("/")) files.add(rel);
      }
    }
    const h = createHash("sha256");
    if (this.env !== "") h.update(`env\0${this.env}\0`);
    for (const f of [...files].sort()) h.update(`${f}\0${this.file(f)}\0`);
    return h.digest("hex");
  }
}

/** The files of a package directory (relative to the tree), without work directories. */
function packageFiles(tree: string, pkgpath: string): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const e of readdirSync(join(tree, rel), { withFileTypes: true })) {
      if (
        e.name === "work" ||
        e.name.startsWith("work.") ||
        e.name === "CVS" ||
        e.name.startsWith(".")
      )
        continue;
      const p = `${rel}/${e.name}`;
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(p);
    }
  };
  try {
    walk(pkgpath);
  } catch {
    /* a vanished directory digests as empty */
  }
  return out;
}

/** Meta key: the tree and tree id the scan cache was last checked against. */
const SCAN_TREE = "scan-tree";

/** Scans the tree (or the listed packages and their dependencies) and returns all records. */
export async function scanStep(o: ScanStepOptions): Promise<ScanResult> {
  const env = Object.entries(o.env ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const envKey = env.length === 0 ? "" : JSON.stringify(env);
  const digests = new SourceDigests(o.tree, envKey);
  const cached = new Map<string, ScanRecord[]>();
  const queries = new Map<string, string>();
  const cachedQueries = o.distfiles === true ? o.wd.store.allScanDistfiles() : null;
  // Checking the cache reads every package's files: 20,000 directories take long. Once
  // checked under a tree id, what is left of it holds for that id (no file changed, or
  // the id would have), and so does what this scan adds, digested against the same tree.
  const stamp =
    o.treeId === undefined
      ? undefined
      : `${o.tree}\n${o.treeId}${envKey === "" ? "" : `\n${envKey}`}`;
  const trusted = stamp !== undefined && o.wd.store.getMeta(SCAN_TREE) === stamp;
  for (const row of o.wd.store.allScans()) {
    const q = cachedQueries?.get(row.pkgpath);
    // A cached scan without the distfile query is scanned again when the query is wanted.
    if (cachedQueries !== null && q?.digest !== row.digest) continue;
    const parsed = parse(row.records, row.pkgpath);
    if (parsed.ok && (trusted || digests.of(row.pkgpath, parsed.records) === row.digest)) {
      cached.set(row.pkgpath, parsed.records);
      if (q !== undefined && q.query !== "") queries.set(row.pkgpath, q.query);
    } else if (stamp !== undefined) o.wd.store.deleteScan(row.pkgpath);
  }
  if (stamp !== undefined && !trusted) o.wd.store.setMeta(SCAN_TREE, stamp);
  const wanted = o.pkgs === undefined ? listPackageDirs(o.tree) : [...o.pkgs];
  const seen = new Set<string>();
  // The directories to scan, run by the one dispatch loop: those known at
  // the start in batches (scan-batch.ts), those found later one task each.
  const planner = new QueuePlanner();
  const paths: string[][] = [];
  const results = new Map<string, ScanRecord[]>();
  let pending: string[] | undefined = [];
  const enqueue = (p: string): void => {
    if (seen.has(p)) return;
    seen.add(p);
    const hit = cached.get(p);
    if (hit !== undefined) {
      results.set(p, hit);
      const q = queries.get(p);
      if (q !== undefined) o.onQuery?.(p, q, hit);
      follow(hit);
    } else if (pending !== undefined) pending.push(p);
    else paths[planner.add()] = [p];
  };
  const follow = (recs: readonly ScanRecord[]): void => {
    if (o.pkgs === undefined) return;
    for (const r of recs) {
      for (const tok of (r.get("ALL_DEPENDS") ?? "").split(/\s+/)) {
        const dep = tok === "" ? undefined : parseDependency(tok);
        if (dep !== undefined && isPkgPath(dep.location)) enqueue(dep.location);
      }
    }
  };
  for (const p of wanted) enqueue(p);
  const size = batchSize(pending.length, o.pool.list().length, o.batch);
  for (let i = 0; i < pending.length; i += size) paths[planner.add()] = pending.slice(i, i + size);
  pending = undefined;
  let failed = 0;
  const total = (): number => seen.size;
  const progress = (): void => {
    o.bus.emit({ type: "scan-progress", done: results.size + failed, total: total(), failed });
  };
  progress();

  type Scanned = { records: ScanRecord[]; query: string | null } | { error: string };
  /** What one directory's make run gave, as records or an error. */
  const outcomeOf = (
    pkgpath: string,
    out: { status: number; output: Buffer; stderr: Buffer },
    root: string,
  ): Scanned => {
    const mk = `${root}/${scanMkName()}`;
    const split = o.distfiles === true ? splitScanOutput(out.output) : null;
    const framed = frameScanOutput(split?.records ?? out.output, pkgpath, new Set());
    const parsed = out.status === 0 ? parse(framed, pkgpath) : undefined;
    if (parsed === undefined || !parsed.ok) {
      const why =
        parsed === undefined ? `exit ${out.status}: ${lastLines(out.stderr)}` : parsed.message;
      return { error: why };
    }
    // SCAN_DEPENDS names files by the host's tree path: say them as the master's tree
    // does, so a scan is the same whichever host made it.
    const hostTree = `${root}/${HOST.tree}`;
    const records = parsed.records.map((rec) =>
      rebaseScanDepends(split === null ? rec : withoutScanDepend(rec, mk), [hostTree], o.tree),
    );
    // Asked and not answered (the make run ended before herd-distfiles): "" (the fetch stage asks).
    const query = split === null ? null : rebaseQuery(split.query ?? "", hostTree, o.tree);
    return { records, query };
  };
  await dispatchLoop<Scanned[]>({
    pool: o.pool,
    planner,
    now: () => performance.now() / 1000,
    label: (t) => `scan ${paths[t]!.join(" ")}`,
    run: async (t, lease) => {
      const dirs = paths[t]!;
      const argv =
        o.distfiles === true
          ? scanArgv(o.make, `${lease.root}/${scanMkName()}`)
          : [o.make, "pbulk-index"];
      const nonce = batchNonce();
      const r = await lease.run({
        argv: dirs.length === 1 ? argv : batchArgv(dirs, argv, nonce),
        cwd: dirs.length === 1 ? `${HOST.tree}/${dirs[0]!}` : HOST.tree,
        // No BATCH: pbulk-scan sets none, and with it 2013's bsd.pkg.mk reads one more
        // file (mk/bulk/bsd.bulk-pkg.mk), so SCAN_DEPENDS would differ from pbulk's.
        env: Object.fromEntries(env),
        output: "split",
      });
      if (!r.ok) {
        if (r.error.reason === "lost") return { kind: "lost", reason: r.error.message };
        return { kind: "failed", value: dirs.map(() => ({ error: r.error.message })) };
      }
      const out = r.value;
      if (dirs.length === 1) return { kind: "ok", value: [outcomeOf(dirs[0]!, out, lease.root)] };
      const parts = splitBatch(out.output, out.stderr, nonce, dirs.length);
      return {
        kind: "ok",
        value: dirs.map((d, i) => {
          const part = parts[i];
          return part === undefined
            ? { error: `the batch's shell ended early (exit ${out.status})` }
            : outcomeOf(d, part, lease.root);
        }),
      };
    },
    settled: (t, host, outcome) => {
      if (outcome.kind !== "ok" && outcome.kind !== "failed") return;
      paths[t]!.forEach((pkgpath, i) => {
        const one = outcome.value[i];
        if (one !== undefined && "records" in one) {
          const { records, query } = one;
          results.set(pkgpath, records);
          if (query !== null && query !== "") {
            queries.set(pkgpath, query);
            o.onQuery?.(pkgpath, query, records);
          }
          o.wd.store.putScan(
            pkgpath,
            digests.of(pkgpath, records),
            Buffer.concat(records.map((rec) => rec.raw)),
            query,
          );
          follow(records);
        } else if (one !== undefined) {
          failed++;
          o.bus.emit({ type: "scan-error", pkgpath, host, message: one.error });
        }
      });
      progress();
    },
    idleTimeoutMs: 10 * 60_000,
    noHosts: (hosts) =>
      hosts.some(mayWork)
        ? new UserError(
            "hosts",
            "no build host came up within 10 minutes",
            "check that the hosts can run the agent",
          )
        : new UserError(
            "hosts",
            "no build host is usable for the scan",
            "check the hosts with herd hosts list, or see the log lines above",
          ),
  });
  // pbulk keeps the first record of a PKGNAME (multi-version directories repeat some).
  const out: ScanRecord[] = [];
  const names = new Set<string>();
  for (const p of [...results.keys()].sort()) {
    for (const r of results.get(p)!) {
      if (names.has(r.pkgname)) continue;
      names.add(r.pkgname);
      out.push(r);
    }
  }
  if (out.length === 0)
    throw new UserError(
      "scan",
      "the scan found no packages",
      "check --tree and --pkgs, and the scan errors above",
    );
  return { records: out, distfiles: queries };
}

/** Drops the scan's own makefile from SCAN_DEPENDS: pbulk's scan does not read it. */
function withoutScanDepend(rec: ScanRecord, mk: string): ScanRecord {
  const deps = rec.get("SCAN_DEPENDS");
  if (deps === undefined) return rec;
  const words = deps.split(" ");
  const kept = words.filter((w) => w !== mk);
  return kept.length === words.length ? rec : withField(rec, "SCAN_DEPENDS", kept.join(" "));
}

function parse(
  buf: Buffer,
  pkgpath: string,
): { ok: true; records: ScanRecord[] } | { ok: false; message: string } {
  const p = new RecordParser(`scan of ${pkgpath}`, { dropDuplicates: true });
  p.push(buf);
  const r = p.end();
  if (!r.ok) return { ok: false, message: formatErrorText(r.error) };
  for (const rec of r.records) {
    if (rec.get("PKG_LOCATION") !== pkgpath)
      return {
        ok: false,
        message: `record ${rec.pkgname} claims PKG_LOCATION ${rec.get("PKG_LOCATION") ?? "?"}`,
      };
  }
  return { ok: true, records: r.records };
}

/** The last lines of a failed scan's stderr, where make says what went wrong (the very last is "Fatal errors encountered"). */
function lastLines(b: Buffer): string {
  const lines = b
    .toString("utf8")
    .trim()
    .split("\n")
    .filter((l) => l.trim() !== "");
  return lines.slice(-3).join(" / ").slice(0, 400);
}
