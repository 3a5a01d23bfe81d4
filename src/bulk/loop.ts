/**
 * The build phase: the scheduler decides what runs where, the pool runs it.
 * Packages whose host is lost go back to the queue; a failure marks every
 * dependent indirectly failed; hosts joining or leaving mid-build are
 * picked up from the pool's events. Everything that happens to a package is
 * told as an event on the bus, and only so: the store records it from there.
 */
import { buildTaskGraph } from "../core/sched/graph.js";
import { Scheduler } from "../core/sched/scheduler.js";
import type { PolicyName } from "../core/sched/priority.js";
import type { EventBus } from "../events/types.js";
import type { HostPool, Lease } from "../hosts/pool.js";
import { describeState } from "../hosts/state.js";
import { UserError } from "../cli/errors.js";
import { err, ok } from "../protocol/result.js";
import type { BuildControl } from "./control.js";
import { dispatchLoop, type CopyControl, type Outcome } from "./dispatch.js";
import { EtaForecaster } from "./eta-worker.js";
import { HostCache } from "./host-cache.js";
import { HostCostMeter, installSpace, RememberedFigures } from "./host-costs.js";
import type { HostName } from "../core/hostspec.js";
import { HostHoldings } from "./host-holdings.js";
import { HOST } from "./layout.js";
import {
  commitPackage,
  discardPackage,
  runJob,
  type JobConfig,
  type JobOutcome,
  type JobPackage,
  type KeptPrefix,
} from "./job.js";
import type { SendFailure } from "./prefix.js";
import type { DistCache } from "./distfiles.js";
import { Prefetcher, type PrefetchEntry } from "./prefetch.js";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { DEFAULT_PACKAGE_BYTES } from "../core/sched/startcost.js";
import { basename, join } from "node:path";
import { trace } from "./trace.js";

export interface LoopPackage extends JobPackage {
  /** Indices (into the loop's package list) of the packages to build before it. */
  readonly deps: readonly number[];
  readonly expectedSeconds: number | undefined;
  readonly weight: number | undefined;
}

export interface LoopOptions {
  readonly pool: HostPool;
  readonly packages: readonly LoopPackage[];
  readonly config: JobConfig;
  readonly policy: PolicyName;
  readonly repo: string;
  readonly logDir: (pkgname: string) => string;
  readonly bus: EventBus;
  /** Seconds on a monotonic clock. */
  readonly now: () => number;
  /**
   * Makes every event emitted so far durable, or throws (the store cannot
   * write: a full disk). A built package enters the repository only after.
   */
  readonly durable: () => void;
  /** The master's distfile cache (distfiles: "master"). */
  readonly distCache?: DistCache;
  /** Per package, the distfiles to fetch ahead of its build (with distCache). */
  readonly prefetch?: readonly (PrefetchEntry | null)[];
  /** Packages whose distfiles are fetched for at once (each file's download is bounded by the cache). */
  readonly prefetchWorkers?: number;
  /** Resolves when the operator asks the build to stop. */
  readonly stop?: Promise<void>;
  /** Where the operator's retry of a failed package comes in. */
  readonly control?: BuildControl;
  /** WORK/sent: what each host was sent, remembered across masters (host-holdings.ts). */
  readonly sentDir?: string;
  /** WORK/host-figures: each host's link speed and install time, remembered across masters. */
  readonly figuresDir?: string;
  /** A built package's file (its name in the repository) has just been moved in. */
  readonly committed?: (file: string) => void;
}

export interface LoopResult {
  readonly built: number;
  readonly failed: number;
  readonly indirect: number;
  readonly stopped: boolean;
}

