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
  /** The hosts with a slot reserved for a held task (a busy host it should end soonest on). */
  readonly reserved: number[];
}

/**
 * What starting a task on a host costs before its own work begins (see
 * startcost.ts), by host view. Without it placement counts work / speed only.
 */
export interface PlacementCosts {
  /** Seconds from `at` (the slot frees) until the task's own work can begin on the host. */
  cost(task: number, view: number, at: number): number;
  /** O(1) lower bound of cost(): what no holding saves (the installs). */
  floor(task: number, view: number): number;
  /** Bytes of the task's dependencies the host lacks: among equal finishes, fewer wins. */
  missing(task: number, view: number): number;
  /** Views likely to hold the task's dependencies (they built them), looked at first. */
  holders(task: number): readonly number[];
}

/** With costs, at most this many hosts per task get their exact cost computed (O(dependencies) each). */
export const COST_LOOK = 8;

/** A copy must be expected to end within this fraction of the time the running copy still needs… */
const COPY_GAIN = 0.9;
/** …on a host at least this much faster (learned speeds are noisy). */
export const COPY_SPEEDUP = 1.5;

/**
 * Places candidates drawn from `next` (best first, undefined when none) where each finishes earliest.
 *
 * The best slot for a task is the least of (finish, start, slower, redundant,
 * host index) over every host's earliest slot. On an idle host the task
 * starts now, so among idle hosts the fastest wins whatever the task; a busy
 * host can only beat that if it is faster still. So each candidate looks at
 * the best idle host (hosts in speed order, a cursor past those no longer
 * idle) and at the busy hosts faster than it, not at every host: a burst of
 * hundreds of ready tasks on hundreds of idle hosts costs O(tasks + hosts),
 * not their product. The choice is the one a scan of every host makes.
 */
export function placeEarliestFinish(
  next: () => Candidate | undefined,
  est: (task: number) => number,
  hosts: readonly HostView[],
  now: number,
  maxLook: number,
  costs?: PlacementCosts,
): PlacementResult {
  const assigned: Placed[] = [];
  const held: number[] = [];
  const reserved: number[] = [];
  let idle = 0;
  for (const h of hosts) for (const a of h.avail) if (a <= now) idle++;
  if (idle === 0) return { assigned, held, reserved };
  if (costs !== undefined) return placeWithCosts(next, est, hosts, now, maxLook, costs, idle);
  const bySpeed = (a: number, b: number): number => hosts[b]!.speed - hosts[a]!.speed || a - b;
  // Hosts with a slot free now, fastest first; `first` skips those filled since.
  const idleOrder: number[] = [];
  // Hosts whose every slot is taken until later, fastest first.
  const busy: number[] = [];
  for (let h = 0; h < hosts.length; h++) {
    const e = earliest(hosts[h]!);
    if (e.slot < 0) continue;
    (e.start <= now ? idleOrder : busy).push(h);
  }
  idleOrder.sort(bySpeed);
  busy.sort(bySpeed);
  let first = 0;
  const makeBusy = (h: number): void => {
    let lo = 0;
    let hi = busy.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (bySpeed(busy[mid]!, h) < 0) lo = mid + 1;
      else hi = mid;
    }
    busy.splice(lo, 0, h);
  };
  // The fastest idle host, a non-redundant slot preferred among equals; -1 when none.
  const bestIdle = (): number => {
    while (first < idleOrder.length) {
      const h = idleOrder[first]!;
      if (earliest(hosts[h]!).start <= now) break;
      first++;
      makeBusy(h);
    }
    if (first >= idleOrder.length) return -1;
    const top = idleOrder[first]!;
    const speed = hosts[top]!.speed;
    let fallback = -1;
    for (let i = first; i < idleOrder.length; i++) {
      const h = idleOrder[i]!;
      const host = hosts[h]!;
      if (host.speed !== speed) break;
      const e = earliest(host);
      if (e.start > now) continue;
      if (e.slot < host.redundantFrom) return h;
      if (fallback < 0) fallback = h;
    }
    return fallback;
  };
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
    const best: Choice = {
      host: -1,
      slot: -1,
      finish: Infinity,
      start: Infinity,
      speed: 0,
      redundant: true,
    };
    const top = bestIdle();
    if (top >= 0) consider(best, top, hosts[top]!, work, now);
    const idleSpeed = top >= 0 ? hosts[top]!.speed : -Infinity;
    for (const h of busy) {
      const host = hosts[h]!;
      // Slower or as fast: it starts later than the idle host, so it ends no sooner.
      if (host.speed <= idleSpeed) break;
      consider(best, h, host, work, now);
    }
    if (best.host < 0) {
      held.push(task);
      break;
    }
    hosts[best.host]!.avail[best.slot] = best.finish;
    if (best.start <= now) {
      assigned.push({ task, host: best.host, slot: best.slot });
      idle--;
    } else {
      held.push(task);
      reserved.push(best.host);
    }
  }
  return { assigned, held, reserved };
}

