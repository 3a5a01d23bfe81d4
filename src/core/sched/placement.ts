/**
 * Placement: given ready tasks in priority order and the hosts' slots, which
 * task starts on which host now.
 *
 * earliest-finish: each task (best first) goes to the slot where it is
 * expected to finish soonest, counting a busy slot from the moment its
 * current task should end. When that slot is busy the task is *held*: it
 * reserves the slot (so lower tasks see it taken) and waits for the next
 * decision, rather than crawling on a slow host that is idle now.
 * first-free: the best tasks take the idle slots, longest idle first.
 */

export interface HostView {
  readonly speed: number;
  /** Per slot, when it is expected to be free (now for an idle slot). Mutated by placement. */
  readonly avail: number[];
  /** When the host last became idle, for first-free ordering. */
  readonly idleSince: number;
}

export interface PlacementResult {
  /** Pairs of task and host index to start now. */
  readonly assigned: (readonly [number, number])[];
  /** Tasks drawn but left waiting, to be put back into the ready set. */
  readonly held: number[];
}

/** Places tasks drawn from `next` (best first, -1 when none) on the slot where each finishes earliest. */
export function placeEarliestFinish(
  next: () => number,
  est: (task: number) => number,
  hosts: readonly HostView[],
  now: number,
  maxLook: number,
): PlacementResult {
  const assigned: (readonly [number, number])[] = [];
  const held: number[] = [];
  let idle = 0;
  for (const h of hosts) for (const a of h.avail) if (a <= now) idle++;
  for (let looked = 0; idle > 0 && looked < maxLook; looked++) {
    const task = next();
    if (task < 0) break;
    const work = est(task);
    let bestHost = -1;
    let bestSlot = -1;
    let bestFinish = Infinity;
    let bestStart = Infinity;
    let bestSpeed = 0;
    for (let h = 0; h < hosts.length; h++) {
      const host = hosts[h]!;
      let slot = -1;
      let start = Infinity;
      for (let s = 0; s < host.avail.length; s++) {
        if (host.avail[s]! < start) {
          start = host.avail[s]!;
          slot = s;
        }
      }
      if (slot < 0) continue;
      start = Math.max(start, now);
      const finish = start + work / host.speed;
      const better =
        finish < bestFinish ||
        (finish === bestFinish && (start < bestStart || (start === bestStart && host.speed > bestSpeed)));
      if (better) {
        bestHost = h;
        bestSlot = slot;
        bestFinish = finish;
        bestStart = start;
        bestSpeed = host.speed;
      }
    }
    if (bestHost < 0) {
      held.push(task);
      break;
    }
    hosts[bestHost]!.avail[bestSlot] = bestFinish;
    if (bestStart <= now) {
      assigned.push([task, bestHost]);
      idle--;
    } else {
      held.push(task);
    }
  }
  return { assigned, held };
}

/** Places the best tasks on the idle slots, the host idle longest first. */
export function placeFirstFree(next: () => number, hosts: readonly HostView[], now: number): PlacementResult {
  const slots: number[] = [];
  for (let h = 0; h < hosts.length; h++) {
    for (const a of hosts[h]!.avail) if (a <= now) slots.push(h);
  }
  slots.sort((a, b) => hosts[a]!.idleSince - hosts[b]!.idleSince || a - b);
  const assigned: (readonly [number, number])[] = [];
  for (const h of slots) {
    const task = next();
    if (task < 0) break;
    assigned.push([task, h]);
  }
  return { assigned, held: [] };
}