/** Builds every package of the list on the pool's hosts. */
export async function buildLoop(o: LoopOptions): Promise<LoopResult> {
  const names = o.packages.map((p) => p.pkgname);
  const prefetch = o.distCache === undefined ? undefined : o.prefetch;
  const g = buildTaskGraph(
    names,
    o.packages.map((p) => p.deps),
  );
  if (!g.ok) throw new Error(`build graph: ${g.error.reason}`);
  // Placement counts what each build installs. Sizes of what is up to date come from the
  // repository; those of the packages to build, as they are built.
  const space =
    o.config.transferAware === false
      ? undefined
      : installSpace(o.packages, (name) => {
          try {
            return statSync(join(o.repo, `${name}.tgz`)).size;
          } catch {
            return undefined;
          }
        });
  const sched = new Scheduler(g.graph, {
    policy: o.policy,
    durations: o.packages.map((p) => p.expectedSeconds),
    weights: o.packages.map((p) => p.weight),
    deferRefit: true,
    ...(prefetch === undefined ? {} : { held: prefetch.map((e) => e !== null) }),
    // Placement counts dependency transfers and installs; sizes are learned as packages are built.
    ...(space === undefined
      ? {}
      : {
          transfer: {
            defaultBytes: DEFAULT_PACKAGE_BYTES,
            keepsBuilt: false,
            installs: space.installs,
            bytes: space.bytes,
          },
        }),
  });
  const remembered = o.figuresDir === undefined ? undefined : new RememberedFigures(o.figuresDir);
  for (const [host, figures] of remembered?.all() ?? [])
    sched.setHostCosts(host as HostName, figures);
  const costs = new HostCostMeter(sched, (host, figures) => remembered?.save(host, figures));
  const prefetcher =
    prefetch === undefined || o.distCache === undefined
      ? undefined
      : new Prefetcher(o.distCache, prefetch, sched.priorityOrder());
  // The first forecast arrives from the thread after the first progress event: told at once.
  let onFirstForecast = (): void => undefined;
  const forecaster = new EtaForecaster(
    sched,
    () => prefetcher?.releaseTimes() ?? new Map(),
    () => {
      onFirstForecast();
    },
  );
  // What the loop keeps per host, made when the host first builds.
  const cacheOf = perHost(() => new HostCache<SendFailure>());
  const inUseOf = perHost(() => new Map<string, number>());
  const holdings =
    o.sentDir === undefined || o.config.sharedPackages
      ? undefined
      : new HostHoldings(o.sentDir, o.repo);
  // Connections whose host's cache was looked at.
  const looked = new WeakSet<object>();
  // Once per connection: what the host holds of what an earlier master sent it counts as held.
  // Undefined when there is nothing to look at: the package's first task then goes out in the
  // turn that started it, before the next start of its round (bench/latency.ts).
  const lookAtCache = (lease: Lease): Promise<void> | undefined => {
    if (holdings === undefined || looked.has(lease.conn)) return undefined;
    looked.add(lease.conn);
    if (!holdings.known(lease.host)) return undefined;
    return listCache(lease, holdings);
  };
  const listCache = async (lease: Lease, holdings: HostHoldings): Promise<void> => {
    const r = await lease.run({
      argv: ["ls", "-ln", `${lease.root}/${HOST.cache}`],
      env: { LC_ALL: "C" },
    });
    if (!r.ok || r.value.status !== 0) return;
    const cache = cacheOf(lease.host);
    for (const file of holdings.held(lease.host, r.value.output.toString("latin1"))) {
      const name = file.slice(0, -".tgz".length);
      cache.mark(name);
      const id = space?.ids.get(name);
      if (id !== undefined) sched.hostHolds(lease.host, id);
    }
  };
  // keepDepends: the slots whose prefix a successful build left (see job.ts).
  const keptOf = perHost(() => new Map<number, KeptPrefix>());
  let built = 0;
  let failed = 0;
  let indirect = 0;
  // When and where each package's first copy started; a package is building while here.
  const t0 = new Map<number, { readonly at: number; readonly host: string }>();
  // Stages are timed on the monotonic clock; the events say when on the wall clock.
  const epochMs = Date.now() - o.now() * 1000;
  const lost = (pkg: LoopPackage, host: string, reason: string, since: number): void => {
    o.bus.emit({
      type: "package-end",
      pkgname: pkg.pkgname,
      pkgpath: pkg.pkgpath,
      host,
      result: "lost",
      reason,
      wallMs: Math.round((o.now() - since) * 1000),
    });
  };

  const run = async (
    task: number,
    lease: Lease,
    copy: CopyControl,
  ): Promise<Outcome<JobOutcome>> => {
    const pkg = o.packages[task]!;
    const host = lease.host;
    trace?.("run", pkg.pkgname);
    // Extra copies (to overtake a slow host or measure a new one) leave the package's record alone.
    // An earlier copy lost with no word of it (its host went before the copy settled, and
    // the planner had already requeued it): its loss is told before this start.
    const earlier = copy.first ? t0.get(task) : undefined;
    if (copy.first) t0.set(task, { at: o.now(), host });
    const startedMs = Date.now();
    // Told once the round's first tasks are out (in a microtask: after the dispatch round's
    // synchronous starts), or before this job's first stage event if that comes sooner. Its
    // recording and display cost each later start of a round tens of microseconds
    // (bench/latency.ts, "package-start event").
    let tell: (() => void) | undefined = () => {
      if (earlier !== undefined) lost(pkg, earlier.host, "started again", earlier.at);
      o.bus.emit(
        {
          type: "package-start",
          pkgname: pkg.pkgname,
          pkgpath: pkg.pkgpath,
          host,
          slot: lease.slot,
          startedMs,
          ...(copy.first ? {} : { extra: true }),
        },
        startedMs,
      );
    };
    const tellNow = (): void => {
      const t = tell;
      tell = undefined;
      t?.();
    };
    const told = Promise.resolve().then(tellNow);
    // What fails in the telling (the store cannot write) fails this copy, when its job returns.
    told.catch(() => undefined);
    trace?.("started", pkg.pkgname);
    const looking = lookAtCache(lease);
    if (looking !== undefined) await looking;
    const outcome = await runJob({
      lease,
      pkg,
      config: o.config,
      repo: o.repo,
      logDir: o.logDir(pkg.pkgname),
      hostCache: cacheOf(host),
      ...(holdings === undefined
        ? {}
        : {
            onPackageSent: (file) => {
              holdings.sent(host, file);
            },
          }),
      distInUse: inUseOf(host),
      ...(o.config.keepDepends ? { kept: keptOf(host) } : {}),
      ...(o.distCache === undefined ? {} : { distCache: o.distCache }),
      signal: copy.signal,
      shouldFetch: copy.wanted,
      now: () => o.now() * 1000,
      onStage: (rec) => {
        tellNow();
        trace?.(`stage:${rec.stage}`, pkg.pkgname);
        costs.stage(host, lease.slot, lease.conn.link, rec.stage, rec.wallMs, pkg.installs.length);
        o.bus.emit({
          type: "stage",
          pkgname: pkg.pkgname,
          host,
          stage: rec.stage,
          status: rec.status,
          wallMs: rec.wallMs,
          pkgpath: pkg.pkgpath,
          startedMs: Math.round(epochMs + rec.startedMs),
          log: rec.log,
        });
      },
    });
    try {
      await told;
    } catch (error) {
      if (outcome.ok) discardPackage(outcome);
      throw error;
    }
    if (copy.signal.aborted) {
      if (outcome.ok) discardPackage(outcome);
      return { kind: "lost", reason: "stopped" };
    }
    if (outcome.ok) {
      costs.built(task, outcome.size);
      return { kind: "ok", value: outcome };
    }
    if (!outcome.lost) return { kind: "failed", value: outcome };
    if (outcome.reason === "redundant") return { kind: "redundant" };
    return { kind: "lost", reason: outcome.reason };
  };

  const settled = (
    task: number,
    host: string,
    outcome: Outcome<JobOutcome>,
    fin: { indirectlyFailed: number[]; first: boolean } | null,
  ): void => {
    const pkg = o.packages[task]!;
    const since = t0.get(task)?.at ?? o.now();
    const wallMs = Math.round((o.now() - since) * 1000);
    if (outcome.kind === "redundant") return;
    if (outcome.kind === "lost") {
      // A copy that never started (its host changed before it could) leaves no trace.
      if (!t0.delete(task)) return;
      lost(pkg, host, outcome.reason, since);
      return;
    }
    const job = outcome.value;
    if (fin?.first !== true) {
      // A later copy of a package that already settled brings nothing.
      if (job.ok) discardPackage(job);
      return;
    }
    if (job.ok) built++;
    else failed++;
    t0.delete(task);
    if (job.ok)
      o.bus.emit(
        {
          type: "package-end",
          pkgname: pkg.pkgname,
          pkgpath: pkg.pkgpath,
          host,
          result: "built",
          wallMs,
          sha256: job.sha256,
          size: job.size,
        },
        Date.now(),
        () => {
          // Only now into the repository, and before anyone hears it is built: a store
          // write that fails (full disk) or a master killed in between leaves no
          // unrecorded file there.
          o.durable();
          trace?.("durable", pkg.pkgname);
          commitPackage(job);
          o.committed?.(basename(job.file));
          trace?.("committed", pkg.pkgname);
        },
      );
    else if (!job.lost)
      o.bus.emit({
        type: "package-end",
        pkgname: pkg.pkgname,
        pkgpath: pkg.pkgpath,
        host,
        result: "failed",
        stage: job.stage,
        reason: job.reason,
        wallMs,
      });
    blame(pkg, fin.indirectlyFailed);
  };

  const blame = (pkg: LoopPackage, tasks: readonly number[]): void => {
    for (const t of tasks) {
      indirect++;
      o.bus.emit({ type: "indirect-failed", pkgname: names[t]!, culprit: pkg.pkgname });
    }
  };

  // A distfile no site serves fails its package at fetch before it takes a host.
  const fetchFailed = (task: number, reason: string): void => {
    const fin = sched.failHeld(task);
    if (!fin.first) return;
    const pkg = o.packages[task]!;
    failed++;
    const dir = o.logDir(pkg.pkgname);
    try {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "fetch.log"), `herd: ${reason}\n`);
    } catch {
      /* the reason is in the store all the same */
    }
    o.bus.emit({
      type: "package-end",
      pkgname: pkg.pkgname,
      pkgpath: pkg.pkgpath,
      host: "master",
      result: "failed",
      stage: "fetch",
      reason,
      wallMs: 0,
      refused: true,
    });
    blame(pkg, fin.indirectlyFailed);
  };

  const index = new Map(names.map((n, i) => [n, i]));
  let retried: (() => void) | undefined;
  let lastFetchEvent = 0;
  const fetching = prefetcher?.run(
    {
      settled: (t) => {
        const st = sched.taskState(t);
        return st === "failed" || st === "indirect-failed";
      },
      release: (t) => {
        sched.release(t);
        retried?.();
      },
      fail: (t, reason) => {
        fetchFailed(t, reason);
        retried?.();
      },
      progress: (p) => {
        const now = performance.now();
        if (p.done < p.total && now - lastFetchEvent < 500) return;
        lastFetchEvent = now;
        o.bus.emit({ type: "fetch-progress", ...p });
      },
    },
    o.prefetchWorkers ?? 8,
  );
  const detach = o.control?.attach((pkgname) => {
    const task = index.get(pkgname);
    if (task === undefined) return err(`${pkgname} is not among the packages this build builds`);
    if (sched.taskState(task) !== "failed")
      return err(`${pkgname} has not failed (it is ${sched.taskState(task)})`);
    const revived = sched.retry(task);
    failed--;
    indirect -= revived.length;
    o.bus.emit({ type: "retry", pkgname, revived: revived.map((t) => names[t]!) });
    retried?.();
    return ok(
      `${pkgname} is queued again${revived.length > 0 ? `, with ${revived.length} packages that depend on it` : ""}`,
    );
  });
  let lastProgress = -1;
  let lastRunning = 0;
  // A progress event whenever the settled count moved, and one at the end (the last package's).
  const progress = (running: number): void => {
    const done = built + failed + indirect;
    lastRunning = running;
    if (done === lastProgress) return;
    lastProgress = done;
    const p0 = trace === undefined ? 0 : performance.now();
    const now = o.now();
    const eta = forecaster.current(now);
    o.bus.emit({
      type: "progress",
      done,
      total: names.length,
      running,
      etaSeconds:
        eta === undefined || eta.stranded > 0 ? null : Math.max(0, Math.round(eta.finish - now)),
      ...(eta?.estimate === true ? { etaEstimate: true } : {}),
    });
    if (trace !== undefined && performance.now() - p0 > 1)
      trace("progress", (performance.now() - p0).toFixed(2));
  };
  onFirstForecast = () => {
    lastProgress = -1;
    progress(lastRunning);
  };
  try {
    const r = await dispatchLoop<JobOutcome>({
      pool: o.pool,
      planner: sched,
      now: o.now,
      label: (t) => names[t]!,
      run,
      settled,
      wake: (poke) => (retried = poke),
      ...(o.stop === undefined ? {} : { stop: o.stop }),
      round: progress,
      noHosts: (hosts) =>
        new UserError(
          "hosts",
          `no build host is left (${
            hosts.map((h) => `${h.name}: ${describeState(h.state)}`).join("; ") || "none configured"
          }); ${sched.remaining} packages not built`,
          "add or repair hosts and run the same command again to resume",
        ),
    });
    progress(0);
    return { built, failed, indirect, stopped: r.stopped };
  } finally {
    prefetcher?.stop();
    remembered?.flush();
    o.distCache?.close();
    await fetching;
    detach?.();
    // Nothing is told after the loop: a forecast arriving now is dropped.
    onFirstForecast = () => undefined;
    await forecaster.close();
  }
}

/** A lookup by host name that makes each host's value on first use. */
function perHost<T>(make: () => T): (host: string) => T {
  const values = new Map<string, T>();
  return (host) => {
    let v = values.get(host);
    if (v === undefined) values.set(host, (v = make()));
    return v;
  };
}
