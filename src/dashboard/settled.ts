/**
 * The packages a build has settled (built, failed, indirectly failed), in
 * the order they settled, for the dashboard's long lists: a page sends the
 * newest few with its snapshot and asks for older ones a page at a time
 * (`/api/packages`), so no list is ever sent whole. Appending is O(1); a
 * page without a filter is O(page); a retry (an operator's click) is
 * O(packages). No I/O, no clock.
 */

export type SettledResult = "built" | "failed" | "indirect-failed";

export const SETTLED_RESULTS: readonly SettledResult[] = ["built", "failed", "indirect-failed"];

export interface SettledView {
  /** 1, 2, ...: the order it settled in. */
  readonly n: number;
  readonly pkgname: string;
  /** "" for an indirect failure (its event does not say). */
  readonly pkgpath: string;
  readonly result: SettledResult;
  /** "" for an indirect failure. */
  readonly host: string;
  /** The stage that failed ("" unless failed). */
  readonly stage: string;
  readonly reason: string;
  /** The failed package that failed it ("" unless indirect-failed). */
  readonly culprit: string;
  readonly timeMs: number;
  readonly wallMs: number;
  /** Finished stages with a log (failed packages only). */
  readonly logs: readonly string[];
}

export interface SettledLists {
  readonly all: SettledView[];
  readonly byResult: Record<SettledResult, SettledView[]>;
  next: number;
}

export function emptySettled(): SettledLists {
  return { all: [], byResult: { built: [], failed: [], "indirect-failed": [] }, next: 1 };
}

/** Appends a package that settled now. */
export function addSettled(l: SettledLists, v: Omit<SettledView, "n">): SettledView {
  const s = { ...v, n: l.next++ };
  l.all.push(s);
  l.byResult[s.result].push(s);
  return s;
}

/** Takes back a failure and the indirect failures it caused (the operator retried it). */
export function unsettle(l: SettledLists, failed: string, revived: readonly string[]): void {
  const names = new Set(revived);
  const gone = (s: SettledView): boolean =>
    (s.result === "failed" && s.pkgname === failed) ||
    (s.result === "indirect-failed" && names.has(s.pkgname));
  const keep = (list: SettledView[]): void => {
    let j = 0;
    for (const s of list) if (!gone(s)) list[j++] = s;
    list.length = j;
  };
  keep(l.all);
  keep(l.byResult.failed);
  keep(l.byResult["indirect-failed"]);
}

/** The newest `limit`, newest first. */
export function newest(list: readonly SettledView[], limit: number): SettledView[] {
  const out: SettledView[] = [];
  for (let i = list.length - 1; i >= 0 && out.length < limit; i--) out.push(list[i]!);
  return out;
}

export interface PageQuery {
  /** "settled": every result. */
  readonly state: SettledResult | "settled";
  /** How many of the newest to pass over. */
  readonly offset: number;
  readonly limit: number;
  /** Only packages whose name or path holds this text ("" : all). */
  readonly q: string;
}

export interface Page {
  readonly state: PageQuery["state"];
  readonly offset: number;
  readonly limit: number;
  readonly q: string;
  /** How many match in all. */
  readonly total: number;
  /** Newest first. */
  readonly items: readonly SettledView[];
}

export const MAX_PAGE = 500;

/** One page of a list, newest first. */
export function pageOf(l: SettledLists, q: PageQuery): Page {
  const list = q.state === "settled" ? l.all : l.byResult[q.state];
  const limit = Math.max(0, Math.min(MAX_PAGE, Math.floor(q.limit)));
  const offset = Math.max(0, Math.floor(q.offset));
  const text = q.q.toLowerCase();
  let items: SettledView[];
  let total: number;
  if (text === "") {
    total = list.length;
    items = [];
    for (let i = list.length - 1 - offset; i >= 0 && items.length < limit; i--)
      items.push(list[i]!);
  } else {
    total = 0;
    items = [];
    for (let i = list.length - 1; i >= 0; i--) {
      const s = list[i]!;
      if (!s.pkgname.toLowerCase().includes(text) && !s.pkgpath.toLowerCase().includes(text))
        continue;
      if (total >= offset && items.length < limit) items.push(s);
      total++;
    }
  }
  return { state: q.state, offset, limit, q: q.q, total, items };
}

/** Reads a page query from URL parameters; a bad one says why. */
export function parsePageQuery(
  p: URLSearchParams,
  defaultLimit: number,
): { ok: true; value: PageQuery } | { ok: false; error: string } {
  const state = p.get("state") ?? "settled";
  if (state !== "settled" && !(SETTLED_RESULTS as readonly string[]).includes(state))
    return { ok: false, error: `state is one of settled, ${SETTLED_RESULTS.join(", ")}` };
  const num = (name: string, dflt: number): number | null => {
    const v = p.get(name);
    if (v === null || v === "") return dflt;
    return /^\d{1,9}$/.test(v) ? Number(v) : null;
  };
  const offset = num("offset", 0);
  const limit = num("limit", defaultLimit);
  if (offset === null || limit === null)
    return { ok: false, error: "offset and limit are whole numbers" };
  const q = (p.get("q") ?? "").slice(0, 200);
  return { ok: true, value: { state: state as PageQuery["state"], offset, limit, q } };
}
