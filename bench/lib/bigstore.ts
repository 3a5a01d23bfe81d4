/**
 * A full-size synthetic bulk build in a Store, for benchmarks and tests of
 * what reads a finished build (the report, the dashboard): the packages of a
 * real presolve (or a generated tree), pbulk's plan (skipped, failed before
 * building, unresolved, indirect), a share of the buildable packages failing
 * in one of their stages with a reason and logs, their dependents
 * indirect-failed, the rest built on a pool of host slots with one stage row
 * per target, as a real build records them. Deterministic for a given seed.
 */
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { topoOrder } from "../../src/core/classify.js";
import { TaskHeap } from "../../src/core/sched/heap.js";
import { DEFAULT_TARGETS, MASTER_STAGES } from "../../src/core/targets.js";
import type { PackageRow, Store } from "../../src/store/store.js";
import { DATA_2026 } from "../../tests/lib/paths.js";

/** The real full-tree presolve (29,022 packages). */
export const PRESOLVE_2026 = join(DATA_2026, "presolve.zst");

/** What a presolve record says of a package, as far as a build's outcome goes. */
export interface BigPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly maintainer: string;
  /** PKGNAMEs it needs (pbulk-resolve's DEPENDS). */
  readonly depends: readonly string[];
  readonly skipReason: string;
  readonly failReason: string;
  /** A dependency matched nothing (pbulk-resolve left DEPENDS out). */
  readonly unresolved: boolean;
}

export interface BigBuildOptions {
  readonly packages: readonly BigPackage[];
  /** Chance that a package whose dependencies all built fails itself (default 0.05); fewer for packages many others need. */
  readonly failRate?: number;
  /** Build hosts (default 16) and slots per host (default 2). */
  readonly hosts?: number;
  readonly slots?: number;
  readonly seed?: number;
  /**
   * Where stage logs go (DIR/PKGNAME/STAGE.log, as a build's work/logs): every
   * stage row names its log, but only the failed packages' logs are written
   * (a real build writes all; the report reads only those). Without it, no logs.
   */
  readonly logDir?: string;
  /** When the build started (default 2026-01-01T00:00Z). */
  readonly startMs?: number;
  /** Also store an earlier build of the tree, its outcomes a little different, so there are changes to report. */
  readonly previous?: boolean;
  /** PKGNAMEs that fail whenever they are tried (in the build stage), besides the random ones. */
  readonly mustFail?: ReadonlySet<string>;
  /** How many scan-error events to record (default 3). */
  readonly scanErrors?: number;
}

export interface BigBuild {
  readonly buildId: number;
  readonly previousId: number | null;
  /** PKGNAME → the PKGNAMEs it needs: reportModel's `depends`. */
  readonly depends: ReadonlyMap<string, readonly string[]>;
  readonly startedMs: number;
  readonly finishedMs: number;
  /** Packages per final state. */
  readonly counts: Readonly<Record<string, number>>;
  /** Packages the build tried and saw fail in a stage. */
  readonly stageFailed: readonly string[];
  readonly stageRows: number;
  readonly logFiles: number;
}

/** Reads the packages of a presolve file (plain or zstd-compressed; needs zstd and grep). */
export function readPresolvePackages(file = PRESOLVE_2026): BigPackage[] {
  const text = execFileSync(
    "sh",
    [
      "-c",
      'zstd -dcqf -- "$1" | grep -E "^(PKGNAME|PKG_LOCATION|MAINTAINER|PKG_SKIP_REASON|PKG_FAIL_REASON|DEPENDS)="',
      "sh",
      file,
    ],
    { encoding: "latin1", maxBuffer: 1 << 30 },
  );
  const out: BigPackage[] = [];
  let cur: { -readonly [K in keyof BigPackage]: BigPackage[K] } | null = null;
  for (const line of text.split("\n")) {
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === "PKGNAME") {
      if (cur !== null) out.push(cur);
      cur = {
        pkgname: value,
        pkgpath: "",
        maintainer: "",
        depends: [],
        skipReason: "",
        failReason: "",
        unresolved: true,
      };
    } else if (cur !== null) {
      if (key === "PKG_LOCATION") cur.pkgpath = value;
      else if (key === "MAINTAINER") cur.maintainer = value;
      else if (key === "PKG_SKIP_REASON") cur.skipReason = value;
      else if (key === "PKG_FAIL_REASON") cur.failReason = value;
      else if (key === "DEPENDS") {
        cur.depends = value.split(" ").filter((d) => d !== "");
        cur.unresolved = false;
      }
    }
  }
  if (cur !== null) out.push(cur);
  // pbulk-resolve leaves DEPENDS out only when a dependency matched nothing, and then says so.
  return out.map((p) => ({ ...p, unresolved: p.unresolved && p.failReason !== "" }));
}

