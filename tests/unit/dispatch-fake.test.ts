/**
 * The one dispatch loop (src/bulk/dispatch.ts) against fake hosts, as lage
 * tests its scheduler: every job is released by the test, so the schedule
 * is exact — which job started where, in which order — through drain,
 * remove and a lost slot in the middle of a multi-slot run.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  dispatchLoop,
  runJobs,
  Stop,
  syncEstimate,
  type Outcome,
} from "../../src/bulk/dispatch.js";
import { hostName } from "../../src/core/hostspec.js";
import { buildTaskGraph } from "../../src/core/sched/graph.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { FakeTransport, type FakeHandler } from "../../src/hosts/fake.js";
import { HostPool, type HostSnapshot, type Lease, type Prepare } from "../../src/hosts/pool.js";
import { ok } from "../../src/protocol/result.js";
import type { HostStateKind } from "../../src/hosts/state.js";

const FAST = { heartbeatIntervalMs: 20, heartbeatTimeoutMs: 2_000, retryDelayMs: 20 };

/** Fake hosts whose jobs end only when the test releases them; the log says what started where. */
function rig(prepare?: Prepare): {
  pool: HostPool;
  log: string[];
  release: (job: string, status?: number) => Promise<void>;
  started: (job: string) => Promise<void>;
  /** Adds a host and waits until it is `kind` (default idle). */
  addHost: (name: string, slots: number, speed: number, kind?: HostStateKind) => Promise<void>;
} {
  const pool = new HostPool(prepare === undefined ? FAST : { ...FAST, prepare });
  const log: string[] = [];
  const gates = new Map<string, (status: number) => void>();
  const waiting = new Map<string, () => void>();
  const handler: FakeHandler = (run, signal) =>
    new Promise((res) => {
      const job = run.argv[1]!;
      gates.set(job, (status) => {
        res({ status });
      });
      signal.addEventListener("abort", () => {
        gates.delete(job);
        res({ status: 143 });
      });
      waiting.get(job)?.();
    });
  const started = async (job: string): Promise<void> => {
    if (gates.has(job)) return;
    await new Promise<void>((r) => waiting.set(job, r));
  };
  return {
    pool,
    log,
    started,
    release: async (job, status = 0) => {
      await started(job);
      const g = gates.get(job)!;
      gates.delete(job);
      g(status);
    },
    addHost: async (name, slots, speed, kind = "idle") => {
      const t = new FakeTransport({ root: `/${name}`, handler });
      assert.ok(pool.add({ name: hostName(name), transport: t, slots, speed, tags: [] }).ok);
      await until(pool, name, kind);
    },
  };
}

async function until(pool: HostPool, name: string, kind: HostStateKind): Promise<void> {
  for (;;) {
    if (pool.get(hostName(name))?.state.kind === kind) return;
    await pool.changed();
  }
}

/** A job: run `job NAME` in the slot; a failed request is a lost slot. */
function job(log: string[]) {
  return async (name: string, lease: Lease): Promise<Outcome<string>> => {
    log.push(`${name}@${lease.host}.${lease.slot}`);
    const r = await lease.run({ argv: ["job", name] });
    if (!r.ok) return { kind: "lost", reason: r.error.message };
    if (r.value.status === 17) return { kind: "lost", reason: "transfer broke" };
    return r.value.status === 0 ? { kind: "ok", value: name } : { kind: "failed", value: name };
  };
}

test("drain: a busy two-slot host finishes both its jobs, takes no more, then leaves", async () => {
  const { pool, log, release, started, addHost } = rig();
  await addHost("a", 2, 2);
  await addHost("b", 2, 1);
  const jobs = ["j0", "j1", "j2", "j3", "j4", "j5"];
  const run = runJobs(pool, jobs, job(log));
  await Promise.all(["j0", "j1", "j2", "j3"].map(started));
  // The fastest host first, slot by slot.
  assert.deepEqual(log, ["j0@a.1", "j1@a.2", "j2@b.1", "j3@b.2"]);
  assert.deepEqual(
    pool.get(hostName("a"))!.tasks.map((t) => [t.slot, t.label]),
    [
      [1, "job 0"],
      [2, "job 1"],
    ],
  );
  assert.ok(pool.drain(hostName("a")).ok);
  assert.deepEqual(pool.get(hostName("a"))!.state, { kind: "draining", running: 2 });
  await release("j0");
  await release("j2");
  await started("j4");
  // a's freed slot took nothing: j4 went to b.
  assert.deepEqual(log.slice(4), ["j4@b.1"]);
  assert.equal(pool.get(hostName("a"))!.state.kind, "draining");
  await release("j1");
  await until(pool, "a", "gone");
  assert.deepEqual(pool.get(hostName("a"))!.state, { kind: "gone", reason: "drained" });
  await release("j3");
  await release("j4");
  await release("j5");
  const out = await run;
  assert.deepEqual(log, ["j0@a.1", "j1@a.2", "j2@b.1", "j3@b.2", "j4@b.1", "j5@b.2"]);
  assert.deepEqual(
    [...out.entries()].sort((x, y) => x[0] - y[0]).map(([, o]) => o.kind),
    jobs.map(() => "ok"),
  );
  await pool.close();
});

