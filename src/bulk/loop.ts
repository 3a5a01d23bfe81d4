/**
 * The build phase: the scheduler decides what runs where, the pool runs it.
 * Packages whose host is lost go back to the queue; a failure marks every
 * dependent indirectly failed; hosts joining or leaving mid-build are
 * picked up from the pool's events.
 */
import { hostName, type HostName } from "../core/hostspec.js";
import { buildTaskGraph } from "../core/sched/graph.js";
import { Scheduler } from "../core/sched/scheduler.js";
import type { PolicyName } from "../core/sched/priority.js";
import type { EventBus } from "../events/types.js";
import type { HostPool, HostSnapshot } from "../hosts/pool.js";
import { acceptsTasks, describeState } from "../hosts/state.js";
import { UserError } from "../cli/errors.js";
import { err, ok } from "../protocol/result.js";
import type { BuildControl } from "./control.js";
import { EtaForecaster } from "./eta-worker.js";
import { discardPackage, runJob, type JobConfig, type JobOutcome, type JobPackage } from "./job.js";

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
  /** Called as each package settles, to persist it before anything else happens. */
  readonly onSettled: (
    pkg: LoopPackage,
    host: string,
    outcome: JobOutcome,
    startedMs: number,
  ) => void;
  readonly onIndirect: (pkg: LoopPackage, culprit: LoopPackage) => void;
  readonly onStage: (
    pkg: LoopPackage,
    host: string,
    stage: { stage: string; startedMs: number; wallMs: number; status: number; log: string | null },
  ) => void;
  readonly onStart: (pkg: LoopPackage, host: string, startedMs: number) => void;
  /** Resolves when the operator asks the build to stop. */
  readonly stop?: Promise<void>;
  /** Where the operator's retry of a failed package comes in. */
  readonly control?: BuildControl;
  /** A failed package goes back to the queue, with the dependents it had failed. */
  readonly onRetry?: (pkg: LoopPackage, revived: readonly LoopPackage[]) => void;
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
  const g = buildTaskGraph(
    names,
    o.packages.map((p) => p.deps),
  );
  if (!g.ok) throw new Error(`build graph: ${g.error.reason}`);
  const sched = new Scheduler(g.graph, {
    policy: o.policy,
    durations: o.packages.map((p) => p.expectedSeconds),
    weights: o.packages.map((p) => p.weight),
    deferRefit: true,
  });
  const forecaster = new EtaForecaster(sched);
  const known = new Set<string>();
  const caches = new Map<string, Set<string>>();
  const running = new Map<string, AbortController>();
  let wake: (() => void) | undefined;
  const poke = (): void => {
    wake?.();
  };
  let built = 0;
  let failed = 0;
  let indirect = 0;
  const flags = { stopped: false };
  // A job that throws (the master cannot write its logs, packages or store: a full disk) stops the build.
  let broken: { error: unknown } | undefined;
  void o.stop?.then(() => {
    flags.stopped = true;
    poke();
  });

  // The scheduler's view of the hosts changes only when one joins, leaves or
  // drains; a host going from idle to busy and back (every task) does not.
  let hostsChanged = true;
  const syncHosts = (): void => {
    if (!hostsChanged) return;
    hostsChanged = false;
    const now = o.now();
    for (const h of o.pool.list()) {
      const name = h.name as string;
      const usable = acceptsTasks(h.state);
      if (usable && !known.has(name)) {
        known.add(name);
        sched.addHost(h.name, { slots: h.slots, speed: h.speed }, now);
      } else if (
        !usable &&
        known.has(name) &&
        h.state.kind !== "syncing" &&
        h.state.kind !== "connecting"
      ) {
        known.delete(name);
        if (h.state.kind === "draining") sched.drainHost(h.name, now);
        else sched.onHostLost(h.name, now);
      }
    }
  };
  const unsubscribe = o.pool.subscribe((e) => {
    if (e.type === "state" && !(acceptsTasks(e.from) && acceptsTasks(e.to))) hostsChanged = true;
    poke();
  });

  const start = (task: number, host: HostName): void => {
    const pkg = o.packages[task]!;
    const key = `${task}@${host}`;
    const startedMs = Date.now();
    const firstCopy =
      ![...running.keys()].some((k) => k.startsWith(`${task}@`)) &&
      sched.taskState(task) !== "done";
    // Extra copies (to overtake a slow host or measure a new one) leave the package's record alone.
    if (firstCopy) o.onStart(pkg, host, startedMs);
    o.bus.emit({ type: "package-start", pkgname: pkg.pkgname, pkgpath: pkg.pkgpath, host });
    let cache = caches.get(host);
    if (cache === undefined) caches.set(host, (cache = new Set()));
    const t0 = o.now();
    const abort = new AbortController();
    running.set(key, abort);
    const job = runJob({
      pool: o.pool,
      host,
      pkg,
      config: o.config,
      repo: o.repo,
      logDir: o.logDir(pkg.pkgname),
      hostCache: cache,
      signal: abort.signal,
      shouldFetch: () => sched.taskState(task) !== "done",
      now: () => o.now() * 1000,
      onStage: (rec) => {
        o.onStage(pkg, host, rec);
        o.bus.emit({
          type: "stage",
          pkgname: pkg.pkgname,
          host,
          stage: rec.stage,
          status: rec.status,
          wallMs: rec.wallMs,
        });
      },
    }).then((outcome) => {
      running.delete(key);
      // The scheduler stopped this copy: it knows, and the copy counts for nothing.
      if (abort.signal.aborted) {
        if (outcome.ok) discardPackage(outcome);
        return;
      }
      const now = o.now();
      if (!outcome.ok && outcome.reason === "redundant") {
        // Another copy delivered first; this one's time still teaches the scheduler the host's speed.
        sched.onTaskFinished(task, host, now, true);
        poke();
        return;
      }
      const wallMs = Math.round((now - t0) * 1000);
      if (!outcome.ok && outcome.lost) {
        o.bus.emit({
          type: "package-end",
          pkgname: pkg.pkgname,
          pkgpath: pkg.pkgpath,
          host,
          result: "lost",
          reason: outcome.reason,
          wallMs,
        });
        o.onSettled(pkg, host, outcome, startedMs);
        // The host is gone or going: the scheduler hears of it from the pool and requeues the task.
        o.pool.reportFailure(host, outcome.reason);
        if (sched.taskState(task) === "running") sched.onHostLost(host, now);
        known.delete(host);
        poke();
        return;
      }
      if (outcome.ok) built++;
      else failed++;
      o.onSettled(pkg, host, outcome, startedMs);
      const fin = sched.onTaskFinished(task, host, now, outcome.ok);
      for (const a of fin.stop) running.get(`${a.task}@${a.host}`)?.abort();
      if (!fin.first) {
        poke();
        return;
      }
      if (!outcome.ok) {
        o.bus.emit({
          type: "package-end",
          pkgname: pkg.pkgname,
          pkgpath: pkg.pkgpath,
          host,
          result: "failed",
          stage: outcome.stage,
          reason: outcome.reason,
          wallMs,
        });
      } else {
        o.bus.emit({
          type: "package-end",
          pkgname: pkg.pkgname,
          pkgpath: pkg.pkgpath,
          host,
          result: "built",
          wallMs,
        });
      }
      for (const t of fin.indirectlyFailed) {
        indirect++;
        o.onIndirect(o.packages[t]!, pkg);
        o.bus.emit({ type: "indirect-failed", pkgname: names[t]!, culprit: pkg.pkgname });
      }
      poke();
    });
    void job.catch((error: unknown) => {
      broken ??= { error };
      poke();
    });
  };

  const index = new Map(names.map((n, i) => [n, i]));
  const detach = o.control?.attach((pkgname) => {
    const task = index.get(pkgname);
    if (task === undefined) return err(`${pkgname} is not among the packages this build builds`);
    if (sched.taskState(task) !== "failed")
      return err(`${pkgname} has not failed (it is ${sched.taskState(task)})`);
    const revived = sched.retry(task);
    failed--;
    indirect -= revived.length;
    o.onRetry?.(
      o.packages[task]!,
      revived.map((t) => o.packages[t]!),
    );
    o.bus.emit({ type: "retry", pkgname, revived: revived.map((t) => names[t]!) });
    poke();
    return ok(
      `${pkgname} is queued again${revived.length > 0 ? `, with ${revived.length} packages that depend on it` : ""}`,
    );
  });
  let lastProgress = -1;
  try {
    while (!sched.isFinished() && !flags.stopped) {
      if (broken !== undefined) throw broken.error;
      syncHosts();
      if (running.size === 0 && !o.pool.list().some(mayWork)) {
        throw new UserError(
          "hosts",
          `no build host is left (${
            o.pool
              .list()
              .map((h) => `${h.name}: ${describeState(h.state)}`)
              .join("; ") || "none configured"
          }); ${sched.remaining} packages not built`,
          "add or repair hosts and run the same command again to resume",
        );
      }
      const decisions = sched.nextAssignments(o.now());
      for (const a of decisions.stop) running.get(`${a.task}@${a.host}`)?.abort();
      for (const a of decisions.start) start(a.task, a.host);
      // Learning waits until the round's tasks are on their way.
      sched.maintain();
      const done = built + failed + indirect;
      if (done !== lastProgress) {
        lastProgress = done;
        const now = o.now();
        const eta = forecaster.current(now);
        o.bus.emit({
          type: "progress",
          done,
          total: names.length,
          running: running.size,
          etaSeconds: eta.stranded > 0 ? null : Math.max(0, Math.round(eta.finish - now)),
        });
      }
      await Promise.race([new Promise<void>((r) => (wake = r)), o.pool.changed(), sleep(1000)]);
    }
    if (broken !== undefined) throw broken.error;
  } finally {
    detach?.();
    unsubscribe();
    await forecaster.close();
  }
  return { built, failed, indirect, stopped: flags.stopped };
}

/** A host that works or may come back by itself (not removed, not quarantined). */
export function mayWork(h: HostSnapshot): boolean {
  return h.state.kind !== "gone" && !(h.state.kind === "lost" && h.state.quarantine !== null);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms).unref());
}

export { hostName };