interface Choice {
  host: number;
  slot: number;
  finish: number;
  start: number;
  speed: number;
  redundant: boolean;
}

/** A host's earliest slot (the first of the earliest) and when it frees; slot -1 when none. */
function earliest(host: HostView): { slot: number; start: number } {
  let slot = -1;
  let start = Infinity;
  for (let s = 0; s < host.avail.length; s++) {
    if (host.avail[s]! < start) {
      start = host.avail[s]!;
      slot = s;
    }
  }
  return { slot, start };
}

/** Makes host `h` the choice if the task ends sooner there (ties: earlier start, faster, not redundant, lower index). */
function consider(best: Choice, h: number, host: HostView, work: number, now: number): void {
  const e = earliest(host);
  if (e.slot < 0) return;
  const start = Math.max(e.start, now);
  const finish = start + work / host.speed;
  const redundant = e.slot >= host.redundantFrom;
  const better =
    finish < best.finish ||
    (finish === best.finish &&
      (start < best.start ||
        (start === best.start &&
          (host.speed > best.speed ||
            (host.speed === best.speed &&
              ((best.redundant && !redundant) ||
                (best.redundant === redundant && h < best.host)))))));
  if (!better) return;
  best.host = h;
  best.slot = e.slot;
  best.finish = finish;
  best.start = start;
  best.speed = host.speed;
  best.redundant = redundant;
}

/**
 * Earliest finish counting start costs: a task's finish on a host is when
 * its slot frees, plus what it costs to start there, plus its work at the
 * host's speed. The hosts that built the task's dependencies are looked at
 * first; then the hosts free now, fastest first, until one could not beat
 * the best so far even at no cost (no slower one could either) or COST_LOOK
 * of them were costed; then the busy hosts, the soonest free first, until
 * one frees too late to beat the best even at the fastest speed and no cost
 * (no later one could either) or COST_LOOK of them were costed. Each host
 * is bounded in O(1) (slot, installs, work) and costed exactly (O(the
 * task's dependencies)) only when the bound could beat the best so far.
 *
 * The free hosts are a list in speed order with a cursor past those filled
 * since, the busy ones a list by when they free, kept sorted as slots are
 * taken: a burst of hundreds of ready tasks on hundreds of free hosts costs
 * O(COST_LOOK) looks per task, not a walk over every host.
 */
