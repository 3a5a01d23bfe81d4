/**
 * Splits the farm's dispatch latency (bench/lib/simfarm.ts) into its parts,
 * from the master's trace (HERD_TRACE=FILE, src/bulk/trace.ts) and the
 * farm's (FILE.farm.json), both on the machine's wall clock:
 *
 *   HERD_TRACE=/tmp/lat node dist/bench/fullscale.js --hosts 100 --dirs 5000 \
 *     --scale 0.1 --stop-after 4000
 *   node dist/bench/latency.js /tmp/lat
 *
 * A package P could start at the later of its host's last answer (the end
 * of the previous package C there) and its dependencies' packages made (the
 * last, C, on its own host). Between that and P's first task reaching the
 * host: C's last stage result read by the master, C's package fetched
 * (get), read, vetted and hashed, the planner told, the store made durable,
 * the file committed, the dispatch round that assigned P, P's lease, its
 * package-start event, its log directory, its first task sent, and the
 * farm reading it.
 *
 * The farm's cause C is the later of the two in the farm's view; the master
 * may learn of the other one later (the host's previous package fetched
 * after C's commit). So the slowest starts are also sorted by what held them
 * in the master: their place in a large dispatch round (the starts before
 * them in one turn), the master learning late that the host was free or the
 * last dependency made (the previous package's or the dependency's answer
 * and fetch), or a round that could have started them and did not (passed
 * over: assigned more than 20 ms after the master knew both).
 *
 * Usage: node dist/bench/latency.js TRACE [--top 0.01] [--show 15] [--first N]
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { atFraction } from "./lib/measure.js";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: "string", default: "0.01" },
    show: { type: "string", default: "15" },
    // Only the first N starts (to compare a whole run with one stopped after N).
    first: { type: "string" },
  },
});
const file = positionals[0];
if (file === undefined) throw new Error("usage: latency TRACE");

interface FarmTrace {
  starts: { pkgname: string; host: string; init: number; prev: number; installs: string[] }[];
  made: Record<string, number>;
  stalls: [number, number][];
}
const farm = JSON.parse(readFileSync(`${file}.farm.json`, "utf8")) as FarmTrace;
if (values.first !== undefined)
  farm.starts = [...farm.starts].sort((a, b) => a.init - b.init).slice(0, Number(values.first));

// Master: per package, its points in order; the rest (gc, stall, round) apart.
const points = new Map<string, [string, number][]>();
const gcs: [number, number][] = [];
const stalls: [number, number][] = [];
// The master's main thread ready but without a CPU (ms per 100 ms, over 5).
const waits: [number, number][] = [];
const rounds: number[] = [];
// Per round (index as in `rounds`), the packages it assigned, in order.
const roundStarts: string[][] = [];
// Per round, what it saw (with the `seen` point): ready tasks, free slots, starts, holds.
const roundSeen: (readonly number[] | undefined)[] = [];
// Timed calls in the loop (ms): refits (maintain), progress events over 1 ms.
const slow = new Map<string, [number, number][]>();
for (const line of readFileSync(file, "utf8").split("\n")) {
  const sp1 = line.indexOf(" ");
  if (sp1 < 0) continue;
  const sp2 = line.indexOf(" ", sp1 + 1);
  const t = Number(line.slice(0, sp1));
  const what = line.slice(sp1 + 1, sp2 < 0 ? undefined : sp2);
  const name = sp2 < 0 ? "" : line.slice(sp2 + 1);
  if (what === "gc") gcs.push([t, Number(name)]);
  else if (what === "stall") stalls.push([t, Number(name)]);
  else if (what === "wait") waits.push([t, Number(name)]);
  else if (what === "round") {
    rounds.push(t);
    roundStarts.push([]);
    roundSeen.push(undefined);
  } else if (what === "seen") roundSeen[roundSeen.length - 1] = name.split(":").map(Number);
  else if (what === "maintain" || what === "progress" || what === "decide") {
    let l = slow.get(what);
    if (l === undefined) slow.set(what, (l = []));
    l.push([t, Number(name.split(":")[0])]);
  } else if (what !== "lag") {
    if (what === "assigned") roundStarts[roundStarts.length - 1]?.push(name);
    let l = points.get(name);
    if (l === undefined) points.set(name, (l = []));
    l.push([what, t]);
  } else process.stdout.write(`master event loop delay: ${line.slice(sp1 + 1)}\n`);
}

/** The last instant of `what` for `name` at or before `before` (undefined: none). */
function last(name: string, what: string, before = Infinity): number | undefined {
  let best: number | undefined;
  for (const [w, t] of points.get(name) ?? [])
    if (w === what && t <= before && (best === undefined || t > best)) best = t;
  return best;
}
function first(name: string, what: string, after: number, before = Infinity): number | undefined {
  for (const [w, t] of points.get(name) ?? [])
    if (w === what && t >= after && t <= before) return t;
  return undefined;
}
/** C's last stage result read by the master at or before `before`. */
function lastStage(name: string, before: number): number | undefined {
  let best: number | undefined;
  for (const [w, t] of points.get(name) ?? [])
    if (
      w.startsWith("stage:") &&
      w !== "stage:Fetch" &&
      t <= before &&
      (best === undefined || t > best)
    )
      best = t;
  return best;
}

