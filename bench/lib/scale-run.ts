/**
 * One run of the scale benchmark: the real scheduler (policy "herd") and the
 * real HostPool drive N fake hosts over unix sockets through every
 * buildable package of the full tree, one task per package, through the
 * build's own dispatch loop (src/bulk/dispatch.ts: hosts from the pool,
 * nextAssignments, a slot lease per task, onTaskFinished, the deferred
 * refits) and the ETA forecast by a worker thread, without the package
 * stages. Prints one JSON line of figures.
 */
import { fork, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { monitorEventLoopDelay, performance, PerformanceObserver } from "node:perf_hooks";
import { loadGraph } from "../../src/cli/simulate-input.js";
import { hostName, type HostName } from "../../src/core/hostspec.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import type { Planner } from "../../src/core/sched/types.js";
import { dispatchLoop } from "../../src/bulk/dispatch.js";
import { EtaForecaster } from "../../src/bulk/eta-worker.js";
import { HostPool } from "../../src/hosts/pool.js";
import { serveFakeHosts, SocketTransport, taskStamps } from "./socket-hosts.js";

export interface RunConfig {
  readonly presolve: string;
  readonly hosts: number;
  /** How long each task takes on its host (0: zero-time). */
  readonly taskMs: number;
  /** Fake hosts in the master's process (their CPU counts as the master's) or in a process of their own. */
  readonly inProcess: boolean;
  /**
   * The scheduler knows every task's duration (as from an earlier build's
   * history); otherwise it starts cold and learns them, refitting its model
   * as tasks finish.
   */
  readonly history: boolean;
  /** The script to fork for the hosts' process (called with --serve). */
  readonly script: string;
}

export interface Quantiles {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
}

export interface RunFigures {
  readonly hosts: number;
  readonly taskMs: number;
  readonly inProcess: boolean;
  readonly history: boolean;
  readonly tasks: number;
  readonly loadMs: number;
  readonly connectS: number;
  readonly wallS: number;
  readonly tasksPerS: number;
  readonly cpuCores: number;
  readonly cpuMsPerTask: number;
  /** CPU of the fake hosts' process (null when they share the master's). */
  readonly hostsCpuCores: number | null;
  /** Share of the wall time the master's main thread was runnable but waiting for a CPU (other load). */
  readonly waitShare: number | null;
  /** From the later of (last dependency's `done` sent, the host's previous `done` sent) to the run request read off the host's socket, ms. */
  readonly dispatch: Quantiles;
  /** The same, up to the fake host's protocol code handing the request to its handler, ms. */
  readonly handled: Quantiles;
  /** From the scheduler's decision to the run request reaching the host, ms. */
  readonly assign: Quantiles;
  readonly rssMB: number;
  readonly maxRssMB: number;
  readonly failures: number;
  /** From the master processing that done to its decision, ms (master clock only). */
  readonly decide: Quantiles;
  /** From the host's `done` to the master processing it, ms. */
  readonly deliver: Quantiles;
  /** The longest single scheduler call (onTaskFinished or nextAssignments), ms. */
  readonly slowestSchedMs: number;
  /** Loop rounds (wake-ups of the dispatch loop) and the mean ms per round in its three steps. */
  readonly rounds: number;
  readonly roundMs: { readonly hosts: number; readonly decide: number; readonly start: number };
  /** Event-loop delay while dispatching (perf_hooks, 10 ms resolution), ms. */
  readonly loopLag: Quantiles;
  readonly load: readonly [number, number];
}

function quantiles(xs: Float64Array): Quantiles {
  const s = Float64Array.from(xs).sort();
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? NaN;
  return { p50: at(0.5), p99: at(0.99), max: s[s.length - 1] ?? NaN };
}

async function startHosts(
  cfg: RunConfig,
  sock: string,
): Promise<{ stop: () => Promise<void>; cpuS: () => number | null }> {
  if (cfg.inProcess) {
    const server = await serveFakeHosts(sock, cfg.taskMs);
    return {
      cpuS: () => null,
      stop: () =>
        new Promise((r) => {
          server.close(() => {
            r();
          });
        }),
    };
  }
  const child: ChildProcess = fork(cfg.script, ["--serve", sock, "--task-ms", String(cfg.taskMs)], {
    stdio: ["pipe", "inherit", "inherit", "ipc"],
  });
  await new Promise<void>((res, rej) => {
    child.once("message", () => {
      res();
    });
    child.once("exit", (code) => {
      rej(new Error(`the hosts' process exited with status ${code ?? "?"}`));
    });
  });
  return {
    cpuS: () => procCpuSeconds(child.pid ?? -1),
    stop: () =>
      new Promise((r) => {
        child.once("exit", () => {
          r();
        });
        child.kill("SIGTERM");
      }),
  };
}

/** User + system CPU seconds of a process, from /proc (Linux). */
function procCpuSeconds(pid: number): number | null {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return null;
  }
}