const CATEGORIES = ["devel", "lang", "textproc", "net", "graphics", "x11", "www", "databases"];

/**
 * A made-up tree of `n` packages: a few core packages many depend on, the
 * rest depending on a handful of earlier ones; some skipped, some with a
 * PKG_FAIL_REASON, one with a dependency that resolves to nothing.
 */
export function syntheticPackages(n: number, seed = 1): BigPackage[] {
  const rand = prng(seed);
  const core = Math.max(1, Math.floor(n / 50));
  const names: string[] = [];
  const out: BigPackage[] = [];
  for (let i = 0; i < n; i++) {
    const name = `pkg${i}-1.${i % 7}`;
    names.push(name);
    const deps = new Set<string>();
    const k = i === 0 ? 0 : Math.floor(rand() * 6);
    for (let j = 0; j < k; j++) {
      const d = rand() < 0.5 ? Math.floor(rand() * Math.min(i, core)) : Math.floor(rand() * i);
      deps.add(names[d]!);
    }
    // The core packages are neither skipped nor broken: pkgsrc keeps those building.
    const r = i < core ? 1 : rand();
    out.push({
      pkgname: name,
      pkgpath: `${CATEGORIES[i % CATEGORIES.length]!}/pkg${i}`,
      maintainer: rand() < 0.5 ? "pkgsrc-users@NetBSD.org" : `m${i % 40}@example.org`,
      depends: [...deps],
      skipReason: r < 0.04 ? "not for this platform" : "",
      failReason: r >= 0.04 && r < 0.047 ? `${name} is marked broken` : "",
      unresolved: i === n - 1,
    });
  }
  return out;
}

type Fate =
  | { readonly state: "skipped" | "failed" | "unresolved"; readonly reason: string }
  | { readonly state: "indirect-skipped" | "indirect-failed"; readonly culprit: number }
  | { readonly state: "build"; readonly fail: string | null };