test("remove: a busy two-slot host's jobs go back first in line, in order, to the other host", async () => {
  const { pool, log, release, started, addHost } = rig();
  await addHost("a", 2, 2);
  await addHost("b", 2, 1);
  const run = runJobs(pool, ["j0", "j1", "j2", "j3", "j4"], job(log));
  await Promise.all(["j0", "j1", "j2", "j3"].map(started));
  assert.ok(pool.remove(hostName("a"), "operator").ok);
  await release("j2");
  await release("j3");
  for (const j of ["j0", "j1", "j4"]) await release(j);
  await run;
  assert.deepEqual(log, [
    "j0@a.1",
    "j1@a.2",
    "j2@b.1",
    "j3@b.2",
    // a's two jobs first, in their order, then the rest of the queue.
    "j0@b.1",
    "j1@b.2",
    "j4@b.1",
  ]);
  assert.deepEqual(pool.get(hostName("a"))!.state, { kind: "gone", reason: "operator" });
  await pool.close();
});

test("a lost slot requeues only its own job; the host and its other slot go on", async () => {
  const { pool, log, release, started, addHost } = rig();
  await addHost("a", 2, 1);
  const run = runJobs(pool, ["j0", "j1", "j2"], job(log));
  await Promise.all(["j0", "j1"].map(started));
  // j0's slot loses its transfer (the host stays up); j1 runs on in slot 2.
  await release("j0", 17);
  await started("j0");
  assert.deepEqual(log, ["j0@a.1", "j1@a.2", "j0@a.1"]);
  const a = pool.get(hostName("a"))!;
  assert.equal(a.state.kind, "busy");
  assert.equal(a.failures, 1);
  await release("j1");
  await release("j0");
  await release("j2");
  const out = await run;
  assert.deepEqual(log, ["j0@a.1", "j1@a.2", "j0@a.1", "j2@a.2"]);
  assert.equal(out.size, 3);
  // A finished task resets the failure counter.
  assert.equal(pool.get(hostName("a"))!.failures, 0);
  await pool.close();
});

test("the build's Scheduler through the same loop: a dependency first, then its dependents in both slots", async () => {
  const { pool, log, release, started, addHost } = rig();
  await addHost("a", 2, 1);
  const names = ["lib", "app1", "app2", "app3"];
  const g = buildTaskGraph(names, [[], [0], [0], [0]]);
  assert.ok(g.ok);
  const sched = new Scheduler(g.graph, { policy: "fifo" });
  const outcomes: string[] = [];
  const runOne = job(log);
  const loop = dispatchLoop<string>({
    pool,
    planner: sched,
    now: () => performance.now() / 1000,
    label: (t) => names[t]!,
    run: (t, lease) => runOne(names[t]!, lease),
    settled: (t, host, o, fin) => {
      outcomes.push(
        `${names[t]!} ${o.kind} on ${host}${fin?.indirectlyFailed.length ? ` breaks ${fin.indirectlyFailed.map((d) => names[d]!).join(",")}` : ""}`,
      );
    },
    noHosts: () => new Error("no hosts"),
  });
  await started("lib");
  assert.deepEqual(log, ["lib@a.1"]);
  await release("lib");
  await Promise.all(["app1", "app2"].map(started));
  assert.deepEqual(log, ["lib@a.1", "app1@a.1", "app2@a.2"]);
  await release("app2", 1);
  await started("app3");
  await release("app1");
  await release("app3");
  await loop;
  assert.deepEqual(log, ["lib@a.1", "app1@a.1", "app2@a.2", "app3@a.2"]);
  assert.deepEqual(outcomes, ["lib ok on a", "app2 failed on a", "app1 ok on a", "app3 ok on a"]);
  await pool.close();
});

