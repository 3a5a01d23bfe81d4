/**
 * Placement with start costs keeps its hosts in two lists across a decision
 * (free ones by speed with a cursor, busy ones by when they free, re-sorted
 * as slots are taken) instead of walking every host for every task. Its
 * choices must be exactly those of its rule applied to lists rebuilt from
 * the views before each task (the reference here), on random views with
 * ties, several slots, redundant slots, held tasks and copies.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  COST_LOOK,
  placeEarliestFinish,
  type Candidate,
  type HostView,
  type PlacementCosts,
  type PlacementResult,
} from "../../src/core/sched/placement.js";
import { seededRandom } from "../../src/core/sim/jitter.js";
import { randomPlacementCase } from "./sched-helpers.js";

interface Case {
  hosts: HostView[];
  work: number[];
  stays: Set<number>;
  now: number;
  costs: PlacementCosts;
}

function randomCase(rand: () => number): Case {
  const { hosts, work, stays, now } = randomPlacementCase(rand, 60);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)]!;
  // Per host: seconds per install and per byte; per task: installs and the bytes each host lacks.
  const install = hosts.map(() => pick([0, 0.1, 0.1, 0.5]));
  const perByte = hosts.map(() => pick([0, 1e-6, 1e-6, 1e-5]));
  const deps = work.map(() => Math.floor(rand() * 6));
  const lacks = work.map((_, t) =>
    hosts.map(() => (deps[t] === 0 || rand() < 0.3 ? 0 : pick([1e5, 1e6, 1e6, 5e6]))),
  );
  const holders = work.map(() =>
    hosts.map((_, h) => h).filter(() => rand() < 2 / Math.max(1, hosts.length)),
  );
  const costs: PlacementCosts = {
    cost: (t, h, at) =>
      Math.max(0, now + 0.7 - at) + lacks[t]![h]! * perByte[h]! + install[h]! * deps[t]!,
    floor: (t, h) => install[h]! * deps[t]!,
    missing: (t, h) => lacks[t]![h]!,
    holders: (t) => holders[t]!,
  };
  return { hosts, work, stays, now, costs };
}

/** The rule, with its lists built again from the views for every task. */
function referencePlace(c: Case, hosts: HostView[], maxLook: number): PlacementResult {
  const { now, costs } = c;
  const assigned: { task: number; host: number; slot: number }[] = [];
  const held: number[] = [];
  const reserved: number[] = [];
  let idle = 0;
  for (const h of hosts) for (const a of h.avail) if (a <= now) idle++;
  if (idle === 0) return { assigned, held, reserved };
  const earliest = (h: number): { slot: number; start: number } => {
    let slot = -1;
    let start = Infinity;
    hosts[h]!.avail.forEach((a, s) => {
      if (a < start) [start, slot] = [a, s];
    });
    return { slot, start };
  };
  const fastest = Math.max(...hosts.map((h) => h.speed));
  for (let t = 0; idle > 0 && t < Math.min(maxLook, c.work.length); t++) {
    const work = c.work[t]!;
    if (c.stays.has(t)) {
      // Copies are placed by the real placeCopy, alone, on these views.
      const one = placeEarliestFinish(
        once({ task: t, stay: { hosts: [0], speed: hosts[0]!.speed, finish: now + 50 } }),
        () => work,
        hosts,
        now,
        1,
        costs,
      );
      if (one.assigned.length > 0) {
        assigned.push(one.assigned[0]!);
        idle--;
      }
      continue;
    }
    const all = hosts.map((_, h) => h).filter((h) => earliest(h).slot >= 0);
    const free = all
      .filter((h) => earliest(h).start <= now)
      .sort((a, b) => hosts[b]!.speed - hosts[a]!.speed || a - b);
    const busy = all
      .filter((h) => earliest(h).start > now)
      .sort((a, b) => earliest(a).start - earliest(b).start || a - b);
    let best = { host: -1, slot: -1, finish: Infinity, missing: Infinity, start: Infinity };
    let bestKey: number[] = [];
    const looked = new Set<number>();
    let exact = 0;
    const look = (h: number): void => {
      if (looked.has(h)) return;
      looked.add(h);
      const e = earliest(h);
      const host = hosts[h]!;
      const start = Math.max(e.start, now);
      if (start + costs.floor(t, h) + work / host.speed > best.finish) return;
      exact++;
      const finish = start + costs.cost(t, h, start) + work / host.speed;
      const redundant = e.slot >= host.redundantFrom ? 1 : 0;
      const key = [finish, costs.missing(t, h), start, -host.speed, redundant, h];
      const i = key.findIndex((k, j) => k !== bestKey[j]);
      if (bestKey.length === 0 || (i >= 0 && key[i]! < bestKey[i]!)) {
        bestKey = key;
        best = { host: h, slot: e.slot, finish, missing: key[1]!, start };
      }
    };
    for (const h of costs.holders(t)) if (earliest(h).slot >= 0) look(h);
    exact = 0;
    if (free.length > 0) look(free[0]!);
    for (const h of free.slice(1)) {
      if (exact >= COST_LOOK || now + work / hosts[h]!.speed > best.finish) break;
      look(h);
    }
    exact = 0;
    for (const h of busy) {
      if (exact >= COST_LOOK || earliest(h).start + work / fastest > best.finish) break;
      look(h);
    }
    if (best.host < 0) {
      held.push(t);
      break;
    }
    hosts[best.host]!.avail[best.slot] = best.finish;
    if (best.start <= now) {
      assigned.push({ task: t, host: best.host, slot: best.slot });
      idle--;
    } else {
      held.push(t);
      reserved.push(best.host);
    }
  }
  return { assigned, held, reserved };
}

function once(c: Candidate): () => Candidate | undefined {
  let given = false;
  return () => (given ? undefined : ((given = true), c));
}

test("placement with start costs: the same choices as its rule on lists built again for every task, on 3,000 random cases", () => {
  const rand = seededRandom(11);
  let placedSome = 0;
  let heldSome = 0;
  let busyWon = 0;
  for (let i = 0; i < 3000; i++) {
    const c = randomCase(rand);
    const mine = c.hosts.map((h) => ({ ...h, avail: [...h.avail] }));
    const theirs = c.hosts.map((h) => ({ ...h, avail: [...h.avail] }));
    const maxLook = 2 * c.hosts.length + 8;
    let t = 0;
    const next = (): Candidate | undefined => {
      if (t >= c.work.length) return undefined;
      const task = t++;
      return c.stays.has(task)
        ? { task, stay: { hosts: [0], speed: mine[0]!.speed, finish: c.now + 50 } }
        : { task };
    };
    const got = placeEarliestFinish(next, (k) => c.work[k]!, mine, c.now, maxLook, c.costs);
    const want = referencePlace(c, theirs, maxLook);
    assert.deepEqual(got, want, `case ${i}`);
    assert.deepEqual(
      mine.map((h) => h.avail),
      theirs.map((h) => h.avail),
      `case ${i}: slots`,
    );
    if (got.assigned.length > 0) placedSome++;
    if (got.held.length > 0) heldSome++;
    // A busy host reserved for a task while another host was free: the busy list was used.
    if (got.held.length > 0 && got.assigned.length > 0) busyWon++;
  }
  // The cases exercise both outcomes, and holds beside starts.
  assert.ok(placedSome > 1000, `${placedSome} cases placed tasks`);
  assert.ok(heldSome > 100, `${heldSome} cases held a task`);
  assert.ok(busyWon > 50, `${busyWon} cases both held and started tasks`);
});