/** Stores a finished synthetic build (and, with `previous`, an earlier one first). */
export function fillBigBuild(store: Store, opts: BigBuildOptions): BigBuild {
  const pkgs = opts.packages;
  const n = pkgs.length;
  const rand = prng(opts.seed ?? 1);
  const index = new Map(pkgs.map((p, i) => [p.pkgname, i]));
  const deps = pkgs.map((p) =>
    p.depends.map((d) => index.get(d)).filter((d): d is number => d !== undefined),
  );
  const dependents: number[][] = pkgs.map(() => []);
  deps.forEach((ds, i) => {
    for (const d of ds) dependents[d]!.push(i);
  });
  const fates = decideFates(pkgs, deps, dependents, opts, rand);
  const startMs = opts.startMs ?? Date.UTC(2026, 0, 1);
  const previousId =
    opts.previous === true ? storePrevious(store, pkgs, fates, startMs, rand) : null;
  const buildId = store.startBuild("/usr/pkgsrc", "2026Q1-synthetic", startMs);
  const times = schedule(deps, dependents, fates, opts, rand, startMs);
  const rows: PackageRow[] = [];
  const counts: Record<string, number> = {};
  const stageFailed: string[] = [];
  let stageRows = 0;
  let logFiles = 0;
  let finishedMs = startMs;
  store.tx(() => {
    for (let i = 0; i < n; i++) {
      const p = pkgs[i]!;
      const f = fates[i]!;
      const t = times[i];
      const base = {
        pkgname: p.pkgname,
        pkgpath: p.pkgpath,
        reason: "",
        culprit: null,
        failedStage: null,
        host: null,
        startedMs: null,
        finishedMs: null,
        sha256: null,
        size: null,
        inputs: digest(p.pkgname + p.depends.join(" ")),
        maintainer: p.maintainer,
        dependents: dependents[i]!.length,
      };
      let row: PackageRow;
      if (f.state === "build") {
        if (t === undefined) throw new Error(`${p.pkgname} was to be built but has no run`);
        finishedMs = Math.max(finishedMs, t.endMs);
        const reason = f.fail === null ? "" : failReason(p.pkgname, f.fail, rand);
        const stages = stagePlan(t, f.fail, rand);
        for (const s of stages) {
          const log =
            opts.logDir === undefined ? null : join(opts.logDir, p.pkgname, `${s.stage}.log`);
          store.recordStage(buildId, {
            pkgname: p.pkgname,
            pkgpath: p.pkgpath,
            stage: s.stage,
            host: t.host,
            startedMs: s.startedMs,
            wallMs: s.wallMs,
            status: s.status,
            log,
          });
          stageRows++;
          if (log !== null && f.fail !== null) {
            mkdirSync(join(opts.logDir!, p.pkgname), { recursive: true });
            writeFileSync(log, stageLog(p.pkgname, s.stage, s.status, reason, rand));
            logFiles++;
          }
        }
        row =
          f.fail === null
            ? {
                ...base,
                state: "built",
                host: t.host,
                startedMs: t.startMs,
                finishedMs: t.endMs,
                sha256: digest(p.pkgname) + digest(p.pkgpath),
                size: Math.round(20_000 + rand() * 5_000_000),
              }
            : {
                ...base,
                state: "failed",
                host: t.host,
                startedMs: t.startMs,
                finishedMs: t.endMs,
                failedStage: f.fail,
                reason,
              };
        if (f.fail !== null) stageFailed.push(p.pkgname);
      } else if ("culprit" in f) {
        row = { ...base, state: f.state, culprit: pkgs[f.culprit]!.pkgname };
      } else {
        row = { ...base, state: f.state, reason: f.reason };
      }
      counts[row.state] = (counts[row.state] ?? 0) + 1;
      rows.push(row);
    }
    store.insertPackages(buildId, rows);
    for (let k = 0; k < (opts.scanErrors ?? 3); k++)
      store.appendEvent(buildId, startMs + k, "scan-error", {
        pkgpath: `wip/broken${k}`,
        host: "build01",
        message: `bmake: "/usr/pkgsrc/wip/broken${k}/Makefile" line ${12 + k}: Malformed conditional (\${OPSYS} == )`,
      });
  });
  finishedMs += 60_000;
  store.finishBuild(buildId, finishedMs, "done");
  const depends = new Map(pkgs.map((p, i) => [p.pkgname, deps[i]!.map((d) => pkgs[d]!.pkgname)]));
  return {
    buildId,
    previousId,
    depends,
    startedMs: startMs,
    finishedMs,
    counts,
    stageFailed,
    stageRows,
    logFiles,
  };
}

/** pbulk's plan (as src/core/classify.ts decides it), then who fails among the packages tried. */
function decideFates(
  pkgs: readonly BigPackage[],
  deps: readonly (readonly number[])[],
  dependents: readonly (readonly number[])[],
  opts: BigBuildOptions,
  rand: () => number,
): Fate[] {
  const failRate = opts.failRate ?? 0.05;
  const fates = new Array<Fate>(pkgs.length);
  for (const i of topoOrder(deps)) {
    const p = pkgs[i]!;
    if (p.skipReason !== "") fates[i] = { state: "skipped", reason: p.skipReason };
    else if (p.unresolved)
      fates[i] = { state: "unresolved", reason: p.failReason || "could not resolve a dependency" };
    else if (p.failReason !== "") fates[i] = { state: "failed", reason: p.failReason };
    else {
      let fail = -1;
      let skip = -1;
      for (const d of deps[i]!) {
        const f = fates[d]!;
        const root = "culprit" in f ? f.culprit : d;
        const broken =
          f.state === "failed" ||
          f.state === "unresolved" ||
          f.state === "indirect-failed" ||
          (f.state === "build" && f.fail !== null);
        if (broken && fail < 0) fail = root;
        if ((f.state === "skipped" || f.state === "indirect-skipped") && skip < 0) skip = root;
      }
      if (fail >= 0) fates[i] = { state: "indirect-failed", culprit: fail };
      else if (skip >= 0) fates[i] = { state: "indirect-skipped", culprit: skip };
      else {
        // What many packages need is fixed quickly in pkgsrc: it rarely fails.
        const needed = dependents[i]!.length;
        const rate = needed <= 3 ? failRate : needed <= 30 ? failRate / 4 : failRate / 20;
        const fails = rand() < rate;
        const must = opts.mustFail?.has(p.pkgname) === true;
        fates[i] = { state: "build", fail: must ? "build" : fails ? pickStage(rand) : null };
      }
    }
  }
  return fates;
}