/** This process's thread ids (Linux). */
function threadIds(): Set<string> {
  try {
    return new Set(readdirSync("/proc/self/task"));
  } catch {
    return new Set();
  }
}

/** Whether this process runs under a real-time policy (chrt -f). */
function isRealTime(): boolean {
  const r = spawnSync("chrt", ["-p", String(process.pid)], { encoding: "utf8" });
  return /SCHED_FIFO|SCHED_RR/.test(r.stdout);
}

/** Seconds the main thread has spent runnable but waiting for a CPU (/proc schedstat). */
function runqueueWaitS(): number | null {
  try {
    const f = readFileSync(`/proc/self/task/${process.pid}/schedstat`, "utf8").split(" ");
    return Number(f[1]) / 1e9;
  } catch {
    return null;
  }
}

/** Serves fake hosts until the parent goes away (the --serve mode). */
export async function serveMode(sock: string, taskMs: number): Promise<void> {
  await serveFakeHosts(sock, taskMs);
  process.send?.("listening");
  process.on("disconnect", () => process.exit(0));
  // A clean exit, so a profiler given to this process (--cpu-prof) writes its profile.
  process.on("SIGTERM", () => process.exit(0));
}

export async function runScale(cfg: RunConfig): Promise<RunFigures> {
  const load0 = loadavg()[0]!;
  const t0 = performance.now();
  const loaded = await loadGraph(cfg.presolve);
  const loadMs = performance.now() - t0;
  const g = loaded.graph;
  const n = g.names.length;
  const tmp = mkdtempSync(join(tmpdir(), "herd-scale-"));
  const sockPath = join(tmp, "hosts.sock");
  const hosts = await startHosts(cfg, sockPath);

  const pool = new HostPool({
    connection: { helloTimeoutMs: 120_000 },
    ...(process.env.HERD_BENCH_HEARTBEAT_MS === undefined
      ? {}
      : { heartbeatIntervalMs: Number(process.env.HERD_BENCH_HEARTBEAT_MS) }),
  });
  const names: HostName[] = [];
  const tc = performance.now();
  for (let i = 0; i < cfg.hosts; i++) {
    const name = hostName(`h${i}`);
    names.push(name);
    pool.add({
      name,
      transport: new SocketTransport(sockPath, name),
      slots: 1,
      speed: 1,
      tags: [],
    });
  }
  while (pool.list().some((h) => h.state.kind !== "idle")) await pool.changed();
  const connectS = (performance.now() - tc) / 1000;

  const sched = new Scheduler(g, {
    policy: "herd",
    done: loaded.excluded,
    durations: cfg.history ? g.names.map(() => Math.max(cfg.taskMs, 1) / 1000) : undefined,
    deferRefit: true,
  });
  // As src/bulk/loop.ts: the ETA of every progress event, forecast by a worker thread.
  const threads0 = threadIds();
  const forecaster = new EtaForecaster(sched);
  // Real-time priority (SCHED_FIFO) stands for a master machine of its own: it
  // is for the dispatching thread, not for the ETA thread, which would hold a
  // core for a whole forecast; that one goes back to the normal policy.
  if (isRealTime())
    for (const tid of threadIds())
      if (!threads0.has(tid)) spawnSync("chrt", ["-o", "-p", "0", tid]);
  let lastDone = -1;
  const tasks = sched.remaining;
  // Milliseconds since `begin` (below) on the hosts' clock at which a task became
  // ready (its last dependency's done) and at which a host freed; plain
  // doubles, so the bookkeeping allocates nothing per dependent.
  const readyAt = new Float64Array(n);
  const freeAt = new Float64Array(cfg.hosts);
  // The same two instants as the master saw them (when it processed the done).
  const readySeen = new Float64Array(n);
  const freeSeen = new Float64Array(cfg.hosts);
  const hostIndex = new Map<HostName, number>();
  const decide = new Float64Array(tasks);
  const deliver = new Float64Array(tasks);
  let delivered = 0;
  const dispatch = new Float64Array(tasks);
  const handled = new Float64Array(tasks);
  const assign = new Float64Array(tasks);
  let started = 0;
  let failures = 0;
  const now = (): number => performance.now() / 1000;

  let rss = 0;
  const sampler = setInterval(() => {
    rss = Math.max(rss, process.memoryUsage.rss());
  }, 100);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  let slowest = 0;
  const wait0 = runqueueWaitS();
  const cpu0 = process.cpuUsage();
  const hostsCpu0 = hosts.cpuS();
  // Every host is idle from here on: the first task of each is measured from now.
  const begin = process.hrtime.bigint();
  const sinceBegin = (ns: bigint): number => Number(ns - begin) / 1e6;
  const beginPerf = performance.now();
  const traceFile = process.env.HERD_BENCH_TRACE;
  const traceRows: string[] = [];
  const gcRows: string[] = [];
  const gcObs = new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      gcRows.push(
        `gc ${(e.startTime - beginPerf).toFixed(2)} ${e.duration.toFixed(2)} ${(e as unknown as { detail?: { kind?: number } }).detail?.kind ?? "?"}`,
      );
  });
  if (traceFile !== undefined) gcObs.observe({ entryTypes: ["gc"] });
  for (const [i, h] of names.entries()) hostIndex.set(h, i);
  const w0 = performance.now();

  // The scheduler as the loop sees it, with its two calls timed.
  const timed: Planner = {
    addHost: (h, o, t) => {
      sched.addHost(h, o, t);
    },
    drainHost: (h, t) => {
      sched.drainHost(h, t);
    },
    onHostLost: (h, t) => sched.onHostLost(h, t),
    onTaskLost: (task, h, t) => {
      sched.onTaskLost(task, h, t);
    },
    nextAssignments: (t) => {
      const a0 = performance.now();
      const d = sched.nextAssignments(t);
      slowest = Math.max(slowest, performance.now() - a0);
      return d;
    },
    onTaskFinished: (task, h, t, ok) => {
      const f0 = performance.now();
      const fin = sched.onTaskFinished(task, h, t, ok);
      const f1 = performance.now();
      slowest = Math.max(slowest, f1 - f0);
      if (traceFile !== undefined && f1 - f0 > 0.5)
        traceRows.push(`f ${(f0 - beginPerf).toFixed(2)} ${(f1 - f0).toFixed(2)} ${task}`);
      return fin;
    },
    maintain: () => {
      const m0 = performance.now();
      const did = sched.maintain();
      if (did && traceFile !== undefined)
        traceRows.push(`m ${(m0 - beginPerf).toFixed(2)} ${(performance.now() - m0).toFixed(2)}`);
      return did;
    },
    taskState: (task) => sched.taskState(task),
    isFinished: () => sched.isFinished(),
    get remaining() {
      return sched.remaining;
    },
  };

  let rounds = 0;
  let hostsMs = 0;
  let decideMs = 0;
  let startMs = 0;
  await dispatchLoop<null>({
    pool,
    planner: timed,
    now,
    label: (t) => g.names[t] ?? String(t),
    run: async (task, lease) => {
      // The loop calls this as it starts the task, right after its decision.
      const assigned = sinceBegin(process.hrtime.bigint());
      const hi = hostIndex.get(lease.host)!;
      const r = await lease.run({ argv: ["true"] });
      const st = r.ok ? taskStamps(r.value.output) : null;
      if (!r.ok || st === null) {
        failures++;
        return { kind: "lost", reason: r.ok ? "no stamps" : r.error.message };
      }
      const recv = sinceBegin(st.recvNs);
      const doneAt = sinceBegin(st.doneNs);
      if (started < tasks) {
        const since = Math.max(readyAt[task]!, freeAt[hi]!);
        dispatch[started] = recv - since;
        handled[started] = sinceBegin(st.handledNs) - since;
        assign[started] = recv - assigned;
        const seen = Math.max(readySeen[task]!, freeSeen[hi]!);
        decide[started] = assigned - seen;
        if (traceFile !== undefined)
          traceRows.push(
            `t ${seen.toFixed(2)} ${assigned.toFixed(2)} ${recv.toFixed(2)} ${since.toFixed(2)} ${lease.host}`,
          );
        started++;
      }
      freeAt[hi] = doneAt;
      const seenAt = sinceBegin(process.hrtime.bigint());
      if (delivered < tasks) deliver[delivered++] = seenAt - doneAt;
      freeSeen[hi] = seenAt;
      for (const c of g.dependents[task]!) {
        if (readyAt[c]! < doneAt) readyAt[c] = doneAt;
        readySeen[c] = seenAt;
      }
      return { kind: "ok", value: null };
    },
    settled: () => undefined,
    // As the build: the ETA of every progress step, forecast by a worker thread.
    round: () => {
      const settled = tasks - sched.remaining;
      if (settled !== lastDone) {
        lastDone = settled;
        forecaster.current(now());
      }
    },
    probe: (h, d, st, starts) => {
      rounds++;
      hostsMs += h;
      decideMs += d;
      startMs += st;
      if (traceFile !== undefined && d > 0.5)
        traceRows.push(
          `r ${(performance.now() - st - d - beginPerf).toFixed(2)} ${d.toFixed(2)} ${starts} ${st.toFixed(2)}`,
        );
    },
    noHosts: () => new Error("every fake host is gone"),
  });
  const wallS = (performance.now() - w0) / 1000;
  if (traceFile !== undefined) {
    gcObs.disconnect();
    writeFileSync(traceFile, [...traceRows, ...gcRows].join("\n") + "\n");
  }
  const cpu = process.cpuUsage(cpu0);
  const hostsCpu1 = hosts.cpuS();
  const hostsCpuS = hostsCpu0 === null || hostsCpu1 === null ? null : hostsCpu1 - hostsCpu0;
  lag.disable();
  const wait1 = runqueueWaitS();
  clearInterval(sampler);
  rss = Math.max(rss, process.memoryUsage.rss());
  await forecaster.close();
  await pool.close();
  await hosts.stop();
  rmSync(tmp, { recursive: true, force: true });
  const cpuS = (cpu.user + cpu.system) / 1e6;
  return {
    hosts: cfg.hosts,
    taskMs: cfg.taskMs,
    inProcess: cfg.inProcess,
    history: cfg.history,
    tasks,
    loadMs,
    connectS,
    wallS,
    tasksPerS: tasks / wallS,
    cpuCores: cpuS / wallS,
    cpuMsPerTask: (cpuS * 1000) / tasks,
    hostsCpuCores: hostsCpuS === null ? null : hostsCpuS / wallS,
    waitShare: wait0 === null || wait1 === null ? null : (wait1 - wait0) / wallS,
    dispatch: quantiles(dispatch.subarray(0, started)),
    handled: quantiles(handled.subarray(0, started)),
    assign: quantiles(assign.subarray(0, started)),
    rssMB: rss / 2 ** 20,
    maxRssMB: process.resourceUsage().maxRSS / 1024,
    failures,
    decide: quantiles(decide.subarray(0, started)),
    deliver: quantiles(deliver.subarray(0, delivered)),
    slowestSchedMs: slowest,
    rounds,
    roundMs: { hosts: hostsMs / rounds, decide: decideMs / rounds, start: startMs / rounds },
    loopLag: { p50: lag.percentile(50) / 1e6, p99: lag.percentile(99) / 1e6, max: lag.max / 1e6 },
    load: [load0, loadavg()[0]!],
  };
}
