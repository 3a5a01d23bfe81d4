/** Placement that counts what it costs to start a task on a host: dependency transfers and a late host's sync. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { buildTaskGraph, type TaskGraph } from "../../src/core/sched/graph.js";
import { Scheduler } from "../../src/core/sched/scheduler.js";
import { ownSeconds } from "../../src/core/sched/runs.js";
import { StartCosts } from "../../src/core/sched/startcost.js";
import { lowerBound, tasksThatRun } from "../../src/core/sim/bounds.js";
import { seededRandom } from "../../src/core/sim/jitter.js";
import { simulate, type SimulationInput } from "../../src/core/sim/simulate.js";
import { graphOf, hostsOf, schedule } from "./sched-helpers.js";

const A = hostName("a");
const B = hostName("b");

function names(g: { graph: TaskGraph }, s: Scheduler, now: number): string[] {
  return s.nextAssignments(now).start.map((x) => `${g.graph.names[x.task]}@${x.host}`);
}

test("a host that holds the dependencies wins a tie", () => {
  // d is built already; a and b are alike and their links cost nothing: only what they hold differs.
  const g = graphOf({ d: 1, t: 4 }, ["d -> t"]);
  const mk = (): Scheduler =>
    new Scheduler(g.graph, {
      policy: "herd",
      durations: g.seconds,
      done: [true, false],
      transfer: { defaultBytes: 5e6 },
    });
  const s = mk();
  s.addHost(A, { slots: 1, speed: 1 }, 0);
  s.addHost(B, { slots: 1, speed: 1 }, 0);
  s.hostHolds(B, 0);
  assert.deepEqual(names(g, s, 0), ["t@b"]);
  // Holding nothing, the first host takes it, as before.
  const s2 = mk();
  s2.addHost(A, { slots: 1, speed: 1 }, 0);
  s2.addHost(B, { slots: 1, speed: 1 }, 0);
  assert.deepEqual(names(g, s2, 0), ["t@a"]);
});

test("a host that built a dependency holds it: its dependent follows it there", () => {
  const g = graphOf({ d: 1, t: 4 }, ["d -> t"]);
  const s = new Scheduler(g.graph, {
    policy: "herd",
    durations: g.seconds,
    transfer: { defaultBytes: 5e6 },
  });
  s.addHost(A, { slots: 1, speed: 1 }, 0);
  s.addHost(B, { slots: 1, speed: 1 }, 0);
  // a would take d; make b take it by keeping a busy-looking: b is the only host at first.
  s.drainHost(A, 0);
  assert.deepEqual(names(g, s, 0), ["d@b"]);
  s.addHost(A, { slots: 1, speed: 1 }, 1);
  s.onTaskFinished(0, B, 1, true);
  assert.deepEqual(names(g, s, 1), ["t@b"]);
});

// b (20 s) is the most urgent; t (10 s) needs d, 1 MB, built already and on the master.
const LINK = graphOf({ b: 20, d: 1, t: 10 }, ["d -> t"]);

function linkRun(aware: boolean): ReturnType<typeof simulate> {
  return simulate({
    graph: LINK.graph,
    hosts: hostsOf("1x1.0@1GB,1x1.0@1KB"),
    policy: "herd",
    actual: LINK.seconds,
    done: [false, true, false],
    shown: LINK.seconds,
    speedsKnown: true,
    transfer: { bytes: [1e6, 1e6, 1e6], aware },
  });
}

test("a slow-link host is not given a task its dependency bytes make finish later than a busy fast host", () => {
  const r = linkRun(true);
  // On h2 the megabyte alone takes 1000 s; h1 is free at 20 and receives it in 1 ms.
  assert.deepEqual(schedule(LINK, r), ["b@h1 0-20", "t@h1 20-30.001"]);
  assert.equal(r.transferSeconds.toFixed(3), "0.001");
});

test("blind to transfers, the same task crawls over the slow link", () => {
  const r = linkRun(false);
  assert.deepEqual(schedule(LINK, r), ["b@h1 0-20", "t@h2 0-1010"]);
  assert.equal(r.makespan, 1010);
});

test("a late-joining host gets work planned for the end of its sync", () => {
  const g = graphOf({ t: 10 });
  const s = new Scheduler(g.graph, { policy: "herd", durations: g.seconds });
  s.addHost(hostName("slow"), { slots: 1, speed: 0.01 }, 0);
  // Connected now, synced at 100: t ends at 110 there, at 1000 on the slow host.
  s.addHost(hostName("late"), { slots: 1, speed: 1, readyAt: 100 }, 0);
  assert.deepEqual(names(g, s, 0), [], "t waits for the late host's sync");
  assert.deepEqual(names(g, s, 50), []);
  assert.deepEqual(names(g, s, 100), ["t@late"]);
});

test("simulated: the late host syncs the tree over its link, then builds", () => {
  // a takes 100 s on the slow host; t (after a) would take 1000 s there.
  const g = graphOf({ a: 1, t: 10 }, ["a -> t"]);
  const input = (aware: boolean): SimulationInput => ({
    graph: g.graph,
    hosts: hostsOf("1x0.01,1x1.0@1MB+100"),
    policy: "herd",
    actual: g.seconds,
    shown: g.seconds,
    speedsKnown: true,
    transfer: { bytes: [1e6, 1e6], treeBytes: 50e6, aware },
  });
  // h2 joins at 100 and receives 50 MB at 1 MB/s: ready at 150, then a's 1 MB, done at 161.
  assert.deepEqual(schedule(g, simulate(input(true))), ["a@h1 0-100", "t@h2 150-161"]);
  // A scheduler that sees the host only once synced starts t on the slow host
  // (and then a copy on the late host, to overtake it).
  assert.deepEqual(schedule(g, simulate(input(false))), [
    "a@h1 0-100",
    "t@h1 100-161 cancelled",
    "t@h2 150-161",
  ]);
});

/** A random layered graph of n tasks: durations, package sizes, and a few deps each. */
function randomBuild(
  n: number,
  seed: number,
): { graph: TaskGraph; seconds: number[]; bytes: number[] } {
  const rand = seededRandom(seed);
  const deps: number[][] = [];
  const seconds: number[] = [];
  const bytes: number[] = [];
  for (let t = 0; t < n; t++) {
    const d = new Set<number>();
    for (let k = 0; k < 3; k++) if (t > 0 && rand() < 0.7) d.add(Math.floor(rand() * t));
    deps.push([...d]);
    seconds.push(Math.round(1 + 600 * rand() ** 3));
    bytes.push(Math.round(2e6 * rand() ** 2));
  }
  const built = buildTaskGraph(
    Array.from({ length: n }, (_, t) => `p${t}`),
    deps,
  );
  assert.ok(built.ok);
  return { graph: built.graph, seconds, bytes };
}