/** Where builds fail, roughly as bulk builds see it. */
const FAIL_STAGES: readonly (readonly [string, number])[] = [
  ["build", 0.55],
  ["configure", 0.18],
  ["fetch", 0.07],
  ["Package", 0.06],
  ["Depends", 0.04],
  ["patch", 0.03],
  ["checksum", 0.03],
  ["extract", 0.02],
  ["Vars", 0.01],
  ["Init", 0.01],
];

function pickStage(rand: () => number): string {
  let r = rand();
  for (const [stage, p] of FAIL_STAGES) if ((r -= p) < 0) return stage;
  return "build";
}

interface Run {
  readonly host: string;
  readonly startMs: number;
  readonly endMs: number;
}

/**
 * When and where each package tried ran: greedy list scheduling on
 * hosts × slots, the package ready first going to the slot free first.
 */
function schedule(
  deps: readonly (readonly number[])[],
  dependents: readonly (readonly number[])[],
  fates: readonly Fate[],
  opts: BigBuildOptions,
  rand: () => number,
  startMs: number,
): (Run | undefined)[] {
  const n = deps.length;
  const hosts = opts.hosts ?? 16;
  const slots = opts.slots ?? 2;
  const tried = (i: number): boolean => fates[i]!.state === "build";
  const ready = new Float64Array(n).fill(startMs);
  const prio = new Float64Array(n);
  const tie = new Float64Array(n);
  const heap = new TaskHeap(n, prio, tie);
  const pending = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    if (!tried(i)) continue;
    pending[i] = deps[i]!.length;
    if (pending[i] === 0) heap.push(i);
  }
  const free = new Float64Array(hosts * slots).fill(startMs);
  const runs = new Array<Run | undefined>(n);
  while (heap.size > 0) {
    const i = heap.pop();
    let lane = 0;
    for (let l = 1; l < free.length; l++) if (free[l]! < free[lane]!) lane = l;
    const start = Math.max(free[lane]!, ready[i]!) + Math.round(rand() * 2000);
    const end = start + packageMs(rand);
    free[lane] = end;
    runs[i] = {
      host: `build${String(Math.floor(lane / slots) + 1).padStart(2, "0")}`,
      startMs: start,
      endMs: end,
    };
    const f = fates[i]!;
    if (f.state === "build" && f.fail !== null) continue;
    for (const c of dependents[i]!) {
      if (!tried(c)) continue;
      ready[c] = Math.max(ready[c]!, end);
      if (--pending[c]! === 0) {
        // Max-heap: the earliest ready first.
        prio[c] = -ready[c];
        heap.push(c);
      }
    }
  }
  return runs;
}

/** A package's wall time: log-normal, median 90 s, a long tail capped at 12 h. */
function packageMs(rand: () => number): number {
  const z = Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  return Math.round(Math.min(12 * 3600_000, 90_000 * Math.exp(1.3 * z)));
}

/** Share of a package's time per stage (herd's master stages take next to none). */
const STAGE_SHARE: Readonly<Record<string, number>> = {
  Init: 0.02,
  Clean: 0.01,
  Vars: 0.02,
  Depends: 0.08,
  fetch: 0.02,
  checksum: 0.01,
  extract: 0.03,
  patch: 0.01,
  configure: 0.15,
  build: 0.55,
  Package: 0.1,
};

function stagePlan(
  run: Run,
  fail: string | null,
  rand: () => number,
): { stage: string; startedMs: number; wallMs: number; status: number }[] {
  const total = run.endMs - run.startMs;
  const out: { stage: string; startedMs: number; wallMs: number; status: number }[] = [];
  let t = run.startMs;
  for (const stage of DEFAULT_TARGETS) {
    const wallMs = MASTER_STAGES.has(stage)
      ? Math.round(rand() * 3)
      : Math.round(total * (STAGE_SHARE[stage] ?? 0));
    const failed = stage === fail;
    out.push({ stage, startedMs: t, wallMs, status: failed ? 1 : 0 });
    t += wallMs;
    if (failed) break;
  }
  return out;
}

