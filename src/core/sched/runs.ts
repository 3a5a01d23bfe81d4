/**
 * Who runs what: the running copies of every task, per host. A task may run
 * on several hosts at once (a copy started to overtake a slow host, or to
 * measure an unknown host's speed). The first copy to finish counts; the
 * others become *redundant*: they keep their slot until it is needed, so a
 * host that has nothing better to do finishes them and the duration becomes
 * a measurement of its speed against the same package.
 */

export interface Copy {
  readonly task: number;
  readonly host: number;
  readonly start: number;
  /** Seconds the copy was expected to spend before its own work (dependencies, sync): see startcost.ts. */
  readonly cost: number;
}

interface HostRuns {
  readonly active: Copy[];
  readonly redundant: Copy[];
}

export class RunTable {
  private readonly byTask = new Map<number, Copy[]>();
  private readonly hosts: HostRuns[] = [];

  /** Adds a host; returns its index. */
  addHost(): number {
    this.hosts.push({ active: [], redundant: [] });
    return this.hosts.length - 1;
  }

  /** Starts a copy of a task on a host, expected to spend `cost` seconds before its own work. */
  start(task: number, host: number, now: number, cost = 0): void {
    const c: Copy = { task, host, start: now, cost };
    this.hosts[host]!.active.push(c);
    const list = this.byTask.get(task);
    if (list === undefined) this.byTask.set(task, [c]);
    else list.push(c);
  }

  /** The running copies of an unfinished task. */
  copiesOf(task: number): readonly Copy[] {
    return this.byTask.get(task) ?? [];
  }

  /** Every unfinished task with its copies. */
  tasks(): IterableIterator<[number, Copy[]]> {
    return this.byTask.entries();
  }

  /** Number of unfinished tasks running. */
  get size(): number {
    return this.byTask.size;
  }

  /** Copies of unfinished tasks on a host. */
  activeOn(host: number): readonly Copy[] {
    return this.hosts[host]?.active ?? [];
  }

  /** Redundant copies (their task already finished elsewhere) on a host. */
  redundantOn(host: number): readonly Copy[] {
    return this.hosts[host]?.redundant ?? [];
  }

  /**
   * The first copy of a task finished on `host`: the task's other copies
   * become redundant (kept when `keep`, else dropped) and are returned.
   * Undefined when the task had no copy there.
   */
  finish(task: number, host: number, keep: boolean): { mine: Copy; others: Copy[] } | undefined {
    const list = this.byTask.get(task);
    const mine = list?.find((c) => c.host === host);
    if (list === undefined || mine === undefined) return undefined;
    this.byTask.delete(task);
    const others: Copy[] = [];
    for (const c of list) {
      remove(this.hosts[c.host]!.active, c);
      if (c === mine) continue;
      others.push(c);
      if (keep) this.hosts[c.host]!.redundant.push(c);
    }
    return { mine, others };
  }

  /** Removes a redundant copy that finished or is stopped; undefined when there is none. */
  dropRedundant(task: number, host: number): Copy | undefined {
    const list = this.hosts[host]?.redundant;
    const c = list?.find((x) => x.task === task);
    if (list !== undefined && c !== undefined) remove(list, c);
    return c;
  }

  /**
   * One copy of a task on a host is gone (its slot was lost) while the host
   * stays: true when the task now runs nowhere (it must be queued again).
   */
  dropCopy(task: number, host: number): boolean {
    const h = this.hosts[host];
    if (h === undefined) return false;
    if (this.dropRedundant(task, host) !== undefined) return false;
    const c = h.active.find((x) => x.task === task);
    if (c === undefined) return false;
    remove(h.active, c);
    const rest = (this.byTask.get(task) ?? []).filter((x) => x !== c);
    if (rest.length > 0) {
      this.byTask.set(task, rest);
      return false;
    }
    this.byTask.delete(task);
    return true;
  }

  /**
   * Removes everything a host ran. Returns the tasks that now run nowhere
   * (they must be queued again).
   */
  dropHost(host: number): number[] {
    const h = this.hosts[host];
    if (h === undefined) return [];
    h.redundant.length = 0;
    const orphans: number[] = [];
    for (const c of h.active.splice(0)) {
      const rest = (this.byTask.get(c.task) ?? []).filter((x) => x !== c);
      if (rest.length > 0) this.byTask.set(c.task, rest);
      else {
        this.byTask.delete(c.task);
        orphans.push(c.task);
      }
    }
    return orphans;
  }
}

/**
 * Seconds a copy spent on its own work by `now`: its time less its expected
 * start cost, but never under half its time (a start cost overestimated must
 * not teach the duration model that the work took nothing).
 */
export function ownSeconds(c: Copy, now: number): number {
  const elapsed = now - c.start;
  return Math.max(elapsed - c.cost, 0.5 * elapsed);
}

function remove<T>(list: T[], item: T): void {
  const i = list.indexOf(item);
  if (i >= 0) list.splice(i, 1);
}
