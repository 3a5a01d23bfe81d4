/**
 * Build history in bob's CSV format: a header naming the columns, then one
 * row per package build with the total wall time (`duration`, ms) and the
 * wall and CPU milliseconds of every stage (`-` = not measured). Pure: text
 * in, rows (or the first error with its line number) out.
 */

export interface HistoryRow {
  /** 1-based line number in the input. */
  readonly line: number;
  readonly timestamp: number;
  readonly pkgpath: string;
  readonly pkgname: string;
  readonly outcome: "success" | "failed";
  /** The failing stage, or undefined on success. */
  readonly stage: string | undefined;
  readonly makeJobs: number | undefined;
  /** Total wall time in milliseconds. */
  readonly durationMs: number;
  /** Bytes of the package's WRKDIR at the end of its build (bob's disk_usage), where recorded. */
  readonly diskUsage?: number | undefined;
  /** Wall milliseconds per stage name; CPU times under `cpu:<stage>`. Unmeasured stages are absent. */
  readonly stages: ReadonlyMap<string, number>;
}

export interface HistoryError {
  readonly code: "history";
  readonly line: number;
  readonly message: string;
}

export type HistoryResult =
  | { readonly ok: true; readonly rows: readonly HistoryRow[] }
  | { readonly ok: false; readonly error: HistoryError };

const REQUIRED = ["pkgname", "outcome", "duration"] as const;
const STAGES = new Set([
  "pre-clean",
  "depends",
  "checksum",
  "configure",
  "build",
  "install",
  "package",
  "deinstall",
  "clean",
]);

/** Parses history CSV text (header line first); the first malformed line is returned as an error. */
export function parseHistory(text: string): HistoryResult {
  const lines = text.split("\n");
  let lineNo = 0;
  let header: string[] | undefined;
  const rows: HistoryRow[] = [];
  const fail = (message: string): HistoryResult => ({
    ok: false,
    error: { code: "history", line: lineNo, message },
  });
  for (const raw of lines) {
    lineNo++;
    const line = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line.trim() === "") continue;
    const cells = splitCsvLine(line);
    if (cells === undefined) return fail("unterminated quoted field");
    if (header === undefined) {
      header = cells.map((c) => c.trim());
      for (const key of REQUIRED) {
        if (!header.includes(key)) return fail(`header lacks the column "${key}"`);
      }
      continue;
    }
    if (cells.length !== header.length) {
      return fail(`expected ${header.length} fields as in the header, found ${cells.length}`);
    }
    const row = toRow(header, cells, lineNo);
    if (typeof row === "string") return fail(row);
    rows.push(row);
  }
  if (header === undefined) return fail("empty history: no header line");
  return { ok: true, rows };
}

function toRow(
  header: readonly string[],
  cells: readonly string[],
  line: number,
): HistoryRow | string {
  const get = (key: string): string | undefined => {
    const i = header.indexOf(key);
    return i < 0 ? undefined : cells[i]?.trim();
  };
  const pkgname = get("pkgname") ?? "";
  if (pkgname === "") return "empty pkgname";
  const outcome = get("outcome");
  if (outcome !== "success" && outcome !== "failed") {
    return `outcome must be success or failed, got ${JSON.stringify(outcome)}`;
  }
  const duration = number(get("duration"));
  if (duration === undefined)
    return `duration must be a number of milliseconds, got ${JSON.stringify(get("duration"))}`;
  const timestamp = number(get("timestamp")) ?? 0;
  const stages = new Map<string, number>();
  for (let i = 0; i < header.length; i++) {
    const key = header[i]!;
    // Stage columns hold milliseconds; columns herd does not know are ignored.
    if (!STAGES.has(key.startsWith("cpu:") ? key.slice(4) : key)) continue;
    const cell = cells[i]!.trim();
    if (cell === "-" || cell === "") continue;
    const ms = number(cell);
    if (ms === undefined)
      return `column ${key}: expected milliseconds or -, got ${JSON.stringify(cell)}`;
    stages.set(key, ms);
  }
  const stage = get("stage");
  const diskUsage = number(get("disk_usage"));
  return {
    ...(diskUsage === undefined ? {} : { diskUsage }),
    line,
    timestamp,
    pkgpath: get("pkgpath") ?? "",
    pkgname,
    outcome,
    stage: stage === undefined || stage === "-" || stage === "" ? undefined : stage,
    makeJobs: number(get("make_jobs")),
    durationMs: duration,
    stages,
  };
}

function number(s: string | undefined): number | undefined {
  if (s === undefined || !/^\d+(\.\d+)?$/.test(s)) return undefined;
  return Number(s);
}

/** Splits one CSV line; double-quoted fields may hold commas and "" escapes. */
function splitCsvLine(line: string): string[] | undefined {
  if (!line.includes('"')) return line.split(",");
  const out: string[] = [];
  let cur = "";
  let i = 0;
  let quoted = false;
  while (i < line.length) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') {
        cur += '"';
        i += 2;
        continue;
      }
      if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") {
      out.push(cur);
      cur = "";
    } else cur += c;
    i++;
  }
  if (quoted) return undefined;
  out.push(cur);
  return out;
}

export interface PackageHistory {
  /** Wall seconds of the package's latest build. */
  readonly seconds: number;
  readonly ok: boolean;
  /** category/dir of the package, "" when the history has none. */
  readonly pkgpath: string;
  /** Bytes of its WRKDIR at the end of the build, where recorded (see packageBytes in sim/transfer.ts). */
  readonly diskUsage?: number | undefined;
}

/** The latest row per package name, as seconds and outcome. */
export function latestByPackage(rows: readonly HistoryRow[]): Map<string, PackageHistory> {
  const best = new Map<string, HistoryRow>();
  for (const r of rows) {
    const prev = best.get(r.pkgname);
    if (prev === undefined || r.timestamp >= prev.timestamp) best.set(r.pkgname, r);
  }
  const out = new Map<string, PackageHistory>();
  for (const [name, r] of best)
    out.set(name, {
      seconds: r.durationMs / 1000,
      ok: r.outcome === "success",
      pkgpath: r.pkgpath,
      ...(r.diskUsage === undefined ? {} : { diskUsage: r.diskUsage }),
    });
  return out;
}