test("with transfer costs the makespan never goes below the lower bound", () => {
  for (let seed = 1; seed <= 12; seed++) {
    const b = randomBuild(120, seed);
    for (const spec of ["2x1.0@1MB,10x0.05@1MB", "2x1.0,6x0.05@100KB+300", "3x1.0:2@10KB"]) {
      for (const aware of [true, false]) {
        const hosts = hostsOf(spec);
        const r = simulate({
          graph: b.graph,
          hosts,
          policy: "herd",
          actual: b.seconds,
          shown: b.seconds,
          speedsKnown: true,
          transfer: { bytes: b.bytes, treeBytes: 1e6, aware },
        });
        const runs = tasksThatRun(b.graph, undefined, undefined);
        const lb = lowerBound(b.graph, b.seconds, runs, hosts).seconds;
        assert.ok(r.makespan >= lb - 1e-9, `${spec} seed ${seed}: ${r.makespan} < ${lb}`);
        assert.equal(r.unfinished, 0);
        assert.equal(r.runs.filter((x) => x.outcome === "ok").length, 120);
        // No run starts before every dependency has ended.
        const end = new Map(r.runs.filter((x) => x.outcome === "ok").map((x) => [x.task, x.end]));
        for (const x of r.runs)
          for (const d of b.graph.deps[x.task]!) assert.ok(x.start >= end.get(d)!);
      }
    }
  }
});

