/** The simulator's event queue: a binary min-heap on (time, sequence), so equal times keep insertion order. */
export interface SimEvent {
  readonly time: number;
  readonly seq: number;
  readonly task: number;
  /** Index of the host (in the simulation's host list). */
  readonly host: number;
  /** Run token: a finish whose token no longer matches the task's run is stale (the host was lost). */
  readonly token: number;
}

export class EventQueue {
  private readonly items: SimEvent[] = [];
  private seq = 0;

  /** Number of queued events. */
  get size(): number {
    return this.items.length;
  }

  /** Queues an event. */
  push(time: number, task: number, host: number, token: number): void {
    const items = this.items;
    const ev: SimEvent = { time, seq: this.seq++, task, host, token };
    let i = items.length;
    items.push(ev);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!earlier(ev, items[p]!)) break;
      items[i] = items[p]!;
      i = p;
    }
    items[i] = ev;
  }

  /** The time of the earliest event, or Infinity. */
  peekTime(): number {
    return this.items[0]?.time ?? Infinity;
  }

  /** Removes and returns the earliest event. */
  pop(): SimEvent | undefined {
    const items = this.items;
    const top = items[0];
    const last = items.pop();
    if (top === undefined || last === undefined || items.length === 0) return top;
    let i = 0;
    const n = items.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && earlier(items[r]!, items[l]!) ? r : l;
      if (!earlier(items[c]!, last)) break;
      items[i] = items[c]!;
      i = c;
    }
    items[i] = last;
    return top;
  }
}

function earlier(a: SimEvent, b: SimEvent): boolean {
  return a.time < b.time || (a.time === b.time && a.seq < b.seq);
}