// The previous package on each host, by the farm's starts in order.
const prevOnHost = new Map<(typeof farm.starts)[number], string>();
const lastOn = new Map<string, string>();
for (const s of [...farm.starts].sort((a, b) => a.init - b.init)) {
  const p = lastOn.get(s.host);
  if (p !== undefined && s.prev >= 0) prevOnHost.set(s, p);
  lastOn.set(s.host, s.pkgname);
}

const PARTS = [
  "to master (C's last result read)",
  "C: result → get sent",
  "C: get (fetch round trip)",
  "C: read, vet, hash",
  "C: → planner told",
  "C: planner",
  "C: store flush (durable)",
  "C: commit (rename)",
  "→ round that assigned P",
  "round: decision",
  "P: → leased (run)",
  "P: package-start event",
  "P: job set up (log dir made later)",
  "P: → first task sent",
  "to farm (P's Init read)",
] as const;

interface Split {
  readonly pkg: string;
  /** For one passed over: why the rounds between the master knowing and its round did not start it. */
  readonly between?: string;
  /** What held it in the master (see the head of this file). */
  readonly held: Held;
  readonly cause: string;
  readonly by: "prev" | "dep";
  readonly total: number;
  /** When its first task reached the farm (ms). */
  readonly at: number;
  readonly parts: (number | null)[];
}

/** Packages before P in its round, and when the master knew P could start on its host. */
type Held =
  | "a large round (over 32 starts before it)"
  | "the master learned late the host was free"
  | "the master learned late its last dependency was made"
  | "passed over (assigned > 20 ms after the master knew)"
  | "other";

const splits: Split[] = [];
let unmatched = 0;
for (const s of farm.starts) {
  let ready = s.prev;
  let cause: string | undefined = prevOnHost.get(s);
  let by: "prev" | "dep" = "prev";
  for (const d of s.installs) {
    const m = farm.made[d] ?? -1;
    if (m > ready) {
      ready = m;
      cause = d;
      by = "dep";
    }
  }
  if (ready < 0 || ready > s.init || cause === undefined) continue;
  const P = s.pkgname;
  const C = cause;
  // P's dispatch: the last assignment before its Init reached the farm, then what followed it.
  const assigned = last(P, "assigned", s.init);
  const cRead = lastStage(C, assigned ?? s.init);
  if (assigned === undefined || cRead === undefined) {
    unmatched++;
    continue;
  }
  const get = first(C, "get", cRead, assigned);
  const got = get === undefined ? undefined : first(C, "got", get, assigned);
  const fetched = got === undefined ? undefined : first(C, "stage:Fetch", got, assigned);
  const settle = first(C, "settle", cRead, assigned);
  const finished = settle === undefined ? undefined : first(C, "finished", settle, assigned);
  const durable = finished === undefined ? undefined : first(C, "durable", finished, assigned);
  const committed = durable === undefined ? undefined : first(C, "committed", durable, assigned);
  let round: number | undefined;
  let ri = -1;
  for (let i = 0; i < rounds.length && rounds[i]! <= assigned; i++) ri = i;
  if (ri >= 0) round = rounds[ri]!;
  // In the master: the host's previous package settled, and each dependency built here committed.
  const prevPkg = prevOnHost.get(s);
  const hostFree =
    prevPkg === undefined ? -Infinity : (last(prevPkg, "finished", assigned) ?? -Infinity);
  let depsMade = -Infinity;
  for (const d of s.installs)
    depsMade = Math.max(depsMade, last(d, "committed", assigned) ?? -Infinity);
  const knew = Math.max(hostFree, depsMade);
  const before = ri < 0 ? 0 : roundStarts[ri]!.indexOf(P);
  const late = ready + 20;
  const held: Held =
    before > 32
      ? "a large round (over 32 starts before it)"
      : knew !== -Infinity && assigned - knew > 20
        ? "passed over (assigned > 20 ms after the master knew)"
        : knew > late && hostFree >= depsMade
          ? "the master learned late the host was free"
          : knew > late
            ? "the master learned late its last dependency was made"
            : "other";
  const run = first(P, "run", assigned, s.init);
  const started = run === undefined ? undefined : first(P, "started", run, s.init);
  const logdir = started === undefined ? undefined : first(P, "logdir", started, s.init);
  const sent = logdir === undefined ? undefined : first(P, "sent", logdir, s.init);
  // Each instant in order; a missing one (a failed C has no fetch) gives its part to the next.
  const seq: (number | undefined)[] = [
    ready,
    cRead,
    get,
    got,
    fetched,
    settle,
    finished,
    durable,
    committed,
    round,
    assigned,
    run,
    started,
    logdir,
    sent,
    s.init,
  ];
  const parts: (number | null)[] = [];
  let prevT = ready;
  for (let i = 1; i < seq.length; i++) {
    const t = seq[i];
    if (t === undefined || t < prevT) {
      parts.push(null);
      continue;
    }
    parts.push(t - prevT);
    prevT = t;
  }
  let between: string | undefined;
  if (held.startsWith("passed")) {
    let ran = 0;
    let slotsLeft = 0;
    let unknown = 0;
    for (let i = ri - 1; i >= 0 && rounds[i]! > knew; i--) {
      ran++;
      const seen = roundSeen[i];
      if (seen === undefined) unknown++;
      const [r = 0, f = 0, st = 0] = seen ?? [];
      if (f > st && r > st) slotsLeft++;
    }
    between =
      ran === 0
        ? "no round ran between"
        : unknown > 0
          ? "rounds ran between (the trace has no `seen` points)"
          : slotsLeft === 0
            ? "the rounds between had no free slot left"
            : "a round between left free slots and ready tasks";
  }
  splits.push({
    pkg: P,
    held,
    ...(between === undefined ? {} : { between }),
    cause: C,
    by,
    total: s.init - ready,
    at: s.init,
    parts,
  });
}

