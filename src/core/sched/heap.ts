/**
 * The ready set: a binary max-heap of task indices ordered by a primary and a
 * secondary priority held in caller-owned arrays, ties broken by the lower
 * index so every schedule is deterministic. O(log n) push and pop; after the
 * caller rewrites the priority arrays, rebuild() restores the order in O(n).
 */
export class TaskHeap {
  private items: Int32Array;
  private n = 0;
  private readonly pos: Int32Array;

  constructor(
    capacity: number,
    private readonly primary: Float64Array,
    private readonly secondary: Float64Array,
  ) {
    this.items = new Int32Array(Math.max(1, capacity));
    this.pos = new Int32Array(Math.max(1, capacity)).fill(-1);
  }

  /** Number of tasks in the heap. */
  get size(): number {
    return this.n;
  }

  /** True when the task is in the heap. */
  has(task: number): boolean {
    return (this.pos[task] ?? -1) >= 0;
  }

  /** Adds a task (no-op when already present). */
  push(task: number): void {
    if (this.has(task)) return;
    const i = this.n++;
    this.items[i] = task;
    this.pos[task] = i;
    this.up(i);
  }

  /** The highest-priority task without removing it, or -1 when empty. */
  peek(): number {
    return this.n === 0 ? -1 : this.items[0]!;
  }

  /** Removes and returns the highest-priority task, or -1 when empty. */
  pop(): number {
    if (this.n === 0) return -1;
    const top = this.items[0]!;
    this.removeAt(0);
    return top;
  }

  /** Removes a task wherever it is (no-op when absent). */
  remove(task: number): void {
    const i = this.pos[task] ?? -1;
    if (i >= 0) this.removeAt(i);
  }

  /** Restores heap order after the priority arrays changed. */
  rebuild(): void {
    for (let i = (this.n >> 1) - 1; i >= 0; i--) this.down(i);
  }

  /** The tasks currently held, in no particular order. */
  toArray(): number[] {
    return Array.from(this.items.subarray(0, this.n));
  }

  private removeAt(i: number): void {
    const task = this.items[i]!;
    this.pos[task] = -1;
    const last = --this.n;
    if (i === last) return;
    const moved = this.items[last]!;
    this.items[i] = moved;
    this.pos[moved] = i;
    this.down(i);
    this.up(this.pos[moved] ?? i);
  }

  /** True when task a should come out before task b. */
  private before(a: number, b: number): boolean {
    const pa = this.primary[a]!;
    const pb = this.primary[b]!;
    if (pa !== pb) return pa > pb;
    const sa = this.secondary[a]!;
    const sb = this.secondary[b]!;
    if (sa !== sb) return sa > sb;
    return a < b;
  }

  private up(i: number): void {
    const items = this.items;
    const task = items[i]!;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const p = items[parent]!;
      if (!this.before(task, p)) break;
      items[i] = p;
      this.pos[p] = i;
      i = parent;
    }
    items[i] = task;
    this.pos[task] = i;
  }

  private down(i: number): void {
    const items = this.items;
    const n = this.n;
    const task = items[i]!;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      let c = l;
      if (r < n && this.before(items[r]!, items[l]!)) c = r;
      const child = items[c]!;
      if (!this.before(child, task)) break;
      items[i] = child;
      this.pos[child] = i;
      i = c;
    }
    items[i] = task;
    this.pos[task] = i;
  }
}
