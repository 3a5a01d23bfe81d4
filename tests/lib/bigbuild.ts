/**
 * The events of a large bulk build, made up but shaped as `herd build`
 * writes them (src/bulk/build.ts, loop.ts): hosts joining, the plan, then
 * per package a package-start, one stage event per target and the master's
 * Fetch, a package-end and a progress event; a failure fails its dependents
 * indirectly. A small list scheduler plays the packages on the hosts in
 * virtual time, so as many run at once as the dependencies allow. For the
 * dashboard's large-build test and bench/dashboard.ts; seeded, so a run is
 * repeatable.
 */
import { DEFAULT_TARGETS } from "../../src/core/targets.js";
import type { BuildEvent } from "../../src/events/types.js";
import type { Store } from "../../src/store/store.js";
import { seededRandom } from "../../src/core/sim/jitter.js";

export interface BigPackage {
  readonly pkgname: string;
  readonly pkgpath: string;
  /** Indices of the packages it needs built first. */
  readonly deps: readonly number[];
}

export interface BigBuildOptions {
  readonly buildId: number;
  readonly hosts: number;
  /** About this share of the packages fails (chosen among those few others need). */
  readonly failRate: number;
  readonly seed: number;
  /** The plan's verdicts on the packages not in the list (skipped, failed before building, ...). */
  readonly planExtra?: Readonly<Record<string, number>>;
}

export interface TimedEvent {
  /** Milliseconds from the build's start. */
  readonly t: number;
  readonly e: BuildEvent;
}

export interface BigBuild {
  /** Every event of the whole build, in time order. */
  readonly events: readonly TimedEvent[];
  readonly hostNames: readonly string[];
  readonly failed: number;
  readonly indirect: number;
}

const STAGES = [...DEFAULT_TARGETS, "Fetch"];
/** How a package's time splits over its stages (build and configure take most). */
const STAGE_WEIGHT: Readonly<Record<string, number>> = {
  SyncPkgsrcTree: 0.2,
  Init: 0.5,
  Clean: 0.3,
  Available: 0.1,
  Excluded: 0.1,
  Vars: 1,
  Depends: 6,
  fetch: 1,
  checksum: 0.3,
  extract: 1.5,
  patch: 0.5,
  configure: 15,
  build: 60,
  Package: 5,
  Fetch: 1,
};
const WEIGHT_SUM = STAGES.reduce((a, s) => a + (STAGE_WEIGHT[s] ?? 1), 0);
const FAIL_STAGES = ["configure", "build", "build", "build", "Package", "Depends", "fetch"];

/** mulberry32, seeded: the simulator's own generator (src/core/sim/jitter.ts). */
export const prng = seededRandom;

/** A min-heap of [time, value] pairs. */
class Heap {
  readonly #a: [number, number][] = [];
  get size(): number {
    return this.#a.length;
  }
  push(k: number, v: number): void {
    const a = this.#a;
    a.push([k, v]);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p]![0] <= a[i]![0]) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }
  pop(): [number, number] | undefined {
    const a = this.#a;
    const top = a[0];
    const last = a.pop();
    if (top === undefined || last === undefined || a.length === 0) return top;
    a[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < a.length && a[l]![0] < a[m]![0]) m = l;
      if (r < a.length && a[r]![0] < a[m]![0]) m = r;
      if (m === i) break;
      [a[m], a[i]] = [a[i]!, a[m]!];
      i = m;
    }
    return top;
  }
}

