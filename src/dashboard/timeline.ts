/**
 * The dashboard's timeline: a run per package copy started on a host. It
 * keeps every open run and the newest MAX_RUNS closed ones, whatever the
 * length of the build, and finds a package's open runs by its name, so
 * opening or closing a run is O(1) (it used to search every run). The
 * changed run ids go to a set the caller gives (state.ts's Delta); a
 * dropped run's id goes there too, so pages drop it as well. No I/O.
 */

export interface RunView {
  readonly id: number;
  readonly pkgname: string;
  readonly host: string;
  readonly start: number;
  end: number | null;
  result: "running" | "built" | "failed" | "lost" | "cancelled";
}

export interface Timeline {
  /** By id, oldest first. */
  readonly runs: Map<number, RunView>;
  /** The open runs of each package (its copies). */
  readonly open: Map<string, RunView[]>;
  /** Closed runs' ids in the order they closed, from `head` on. */
  closed: number[];
  head: number;
  /** The id of the next run (how many there were). */
  next: number;
}

/** Closed runs the timeline keeps (the open ones are always kept). */
export const MAX_RUNS = 1000;

export function emptyTimeline(): Timeline {
  return { runs: new Map(), open: new Map(), closed: [], head: 0, next: 0 };
}

/** Opens a run of `pkgname` on `host` at `t`. */
export function openRun(
  tl: Timeline,
  pkgname: string,
  host: string,
  t: number,
  changed?: Set<number>,
): void {
  const r: RunView = { id: tl.next++, pkgname, host, start: t, end: null, result: "running" };
  tl.runs.set(r.id, r);
  const copies = tl.open.get(pkgname);
  if (copies === undefined) tl.open.set(pkgname, [r]);
  else copies.push(r);
  changed?.add(r.id);
}

function closeRun(
  tl: Timeline,
  r: RunView,
  t: number,
  result: RunView["result"],
  changed?: Set<number>,
): void {
  r.end = t;
  r.result = result;
  changed?.add(r.id);
  tl.closed.push(r.id);
  // The oldest closed runs leave the timeline; the array is compacted now and then.
  while (tl.closed.length - tl.head > MAX_RUNS) {
    const old = tl.closed[tl.head++]!;
    tl.runs.delete(old);
    changed?.add(old);
  }
  if (tl.head > 4096 && tl.head * 2 > tl.closed.length) {
    tl.closed = tl.closed.slice(tl.head);
    tl.head = 0;
  }
}

/** Closes a package's open runs: those on `onHost` as `result`, the others as `others` (null: left open). */
export function closeCopies(
  tl: Timeline,
  pkgname: string,
  t: number,
  onHost: string,
  result: RunView["result"],
  others: RunView["result"] | null,
  changed?: Set<number>,
): void {
  const copies = tl.open.get(pkgname);
  if (copies === undefined) return;
  const left: RunView[] = [];
  for (const r of copies) {
    if (r.host === onHost) closeRun(tl, r, t, result, changed);
    else if (others !== null) closeRun(tl, r, t, others, changed);
    else left.push(r);
  }
  if (left.length > 0) tl.open.set(pkgname, left);
  else tl.open.delete(pkgname);
}

/** Closes every open run. */
export function closeAll(
  tl: Timeline,
  t: number,
  result: RunView["result"],
  changed?: Set<number>,
): void {
  for (const copies of tl.open.values())
    for (const r of copies) closeRun(tl, r, t, result, changed);
  tl.open.clear();
}
