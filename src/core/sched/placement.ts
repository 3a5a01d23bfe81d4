/**
 * Placement: given ready tasks in priority order and the hosts' slots, which
 * task starts on which host now.
 *
 * earliest-finish: each task (best first) goes to the slot where it is
 * expected to finish soonest, counting a busy slot from the moment its
 * current task should end. When that slot is busy the task is *held*: it
 * reserves the slot (so lower tasks see it taken) and waits for the next
 * decision, rather than crawling on a slow host that is idle now.
 * A running task may come up as a candidate too (`stay` set): it gets a
 * second copy on an idle host only when that copy is expected to finish
 * clearly sooner than the run it already has; it is never held.
 * first-free: the best tasks take the idle slots, longest idle first.
 *
 * A slot holding a redundant copy (see runs.ts) counts as free; it is used
 * after the truly idle ones and never for a copy.
 */

export interface HostView {
  readonly speed: number;
  /**
   * Per slot, when it is expected to be free: busy slots first, then idle
   * ones (now), then from `redundantFrom` on the slots with a redundant copy (now).
   */
  readonly avail: number[];
  readonly redundantFrom: number;
  /** When the host last became idle, for first-free ordering. */
  readonly idleSince: number;
}

export interface Stay {
  /** Hosts (views) the task runs on now. */
  readonly hosts: readonly number[];
  /** The fastest of their speeds. */
  readonly speed: number;
  /** When its first copy should end. */
  readonly finish: number;
}

export interface Candidate {
  readonly task: number;
  /** For a running task: where it runs and when it should end. */
  readonly stay?: Stay | undefined;
}

export interface Placed {
  readonly task: number;
  readonly host: number;
  readonly slot: number;
}

export interface PlacementResult {
  /** What to start now (a running task's extra copy included). */
  readonly assigned: Placed[];
  /** Tasks drawn but left waiting, to be put back into the ready set. */
  readonly held: number[];
}

/** A copy must be expected to end within this fraction of the time the running copy still needs… */
const COPY_GAIN = 0.9;
/** …on a host at least this much faster (learned speeds are noisy). */
export const COPY_SPEEDUP = 1.5;

/** Places candidates drawn from `next` (best first, undefined when none) where each finishes earliest. */
export function placeEarliestFinish(
  next: () => Candidate | undefined,
  est: (task: number) => number,
  hosts: readonly HostView[],
  now: number,
  maxLook: number,
): PlacementResult {
  const assigned: Placed[] = [];
  const held: number[] = [];
  let idle = 0;
  for (const h of hosts) for (const a of h.avail) if (a <= now) idle++;
  for (let looked = 0; idle > 0 && looked < maxLook; looked++) {
    const cand = next();
    if (cand === undefined) break;
    const task = cand.task;
    const work = est(task);
    if (cand.stay !== undefined) {
      const copy = placeCopy(task, cand.stay, work, hosts, now);
      if (copy !== undefined) {
        assigned.push(copy);
        idle--;
      }
      continue;
    }
    let best: Placed | undefined;
    let bestFinish = Infinity;
    let bestStart = Infinity;
    let bestSpeed = 0;
    let bestRedundant = true;
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
      const redundant = slot >= host.redundantFrom;
      const better =
        finish < bestFinish ||
        (finish === bestFinish &&
          (start < bestStart ||
            (start === bestStart &&
              (host.speed > bestSpeed ||
                (host.speed === bestSpeed && bestRedundant && !redundant)))));
      if (better) {
        best = { task, host: h, slot };
        bestFinish = finish;
        bestStart = start;
        bestSpeed = host.speed;
        bestRedundant = redundant;
      }
    }
    if (best === undefined) {
      held.push(task);
      break;
    }
    hosts[best.host]!.avail[best.slot] = bestFinish;
    if (bestStart <= now) {
      assigned.push(best);
      idle--;
    } else {
      held.push(task);
    }
  }
  return { assigned, held };
}

/** A copy on the truly idle slot where it ends first, if that beats the running copy clearly. */
function placeCopy(
  task: number,
  stay: Stay,
  work: number,
  hosts: readonly HostView[],
  now: number,
): Placed | undefined {
  let best: Placed | undefined;
  let bestFinish = now + COPY_GAIN * (stay.finish - now);
  for (let h = 0; h < hosts.length; h++) {
    const host = hosts[h]!;
    if (host.speed < COPY_SPEEDUP * stay.speed || stay.hosts.includes(h)) continue;
    const slot = host.avail.findIndex((a, s) => a <= now && s < host.redundantFrom);
    if (slot < 0) continue;
    const finish = now + work / host.speed;
    if (finish < bestFinish) {
      best = { task, host: h, slot };
      bestFinish = finish;
    }
  }
  if (best !== undefined) hosts[best.host]!.avail[best.slot] = bestFinish;
  return best;
}

/** Places the best tasks on the free slots, the host idle longest first. */
export function placeFirstFree(
  next: () => number,
  hosts: readonly HostView[],
  now: number,
): PlacementResult {
  const slots: { host: number; slot: number }[] = [];
  for (let h = 0; h < hosts.length; h++) {
    const avail = hosts[h]!.avail;
    for (let s = 0; s < avail.length; s++) if (avail[s]! <= now) slots.push({ host: h, slot: s });
  }
  slots.sort(
    (a, b) =>
      hosts[a.host]!.idleSince - hosts[b.host]!.idleSince || a.host - b.host || a.slot - b.slot,
  );
  const assigned: Placed[] = [];
  for (const { host, slot } of slots) {
    const task = next();
    if (task < 0) break;
    assigned.push({ task, host, slot });
  }
  return { assigned, held: [] };
}