/** Plays the whole build; the events come back in time order. */
export function simulateBuild(pkgs: readonly BigPackage[], o: BigBuildOptions): BigBuild {
  const rnd = prng(o.seed);
  const n = pkgs.length;
  const dependents: number[][] = pkgs.map(() => []);
  pkgs.forEach((p, i) => {
    for (const d of p.deps) dependents[d]!.push(i);
  });
  // Failures among packages few others need, so indirect failures stay a fraction of the tree.
  const candidates = dependents.filter((d) => d.length <= 3).length;
  const pFail = Math.min(1, (o.failRate * n) / Math.max(1, candidates));
  const fails = dependents.map((d) => d.length <= 3 && rnd() < pFail);

  const out: { t: number; k: number; e: BuildEvent }[] = [];
  let k = 0;
  const at = (t: number, e: BuildEvent): void => {
    out.push({ t, k: k++, e });
  };
  const hostNames = Array.from({ length: o.hosts }, (_, i) => `b${String(i + 1).padStart(3, "0")}`);
  at(0, {
    type: "build-start",
    build: o.buildId,
    tree: "/usr/pkgsrc",
    treeId: "bench",
    resumed: false,
    targets: DEFAULT_TARGETS,
  });
  at(0, { type: "phase", phase: "sync" });
  hostNames.forEach((h, i) => {
    at(i, { type: "host", host: h, state: "connecting" });
    at(500 + i * 3, { type: "host", host: h, state: "syncing" });
    at(20_000 + i * 7, { type: "host", host: h, state: "idle" });
  });
  at(30_000, { type: "phase", phase: "scan" });
  at(40_000, { type: "phase", phase: "resolve" });
  at(41_000, { type: "phase", phase: "plan" });
  at(42_000, {
    type: "plan",
    counts: {
      build: n,
      "up-to-date": 0,
      skipped: 0,
      failed: 0,
      "indirect-skipped": 0,
      "indirect-failed": 0,
      unresolved: 0,
      ...o.planExtra,
    },
    packages: n,
  });
  const t0 = 43_000;
  at(t0, { type: "phase", phase: "build" });

  const remaining = pkgs.map((p) => p.deps.length);
  const settled = new Uint8Array(n);
  const ready: number[] = [];
  pkgs.forEach((_, i) => {
    if (remaining[i] === 0) ready.push(i);
  });
  const free = [...hostNames.keys()].reverse();
  const finishing = new Heap();
  const hostOf = new Int32Array(n);
  const startedAt = new Float64Array(n);
  const failedStage = new Map<number, string>();
  let now = t0;
  let done = 0;
  let running = 0;
  let failed = 0;
  let indirect = 0;
  const progress = (): void => {
    at(now, {
      type: "progress",
      done,
      total: n,
      running,
      etaSeconds: Math.round(((n - done) * 400) / o.hosts),
    });
  };
  const start = (i: number, h: number): void => {
    const p = pkgs[i]!;
    const host = hostNames[h]!;
    hostOf[i] = h;
    startedAt[i] = now;
    running++;
    at(now, { type: "package-start", pkgname: p.pkgname, pkgpath: p.pkgpath, host, slot: 1 });
    // Log-normal durations: half the packages under 5 minutes, a few for hours.
    const normal = Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
    const total = Math.min(6 * 3600_000, Math.max(20_000, 300_000 * Math.exp(1.1 * normal)));
    const failAt = fails[i] === true ? FAIL_STAGES[Math.floor(rnd() * FAIL_STAGES.length)] : null;
    let t = now;
    for (const stage of STAGES) {
      const wallMs = Math.round((total * (STAGE_WEIGHT[stage] ?? 1)) / WEIGHT_SUM);
      t += wallMs;
      const status = stage === failAt ? 1 : 0;
      at(t, { type: "stage", pkgname: p.pkgname, host, stage, status, wallMs });
      if (status !== 0) {
        failedStage.set(i, stage);
        break;
      }
    }
    finishing.push(t + 5, i);
  };
  const fill = (): void => {
    while (free.length > 0 && ready.length > 0) start(ready.pop()!, free.pop()!);
  };
  fill();
  for (let next = finishing.pop(); next !== undefined; next = finishing.pop()) {
    const [t, i] = next;
    now = t;
    const p = pkgs[i]!;
    const host = hostNames[hostOf[i]!]!;
    running--;
    done++;
    settled[i] = 1;
    free.push(hostOf[i]!);
    if (fails[i] === true) {
      failed++;
      const failStage = failedStage.get(i) ?? "build";
      at(now, {
        type: "package-end",
        pkgname: p.pkgname,
        pkgpath: p.pkgpath,
        host,
        result: "failed",
        stage: failStage,
        reason: `${failStage} failed (exit 1): ${p.pkgpath.split("/")[1] ?? "x"}.c:${1 + (i % 900)}: error: unknown type name 'u_int${i % 64}_t'`,
        wallMs: Math.round(now - startedAt[i]!),
      });
      const stack = [...dependents[i]!];
      while (stack.length > 0) {
        const d = stack.pop()!;
        if (settled[d] === 1) continue;
        settled[d] = 1;
        indirect++;
        done++;
        at(now, { type: "indirect-failed", pkgname: pkgs[d]!.pkgname, culprit: p.pkgname });
        stack.push(...dependents[d]!);
      }
    } else {
      at(now, {
        type: "package-end",
        pkgname: p.pkgname,
        pkgpath: p.pkgpath,
        host,
        result: "built",
        wallMs: Math.round(now - startedAt[i]!),
      });
      for (const d of dependents[i]!) {
        remaining[d]!--;
        if (remaining[d] === 0 && settled[d] === 0) ready.push(d);
      }
    }
    fill();
    progress();
  }
  out.sort((a, b) => a.t - b.t || a.k - b.k);
  return { events: out.map(({ t, e }) => ({ t, e })), hostNames, failed, indirect };
}

/**
 * Splits the events at the moment `settled` packages have been built or
 * failed (indirect failures not counted): what a store holds then, and what
 * comes after.
 */
export function cutAtSettled(
  events: readonly TimedEvent[],
  settled: number,
): { head: readonly TimedEvent[]; tail: readonly TimedEvent[] } {
  let ends = 0;
  let i = 0;
  for (; i < events.length && ends < settled; i++) {
    const e = events[i]!.e;
    if (e.type === "package-end" && e.result !== "lost") ends++;
  }
  // Everything at that same instant goes with it (its progress and indirect failures).
  const t = i > 0 ? events[i - 1]!.t : 0;
  while (i < events.length && events[i]!.t <= t) i++;
  return { head: events.slice(0, i), tail: events.slice(i) };
}

/** Appends events to a store as `herd build` does, `baseMs` + t as their time, in transactions. */
export function appendEvents(
  store: Store,
  buildId: number,
  events: readonly TimedEvent[],
  baseMs: number,
): void {
  for (let i = 0; i < events.length; i += 20_000)
    store.tx(() => {
      for (const { t, e } of events.slice(i, i + 20_000))
        store.appendEvent(buildId, baseMs + t, e.type, e);
    });
}

/** A made-up tree of `n` packages: a few base packages most others need, chains between. */
export function syntheticTree(n: number, seed = 1): BigPackage[] {
  const rnd = prng(seed);
  const cats = ["devel", "lang", "net", "www", "textproc", "graphics", "audio", "math"];
  const pkgs: BigPackage[] = [];
  for (let i = 0; i < n; i++) {
    const deps = new Set<number>();
    if (i >= 5) {
      deps.add(Math.floor(rnd() * 5));
      const more = Math.floor(rnd() * 3);
      for (let j = 0; j < more; j++) deps.add(Math.floor(rnd() * i));
    }
    const cat = cats[i % cats.length]!;
    pkgs.push({ pkgname: `pkg${i}-1.${i % 10}`, pkgpath: `${cat}/pkg${i}`, deps: [...deps] });
  }
  return pkgs;
}