test("with links that cost nothing the schedule is exactly the one without transfers", () => {
  for (let seed = 1; seed <= 6; seed++) {
    const b = randomBuild(300, seed);
    for (const cold of [false, true]) {
      const base = {
        graph: b.graph,
        policy: "herd" as const,
        actual: b.seconds,
        shown: cold ? undefined : b.seconds,
        speedsKnown: !cold,
      };
      const old = simulate({ ...base, hosts: hostsOf("2x1.0,10x0.05") });
      // Links everywhere, the scheduler counting them, but packages of 0 bytes.
      const free = simulate({
        ...base,
        hosts: hostsOf("2x1.0@1MB,10x0.05@1MB"),
        transfer: { bytes: b.bytes.map(() => 0), aware: true },
      });
      assert.deepEqual(free.runs, old.runs, `seed ${seed}${cold ? " cold" : ""}`);
      assert.equal(free.makespan, old.makespan);
    }
  }
});

test("start costs: the dependency closure, what a host lacks, its link queue", () => {
  // a -> b -> c, and d -> c: c needs a, b, d.
  const g = graphOf({ a: 1, b: 1, d: 1, c: 1 }, ["a -> b", "b -> c", "d -> c"]);
  const c = new StartCosts(g.graph, { bytes: [100, 200, 400, 800], defaultBytes: 0 });
  const h = c.addHost();
  Object.assign(c.host(h), { link: 100, install: 2 });
  assert.deepEqual([...c.closure(3)].sort(), [0, 1, 2]);
  assert.equal(c.missing(3, h), 700);
  c.hold(h, 1);
  assert.equal(c.missing(3, h), 500);
  // 5 s for 500 bytes, 3 installs of 2 s.
  assert.equal(c.cost(3, h, 10), 5 + 6);
  assert.equal(c.start(3, h, 10), 11);
  // The link is busy until 15; c's dependencies are all held now.
  assert.equal(c.host(h).linkFree, 15);
  assert.equal(c.missing(3, h), 0);
  // b needs a, held: only its install remains.
  assert.equal(c.cost(1, h, 12), 2);
});

test("a host that keeps nothing it built (herd build) is sent its own packages back", () => {
  const g = graphOf({ a: 1, b: 1 }, ["a -> b"]);
  const keep = new StartCosts(g.graph, { bytes: [100, 100], defaultBytes: 0 });
  const send = new StartCosts(g.graph, { bytes: [100, 100], defaultBytes: 0, keepsBuilt: false });
  for (const c of [keep, send]) {
    c.addHost();
    c.built(0, 0);
  }
  assert.equal(keep.missing(1, 0), 0);
  assert.equal(send.missing(1, 0), 100);
  // Either way the builder of a dependency is looked at first.
  assert.deepEqual(send.builders(1), [0]);
});

test("a copy's own work is its time less its start cost, never under half its time", () => {
  assert.equal(ownSeconds({ task: 0, host: 0, start: 10, cost: 3 }, 20), 7);
  assert.equal(ownSeconds({ task: 0, host: 0, start: 10, cost: 0 }, 20), 10);
  // The transfer was expected to take longer than the whole run did.
  assert.equal(ownSeconds({ task: 0, host: 0, start: 10, cost: 30 }, 20), 5);
});