splits.sort((a, b) => a.total - b.total);
const totals = splits.map((x) => x.total);
const q = (p: number): number => atFraction(totals, p);
process.stdout.write(
  `${splits.length} starts split (${unmatched} without the master's instants): p50 ${q(0.5).toFixed(1)} ms, p99 ${q(0.99).toFixed(1)} ms, max ${q(1).toFixed(1)} ms\n`,
);
// By 10 minutes of the build (from its first start): a latency that grows with the build
// (a cost that grows with what was done) shows here, beside the farm's own stalls.
{
  const first = Math.min(...splits.map((x) => x.at));
  const WINDOW = 600_000;
  const windows = new Map<number, number[]>();
  for (const x of splits) {
    const w = Math.floor((x.at - first) / WINDOW);
    const list = windows.get(w) ?? [];
    list.push(x.total);
    windows.set(w, list);
  }
  const farmStalled = new Map<number, number>();
  for (const [t, ms] of farm.stalls) {
    const w = Math.floor((t - first) / WINDOW);
    farmStalled.set(w, (farmStalled.get(w) ?? 0) + ms);
  }
  for (const [w, list] of [...windows].sort((a, b) => a[0] - b[0])) {
    // Already in order of latency: splits is sorted.
    process.stdout.write(
      `  minutes ${w * 10}-${w * 10 + 10}: ${list.length} starts, p50 ${atFraction(list, 0.5).toFixed(1)} ms, p99 ${atFraction(list, 0.99).toFixed(1)} ms; the farm stalled ${((farmStalled.get(w) ?? 0) / 1000).toFixed(1)} s\n`,
    );
  }
}
const mean = (xs: readonly Split[], i: number): string => {
  const v = xs.map((x) => x.parts[i] ?? 0);
  return (v.reduce((a, b) => a + b, 0) / Math.max(1, v.length)).toFixed(2);
};
// The master's own part: every part but the three spent between the processes (the
// farm's answer reaching the master, the fetch's round trip, the first task reaching the farm).
const TRANSIT = new Set([0, 2, 14]);
const ownOf = (x: Split): number =>
  x.parts.reduce<number>((a, p, i) => (TRANSIT.has(i) ? a : a + (p ?? 0)), 0);
const own = splits.map(ownOf).sort((a, b) => a - b);
const qo = (p: number): number => atFraction(own, p);
const ownTail = [...splits]
  .sort((a, b) => ownOf(a) - ownOf(b))
  .slice(-Math.max(1, Math.round(Number(values.top) * splits.length)));
