/**
 * placeEarliestFinish looks only at the best idle host and the busy hosts
 * faster than it. Its choices must be exactly those of the plain rule it
 * implements, a scan of every host's earliest slot for every task (kept
 * here as the reference), on random views with ties, several slots,
 * redundant slots, held tasks and copies.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import {
  placeEarliestFinish,
  type Candidate,
  type HostView,
  type PlacementResult,
} from "../../src/core/sched/placement.js";
import { seededRandom } from "../../src/core/sim/jitter.js";
import { randomPlacementCase } from "./sched-helpers.js";

function referencePlace(
  next: () => Candidate | undefined,
  est: (task: number) => number,
  hosts: HostView[],
  now: number,
  maxLook: number,
  copy: (c: Candidate) => { task: number; host: number; slot: number } | undefined,
): PlacementResult {
  const assigned: { task: number; host: number; slot: number }[] = [];
  const held: number[] = [];
  const reserved: number[] = [];
  let idle = 0;
  for (const h of hosts) for (const a of h.avail) if (a <= now) idle++;
  for (let looked = 0; idle > 0 && looked < maxLook; looked++) {
    const cand = next();
    if (cand === undefined) break;
    if (cand.stay !== undefined) {
      const c = copy(cand);
      if (c !== undefined) {
        assigned.push(c);
        idle--;
      }
      continue;
    }
    const work = est(cand.task);
    let best: { host: number; slot: number } | undefined;
    let bestFinish = Infinity;
    let bestStart = Infinity;
    let bestSpeed = 0;
    let bestRedundant = true;
    for (let h = 0; h < hosts.length; h++) {
      const host = hosts[h]!;
      let slot = -1;
      let start = Infinity;
      for (let s = 0; s < host.avail.length; s++)
        if (host.avail[s]! < start) {
          start = host.avail[s]!;
          slot = s;
        }
      if (slot < 0) continue;
      start = Math.max(start, now);
      const finish = start + work / host.speed;
      const redundant = slot >= host.redundantFrom;
      if (
        finish < bestFinish ||
        (finish === bestFinish &&
          (start < bestStart ||
            (start === bestStart &&
              (host.speed > bestSpeed ||
                (host.speed === bestSpeed && bestRedundant && !redundant)))))
      ) {
        best = { host: h, slot };
        bestFinish = finish;
        bestStart = start;
        bestSpeed = host.speed;
        bestRedundant = redundant;
      }
    }
    if (best === undefined) {
      held.push(cand.task);
      break;
    }
    hosts[best.host]!.avail[best.slot] = bestFinish;
    if (bestStart <= now) {
      assigned.push({ task: cand.task, ...best });
      idle--;
    } else {
      held.push(cand.task);
      reserved.push(best.host);
    }
  }
  return { assigned, held, reserved };
}

test("placement: the same choices as a scan of every host, on 3,000 random cases", () => {
  const rand = seededRandom(7);
  let placedSome = 0;
  let heldSome = 0;
  for (let i = 0; i < 3000; i++) {
    const c = randomPlacementCase(rand, 40);
    const copyOf = (hosts: HostView[]) => {
      let t = 0;
      return () => {
        if (t >= c.work.length) return undefined;
        const task = t++;
        return c.stays.has(task)
          ? { task, stay: { hosts: [0], speed: hosts[0]!.speed, finish: c.now + 50 } }
          : { task };
      };
    };
    const mine = c.hosts.map((h) => ({ ...h, avail: [...h.avail] }));
    const theirs = c.hosts.map((h) => ({ ...h, avail: [...h.avail] }));
    const maxLook = 2 * c.hosts.length + 8;
    const got = placeEarliestFinish(copyOf(mine), (t) => c.work[t]!, mine, c.now, maxLook);
    // The reference places copies with the real placeCopy: run on its own views.
    const want = referencePlace(
      copyOf(theirs),
      (t) => c.work[t]!,
      theirs,
      c.now,
      maxLook,
      (cand) => {
        const one = placeEarliestFinish(
          (() => {
            let given = false;
            return () => (given ? undefined : ((given = true), cand));
          })(),
          (t) => c.work[t]!,
          theirs,
          c.now,
          1,
        );
        return one.assigned[0];
      },
    );
    assert.deepEqual(got, want, `case ${i}`);
    assert.deepEqual(
      mine.map((h) => h.avail),
      theirs.map((h) => h.avail),
      `case ${i}: slots`,
    );
    if (got.assigned.length > 0) placedSome++;
    if (got.held.length > 0) heldSome++;
  }
  // The cases exercise both outcomes.
  assert.ok(placedSome > 1000, `${placedSome} cases placed tasks`);
  assert.ok(heldSome > 100, `${heldSome} cases held a task`);
});