test("packages outside the graph that a build installs cost their bytes and installs too", () => {
  // t needs d (a task) and u, v: up to date, so not tasks; ids 2 and 3 after the two tasks.
  const g = graphOf({ d: 1, t: 1 }, ["d -> t"]);
  const installs = [Int32Array.from([]), Int32Array.from([2, 0, 3])];
  const c = new StartCosts(g.graph, {
    bytes: [undefined, undefined, 300, 500],
    defaultBytes: 100,
    installs,
  });
  const h = c.addHost();
  Object.assign(c.host(h), { link: 100, install: 1 });
  assert.deepEqual([...c.closure(1)], [2, 0, 3]);
  // d's 100 (default) + u 300 + v 500 over 100 B/s, then 3 installs.
  assert.equal(c.cost(1, h, 0), 9 + 3);
  c.hold(h, 3);
  assert.equal(c.missing(1, h), 400);
  // What the graph alone says (no installs given) misses u and v.
  const blind = new StartCosts(g.graph, { bytes: [undefined, undefined], defaultBytes: 100 });
  blind.addHost();
  Object.assign(blind.host(0), { link: 100, install: 1 });
  assert.equal(blind.cost(1, 0, 0), 1 + 1);
});

test("a host holding the up-to-date dependencies wins over one that would be sent them", () => {
  const g = graphOf({ t: 4 });
  const s = new Scheduler(g.graph, {
    policy: "herd",
    durations: g.seconds,
    transfer: {
      defaultBytes: 1e6,
      installs: [Int32Array.from([1, 2])],
      bytes: [undefined, 5e6, 5e6],
    },
  });
  s.addHost(A, { slots: 1, speed: 1, link: 1e6 }, 0);
  s.addHost(B, { slots: 1, speed: 1, link: 1e6 }, 0);
  s.hostHolds(B, 1);
  s.hostHolds(B, 2);
  assert.equal(s.startCost(0, A, 0), 10);
  assert.equal(s.startCost(0, B, 0), 0);
  assert.deepEqual(names(g, s, 0), ["t@b"]);
});

test("a host's figures told before it joins (remembered from an earlier build) count from its first decision", () => {
  const g = graphOf({ d: 1, t: 4 }, ["d -> t"]);
  const s = new Scheduler(g.graph, {
    policy: "herd",
    durations: g.seconds,
    done: [true, false],
    transfer: { defaultBytes: 2e6 },
  });
  s.setHostCosts(B, { link: 1e5, install: 3 });
  s.addHost(A, { slots: 1, speed: 1 }, 0);
  s.addHost(B, { slots: 1, speed: 1 }, 0);
  // 2 MB at 100 kB/s plus one install; a's link is not measured yet (free).
  assert.equal(s.startCost(1, B, 0), 23);
  assert.equal(s.startCost(1, A, 0), 0);
  assert.deepEqual(names(g, s, 0), ["t@a"]);
});

test("a task held for a busy host stays held a round later, and each round tells what it saw (ready, free, held)", () => {
  // b (20 s) is the most urgent; t needs d (1 MB, built); h2's link carries 1 KB/s, h1's 1 GB/s.
  const s = new Scheduler(LINK.graph, {
    policy: "herd",
    durations: LINK.seconds,
    done: [false, true, false],
    transfer: { bytes: [1e6, 1e6, 1e6], defaultBytes: 1e6 },
  });
  const h1 = hostName("h1");
  const h2 = hostName("h2");
  s.addHost(h1, { slots: 1, speed: 1, link: 1e9 }, 0);
  s.addHost(h2, { slots: 1, speed: 1, link: 1e3 }, 0);
  s.hostHolds(h1, 1);
  const d = s.nextAssignments(0);
  // b starts on h1; t would wait 1000 s for d on h2, so it is held for h1 (free at 20).
  assert.deepEqual(
    d.start.map((a) => `${LINK.graph.names[a.task]}@${a.host}`),
    ["b@h1"],
  );
  assert.deepEqual(d.seen, { ready: 2, free: 2, held: 1 });
  // A round later h1 is busy; t stays held for it rather than crawl over h2's link.
  const later = s.nextAssignments(1);
  assert.deepEqual(later.start, []);
  assert.deepEqual(later.seen, { ready: 1, free: 1, held: 1 });
});