process.stdout.write(
  `the slowest 1 % of the master's own part, mean ms per part: ${PARTS.map((n, i) =>
    TRANSIT.has(i) ? "" : `${n} ${mean(ownTail, i)}`,
  )
    .filter((x) => x !== "")
    .join("; ")}\n`,
);
process.stdout.write(
  `the master's own part (all but the three transits): p50 ${qo(0.5).toFixed(1)} ms, p99 ${qo(0.99).toFixed(1)} ms, max ${qo(1).toFixed(1)} ms\n`,
);
const topN = Math.max(1, Math.round(Number(values.top) * splits.length));
const tail = splits.slice(-topN);
const body = splits.slice(0, Math.floor(splits.length * 0.5));
process.stdout.write(
  `\nmean ms per part: all / the fastest half / the slowest ${topN} (by: prev ${tail.filter((t) => t.by === "prev").length}, dep ${tail.filter((t) => t.by === "dep").length})\n`,
);
PARTS.forEach((name, i) => {
  process.stdout.write(
    `  ${name.padEnd(36)} ${mean(splits, i).padStart(7)} ${mean(body, i).padStart(7)} ${mean(tail, i).padStart(7)}\n`,
  );
});

// What held the slowest starts in the master.
// Each class, and for the passed over each reason, indented under it.
const heldCount = new Map<string, number>();
for (const x of tail)
  for (const k of x.between === undefined ? [x.held] : [x.held, `  ${x.held}: ${x.between}`])
    heldCount.set(k, (heldCount.get(k) ?? 0) + 1);
process.stdout.write(`\nwhat held the slowest ${topN} in the master:\n`);
for (const [why, n] of [...heldCount].sort((a, b) => b[1] - a[1]))
  process.stdout.write(`  ${String(n).padStart(6)} ${why}\n`);

// What overlapped the slowest starts on the master: GC pauses and stalls inside their span.
const within = (xs: [number, number][], a: number, b: number): number =>
  xs.filter(([t]) => t >= a && t <= b).reduce((s, [, d]) => s + d, 0);
const gcTail = tail.map((x) => {
  const st = farm.starts.find((s) => s.pkgname === x.pkg)!;
  return {
    gc: within(gcs, st.init - x.total, st.init),
    stall: within(stalls, st.init - x.total, st.init),
    farmStall: within(farm.stalls, st.init - x.total, st.init),
    // Waits are per 100 ms window: those that ended in the span or began in it.
    wait: within(waits, st.init - x.total - 100, st.init),
  };
});
process.stdout.write(
  `\nin the slowest ${topN}'s spans, mean: master GC ${(gcTail.reduce((a, x) => a + x.gc, 0) / topN).toFixed(2)} ms, master stalls > 5 ms ${(gcTail.reduce((a, x) => a + x.stall, 0) / topN).toFixed(2)} ms, farm stalls > 5 ms ${(gcTail.reduce((a, x) => a + x.farmStall, 0) / topN).toFixed(2)} ms, master waiting for a CPU (100 ms windows touching the span) ${(gcTail.reduce((a, x) => a + x.wait, 0) / topN).toFixed(2)} ms\n`,
);
process.stdout.write(
  `master: waited for a CPU ${waits.reduce((a, [, d]) => a + d, 0).toFixed(0)} ms in 100 ms windows over 5 ms; ${gcs.length} GC pauses (${gcs.reduce((a, [, d]) => a + d, 0).toFixed(0)} ms, max ${Math.max(0, ...gcs.map(([, d]) => d)).toFixed(1)}), ${stalls.length} stalls > 5 ms (max ${Math.max(0, ...stalls.map(([, d]) => d)).toFixed(1)}); farm: ${farm.stalls.length} stalls (max ${Math.max(0, ...farm.stalls.map(([, d]) => d)).toFixed(1)})\n`,
);
for (const [what, xs] of slow)
  process.stdout.write(
    `master ${what}: ${xs.length} timed, ${xs.reduce((a, [, d]) => a + d, 0).toFixed(0)} ms, max ${Math.max(...xs.map(([, d]) => d)).toFixed(1)} ms\n`,
  );
process.stdout.write(`\nthe slowest ${Number(values.show)}:\n`);
for (const x of splits.slice(-Number(values.show)).reverse())
  process.stdout.write(
    `  ${x.total.toFixed(1).padStart(6)} ms ${x.pkg} after ${x.cause} (${x.by}): ${x.parts.map((p) => (p === null ? "-" : p.toFixed(1))).join(" ")}\n`,
  );