const ERRORS = [
  (f: string) =>
    `${f}.c:100:5: error: implicit declaration of function 'strlcpy' [-Wimplicit-function-declaration]`,
  (f: string) => `${f}.cpp:42:10: fatal error: boost/asio.hpp: No such file or directory`,
  (f: string) => `ld: ${f}.o: undefined reference to 'major'`,
  (f: string) => `${f}.rs:17:9: error[E0599]: no method named \`as_str\` found`,
  (f: string) => `${f}.go:8:2: cannot find package "golang.org/x/sys/unix"`,
];

function failReason(pkgname: string, stage: string, rand: () => number): string {
  const base = pkgname.replace(/-[^-]*$/, "");
  switch (stage) {
    case "fetch":
      return `could not fetch ${base}-src.tar.gz: https://ftp.NetBSD.org/pub/pkgsrc/distfiles/${base}-src.tar.gz: HTTP 404; https://example.org/dist/${base}-src.tar.gz: connection refused`;
    case "checksum":
      return `checksum failed (exit 1): => Checksum SHA512 mismatch for ${base}-src.tar.gz`;
    case "configure":
      return `configure failed (exit 1): configure: error: Package requirements (glib-2.0 >= 2.80) were not met`;
    case "Depends":
      return `Depends failed (exit 1): pkg_add: no pkg found for 'gettext-lib>=0.22', sorry.`;
    case "Package":
      return `Package failed (exit 1): pkg_create: can't stat 'share/doc/${base}/README'`;
    case "build":
      return `build failed (exit 1): ${ERRORS[Math.floor(rand() * ERRORS.length)]!(`src/${base}`)}`;
    default:
      return `${stage} failed (exit 1): ${base}: ${stage} went wrong`;
  }
}

/** A stage's log: a few lines, or for the failed stage a compiler's worth ending in the error. */
function stageLog(
  pkgname: string,
  stage: string,
  status: number,
  reason: string,
  rand: () => number,
): string {
  const head = `===> ${stage} for ${pkgname}\n`;
  if (status === 0)
    return head + `=> ${stage}: nothing to report\n`.repeat(1 + Math.floor(rand() * 20));
  const lines = Math.round(
    Math.min(
      40_000,
      100 * Math.exp(1.5 * Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand())),
    ),
  );
  const body: string[] = [head];
  for (let k = 0; k < lines; k++)
    body.push(`cc -O2 -pipe -I/usr/pkg/include -c src/file${k}.c -o src/file${k}.o\n`);
  body.push(reason + "\n", "*** Error code 1\n\nStop.\n");
  return body.join("");
}

function digest(s: string): string {
  return createHash("sha256").update(s).digest("hex").slice(0, 32);
}

/** An earlier build of the same tree: some packages new since, some fixed, some newly failing. */
function storePrevious(
  store: Store,
  pkgs: readonly BigPackage[],
  fates: readonly Fate[],
  startMs: number,
  rand: () => number,
): number {
  const t0 = startMs - 7 * 86_400_000;
  const id = store.startBuild("/usr/pkgsrc", "2025Q4-synthetic", t0);
  const rows: PackageRow[] = [];
  pkgs.forEach((p, i) => {
    // One in a hundred is new in this build.
    if (rand() < 0.01) return;
    const f = fates[i]!;
    let state: PackageRow["state"] =
      f.state === "build" ? (f.fail === null ? "built" : "failed") : f.state;
    if (state === "failed" && f.state === "build" && rand() < 0.1) state = "built";
    else if (state === "built" && rand() < 0.005) state = "failed";
    rows.push({
      pkgname: p.pkgname,
      pkgpath: p.pkgpath,
      state,
      reason: state === "failed" ? "build failed (exit 1)" : "",
      culprit: null,
      failedStage: state === "failed" ? "build" : null,
      host: null,
      startedMs: null,
      finishedMs: null,
      sha256: null,
      size: null,
      inputs: "",
      maintainer: p.maintainer,
      dependents: 0,
    });
  });
  store.insertPackages(id, rows);
  store.finishBuild(id, startMs - 86_400_000, "done");
  return id;
}

/** mulberry32: a small seeded generator, so a build is the same every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