function placeWithCosts(
  next: () => Candidate | undefined,
  est: (task: number) => number,
  hosts: readonly HostView[],
  now: number,
  maxLook: number,
  costs: PlacementCosts,
  idleSlots: number,
): PlacementResult {
  const assigned: Placed[] = [];
  const held: number[] = [];
  const reserved: number[] = [];
  let idle = idleSlots;
  const slotOf = new Int32Array(hosts.length);
  const freeAt = new Float64Array(hosts.length);
  const refresh = (h: number): void => {
    const e = earliest(hosts[h]!);
    slotOf[h] = e.slot;
    freeAt[h] = e.start;
  };
  const free: number[] = [];
  const busy: number[] = [];
  let fastest = 0;
  for (let h = 0; h < hosts.length; h++) {
    refresh(h);
    if (slotOf[h]! < 0) continue;
    (freeAt[h]! <= now ? free : busy).push(h);
    fastest = Math.max(fastest, hosts[h]!.speed);
  }
  free.sort((a, b) => hosts[b]!.speed - hosts[a]!.speed || a - b);
  const byFreeAt = (a: number, b: number): number => freeAt[a]! - freeAt[b]! || a - b;
  busy.sort(byFreeAt);
  // Where host h goes in (or is found in) `busy`, by its current freeAt.
  const busyIndex = (h: number): number => {
    let lo = 0;
    let hi = busy.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (byFreeAt(busy[mid]!, h) < 0) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
  // A slot of h was taken: h's place among the busy hosts follows (free hosts are skipped lazily).
  const took = (h: number): void => {
    if (freeAt[h]! > now) busy.splice(busyIndex(h), 1);
    refresh(h);
    if (slotOf[h]! >= 0 && freeAt[h]! > now) busy.splice(busyIndex(h), 0, h);
  };
  let first = 0;
  const looked = new Uint8Array(hosts.length);
  for (let n = 0; idle > 0 && n < maxLook; n++) {
    const cand = next();
    if (cand === undefined) break;
    const task = cand.task;
    const work = est(task);
    if (cand.stay !== undefined) {
      const copy = placeCopy(task, cand.stay, work, hosts, now, costs);
      if (copy !== undefined) {
        assigned.push(copy);
        took(copy.host);
        idle--;
      }
      continue;
    }
    const best: CostChoice = {
      host: -1,
      slot: -1,
      finish: Infinity,
      missing: Infinity,
      start: Infinity,
      speed: 0,
      redundant: true,
    };
    let exact = 0;
    const seen: number[] = [];
    const look = (h: number): void => {
      if (looked[h] === 1 || slotOf[h]! < 0) return;
      looked[h] = 1;
      seen.push(h);
      const host = hosts[h]!;
      const start = Math.max(freeAt[h]!, now);
      if (start + costs.floor(task, h) + work / host.speed > best.finish) return;
      exact++;
      const finish = start + costs.cost(task, h, start) + work / host.speed;
      const missing = costs.missing(task, h);
      const redundant = slotOf[h]! >= host.redundantFrom;
      const better =
        finish < best.finish ||
        (finish === best.finish &&
          (missing < best.missing ||
            (missing === best.missing &&
              (start < best.start ||
                (start === best.start &&
                  (host.speed > best.speed ||
                    (host.speed === best.speed &&
                      ((best.redundant && !redundant) ||
                        (best.redundant === redundant && h < best.host)))))))));
      if (!better) return;
      Object.assign(best, {
        host: h,
        slot: slotOf[h]!,
        finish,
        missing,
        start,
        speed: host.speed,
        redundant,
      });
    };
    for (const h of costs.holders(task)) look(h);
    while (first < free.length && freeAt[free[first]!]! > now) first++;
    exact = 0;
    if (first < free.length) look(free[first]!);
    for (let i = first + 1; i < free.length; i++) {
      const h = free[i]!;
      if (exact >= COST_LOOK || now + work / hosts[h]!.speed > best.finish) break;
      if (freeAt[h]! <= now) look(h);
    }
    exact = 0;
    for (const h of busy) {
      if (exact >= COST_LOOK || freeAt[h]! + work / fastest > best.finish) break;
      look(h);
    }
    for (const h of seen) looked[h] = 0;
    if (best.host < 0) {
      held.push(task);
      break;
    }
    hosts[best.host]!.avail[best.slot] = best.finish;
    took(best.host);
    if (best.start <= now) {
      assigned.push({ task, host: best.host, slot: best.slot });
      idle--;
    } else {
      held.push(task);
      reserved.push(best.host);
    }
  }
  return { assigned, held, reserved };
}

interface CostChoice extends Choice {
  missing: number;
}

/** A copy on the truly idle slot where it ends first, if that beats the running copy clearly. */
function placeCopy(
  task: number,
  stay: Stay,
  work: number,
  hosts: readonly HostView[],
  now: number,
  costs?: PlacementCosts,
): Placed | undefined {
  let best: Placed | undefined;
  let bestFinish = now + COPY_GAIN * (stay.finish - now);
  for (let h = 0; h < hosts.length; h++) {
    const host = hosts[h]!;
    if (host.speed < COPY_SPEEDUP * stay.speed || stay.hosts.includes(h)) continue;
    const slot = host.avail.findIndex((a, s) => a <= now && s < host.redundantFrom);
    if (slot < 0) continue;
    // The cost walks the task's dependencies: only for a host that could win without it.
    if (now + work / host.speed >= bestFinish) continue;
    const finish = now + (costs?.cost(task, h, now) ?? 0) + work / host.speed;
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
  return { assigned, held: [], reserved: [] };
}