test(
  "a removed host's copy that settles late still leaves the task's next copy its first",
  { timeout: 10_000 },
  async () => {
    const { pool, log, release, started, addHost } = rig();
    await addHost("a", 1, 2);
    await addHost("b", 1, 1);
    const names = ["t0", "t1"];
    const g = buildTaskGraph(names, [[], []]);
    assert.ok(g.ok);
    const firsts: string[] = [];
    const settledLog: string[] = [];
    // a's lost copy hangs on (a slow connection teardown) until the test lets it go.
    let letGo = (): void => {};
    const held = new Promise<void>((r) => (letGo = r));
    const loop = dispatchLoop<string>({
      pool,
      planner: new Scheduler(g.graph, { policy: "fifo" }),
      now: () => performance.now() / 1000,
      label: (t) => names[t]!,
      run: async (t, lease, copy) => {
        const name = names[t]!;
        log.push(`${name}@${lease.host}`);
        firsts.push(`${name}@${lease.host} ${copy.first ? "first" : "extra"}`);
        const r = await lease.run({ argv: ["job", name] });
        if (!r.ok) {
          await held;
          return { kind: "lost", reason: r.error.message };
        }
        return { kind: "ok", value: name };
      },
      settled: (t, host, o) => {
        settledLog.push(`${names[t]!} ${o.kind} on ${host}`);
      },
      noHosts: () => new Error("no hosts"),
    });
    await Promise.all(["t0", "t1"].map(started));
    assert.deepEqual(log, ["t0@a", "t1@b"]);
    assert.ok(pool.remove(hostName("a"), "operator").ok);
    await release("t1");
    // t0 goes to b while a's copy of it has not settled yet.
    await started("t0");
    assert.deepEqual(log, ["t0@a", "t1@b", "t0@b"]);
    letGo();
    await release("t0");
    await loop;
    assert.deepEqual(firsts, ["t0@a first", "t1@b first", "t0@b first"]);
    // The late loss is not settled again: the task is already running elsewhere.
    assert.deepEqual(settledLog, ["t1 ok on b", "t0 ok on b"]);
    await pool.close();
  },
);

test(
  "a fast host still syncing is planned for: the task waits for it instead of crawling on the slow idle host",
  { timeout: 60_000 },
  async () => {
    // The fast host's sync ends only when the test says so.
    let endSync: (() => void) | undefined;
    const gate = new Promise<void>((r) => (endSync = r));
    const prepare: Prepare = async (_conn, host) => {
      if (host.name === "fast") await gate;
      return ok("");
    };
    const { pool, log, release, started, addHost } = rig(prepare);
    await addHost("slow", 1, 0.05);
    await addHost("fast", 1, 1, "syncing");
    const names = ["big"];
    const g = buildTaskGraph(names, [[]]);
    assert.ok(g.ok);
    // 100 s on the fast host once synced, 2,000 s on the slow one.
    const sched = new Scheduler(g.graph, { policy: "herd", durations: [100] });
    const runOne = job(log);
    let rounds = 0;
    let poke: (() => void) | undefined;
    let roundSeen: (() => void) | undefined;
    const loop = dispatchLoop<string>({
      pool,
      planner: sched,
      now: () => performance.now() / 1000,
      label: (k) => names[k]!,
      run: (k, lease) => runOne(names[k]!, lease),
      settled: () => undefined,
      wake: (p) => (poke = p),
      round: () => {
        rounds++;
        roundSeen?.();
      },
      noHosts: () => new Error("no hosts"),
    });
    // Several rounds of decisions while the fast host syncs: nothing goes to the slow host.
    while (rounds < 4) {
      await new Promise<void>((r) => {
        roundSeen = r;
        poke?.();
      });
    }
    assert.equal(pool.get(hostName("fast"))?.state.kind, "syncing");
    assert.deepEqual(log, [], "the task was not given to the slow idle host");
    endSync!();
    await started("big");
    await release("big");
    await loop;
    assert.deepEqual(log, ["big@fast.1"]);
    await pool.close();
  },
);

test("a sync's expected length: the host's own last one, else the others' scaled by speed", () => {
  const snap = (name: string, speed: number, syncSeconds?: number): HostSnapshot => ({
    name: hostName(name),
    state: { kind: "syncing" },
    slots: 1,
    free: 0,
    speed,
    tags: [],
    transport: "fake",
    failures: 0,
    info: null,
    tasks: [],
    ...(syncSeconds === undefined ? {} : { syncSeconds }),
  });
  const a = snap("a", 1, 10);
  const b = snap("b", 0.5, 40);
  const c = snap("c", 1, 30);
  const vax = snap("vax", 0.05);
  assert.equal(syncEstimate(a, [a, b, c]), 10);
  // The others as at speed 1: 10 and 20 (vax has none): the upper median, 20, at 1/20.
  assert.equal(syncEstimate(vax, [a, b, vax]), 20 / 0.05);
  assert.equal(syncEstimate(vax, [a, b, c, vax]), 20 / 0.05);
  assert.equal(syncEstimate(vax, [vax]), undefined);
});

test("a copy's Stop calls each listener still added once, at its first abort, and none added after", () => {
  const stop = new Stop();
  const calls: string[] = [];
  const a = (): void => void calls.push("a");
  const b = (): void => void calls.push("b");
  const c = (): void => void calls.push("c");
  stop.addEventListener("abort", a);
  stop.addEventListener("abort", b);
  stop.addEventListener("abort", c);
  stop.removeEventListener("abort", b);
  assert.equal(stop.aborted, false);
  stop.abort();
  stop.abort();
  assert.equal(stop.aborted, true);
  assert.deepEqual(calls, ["a", "c"]);
  stop.addEventListener("abort", b);
  stop.abort();
  assert.deepEqual(calls, ["a", "c"]);
});
