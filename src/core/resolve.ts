/**
 * Dependency resolution with pbulk-resolve's semantics: each ALL_DEPENDS
 * pattern of each record is matched against all PKGNAMEs of the scan; the
 * best match (pkg_order: highest version, then the greater name) becomes a
 * DEPENDS entry. A pattern already satisfied by an earlier chosen dependency
 * of the same package adds nothing. Records that already carry DEPENDS= are
 * taken as resolved.
 */
import { candidatePrefixes, compilePattern, patternError } from "./pattern.js";
import { compareVersions } from "./version.js";
import { field, withField, type ScanRecord } from "./records.js";
import { findCycles } from "./cycles.js";

export interface Unresolved {
  readonly pkg: number;
  readonly pattern: string;
}

export interface ResolveError {
  readonly code: "bad-depends" | "bad-pattern" | "no-all-depends" | "unknown-depends";
  readonly pkg: number;
  readonly line: number;
  readonly message: string;
  readonly hint: string;
}

export interface Resolution {
  readonly records: readonly ScanRecord[];
  /** For each record, the records it depends on (empty when unresolved). */
  readonly depends: readonly (readonly number[])[];
  /** True where the record carried DEPENDS= already (printed as is). */
  readonly preResolved: readonly boolean[];
  /** Dependencies that matched no package, in input order. */
  readonly unresolved: readonly Unresolved[];
  /** Dependency cycles, each as the list of records on it. */
  readonly cycles: readonly (readonly number[])[];
  readonly errors: readonly ResolveError[];
}

/** Resolves every record's ALL_DEPENDS to concrete packages, as pbulk-resolve -p does. */
export function resolveRecords(records: readonly ScanRecord[]): Resolution {
  const index = new Map<string, number>();
  records.forEach((r, i) => index.set(r.pkgname, i));
  const finder = new MatchFinder(records);
  const tokens = new Map<string, Token>();
  const depends: number[][] = [];
  const preResolved: boolean[] = [];
  const unresolved: Unresolved[] = [];
  const errors: ResolveError[] = [];

  for (let i = 0; i < records.length; i++) {
    const rec = records[i]!;
    const pre = field(rec, "DEPENDS");
    preResolved.push(pre !== undefined);
    if (pre !== undefined) {
      depends.push(namesToIndices(pre, index, i, rec, errors));
      continue;
    }
    const all = field(rec, "ALL_DEPENDS");
    if (all === undefined) {
      errors.push(
        err(
          "no-all-depends",
          i,
          rec,
          `no ALL_DEPENDS line for ${rec.pkgname}`,
          "the scan record is incomplete; rescan the package",
        ),
      );
      depends.push([]);
      continue;
    }
    const chosen: number[] = [];
    let missing = false;
    for (const token of splitWords(all)) {
      let t = tokens.get(token);
      if (t === undefined) {
        t = finder.token(token);
        tokens.set(token, t);
      }
      if (typeof t === "string") {
        const message =
          t === "bad-depends"
            ? `incorrect dependency "${token}" in ALL_DEPENDS of ${rec.pkgname}`
            : `malformed dependency pattern "${token}" of ${rec.pkgname}`;
        const hint =
          t === "bad-depends"
            ? "each entry is pattern:../../category/dir"
            : "check the braces of {a,b} alternatives";
        errors.push(err(t, i, rec, message, hint));
        missing = true;
        break;
      }
      // A pattern an earlier chosen dependency satisfies adds nothing (pbulk assumes that one was stricter).
      if (t.best >= 0 && chosen.includes(t.best)) continue;
      const match = t.match;
      if (chosen.some((d) => match(records[d]!.pkgname))) continue;
      if (t.best < 0) {
        unresolved.push({ pkg: i, pattern: t.pattern });
        missing = true;
        continue;
      }
      chosen.push(t.best);
    }
    depends.push(missing ? [] : chosen);
  }
  const cycles = findCycles(depends);
  return { records, depends, preResolved, unresolved, cycles, errors };
}

/** Splits at runs of spaces and tabs, as pbulk does. */
function splitWords(s: string): string[] {
  const out: string[] = [];
  let start = -1;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 32;
    if (c === 32 || c === 9) {
      if (start >= 0) out.push(s.slice(start, i));
      start = -1;
    } else if (start < 0) start = i;
  }
  return out;
}

function err(
  code: ResolveError["code"],
  pkg: number,
  rec: ScanRecord,
  message: string,
  hint: string,
): ResolveError {
  return { code, pkg, line: rec.line, message, hint };
}

function namesToIndices(
  value: string,
  index: Map<string, number>,
  i: number,
  rec: ScanRecord,
  errors: ResolveError[],
): number[] {
  const out: number[] = [];
  for (const name of value.split(" ")) {
    if (name === "") continue;
    const j = index.get(name);
    if (j === undefined) {
      errors.push(
        err(
          "unknown-depends",
          i,
          rec,
          `DEPENDS of ${rec.pkgname} names ${name}, which is not in the input`,
          "was the file resolved from a different scan?",
        ),
      );
      continue;
    }
    out.push(j);
  }
  return out;
}

/** Splits `pattern:../../category/dir`; undefined when malformed. */
export function parseDependency(token: string): { pattern: string; location: string } | undefined {
  const colon = token.indexOf(":");
  if (colon <= 0 || !token.startsWith(":../../", colon)) return undefined;
  return { pattern: token.slice(0, colon), location: token.slice(colon + 7) };
}

/** A parsed ALL_DEPENDS entry with its best match, or why it is malformed. */
type Token =
  | { pattern: string; match: (name: string) => boolean; best: number }
  | "bad-depends"
  | "bad-pattern";

/** Finds pbulk's best match for a pattern among all PKGNAMEs, memoised per pattern. */
class MatchFinder {
  private readonly sorted: string[];
  private readonly sortedIdx: number[];
  private readonly versions: string[];
  private readonly memo = new Map<string, number>();

  constructor(private readonly records: readonly ScanRecord[]) {
    const order = records
      .map((_, i) => i)
      .sort((a, b) => cmpStr(records[a]!.pkgname, records[b]!.pkgname));
    this.sortedIdx = order;
    this.sorted = order.map((i) => records[i]!.pkgname);
    this.versions = records.map((r) => r.pkgname.slice(r.pkgname.lastIndexOf("-") + 1));
  }

  token(token: string): Token {
    const dep = parseDependency(token);
    if (dep === undefined) return "bad-depends";
    const match = this.compiled(dep.pattern);
    if (match === undefined) return "bad-pattern";
    return { pattern: dep.pattern, match, best: this.best(dep.pattern, match) };
  }

  compiled(pattern: string): ((name: string) => boolean) | undefined {
    // pbulk exits on a malformed pattern; herd reports it against the package instead.
    return patternError(pattern) === undefined ? compilePattern(pattern) : undefined;
  }

  best(pattern: string, match: (name: string) => boolean): number {
    const hit = this.memo.get(pattern);
    if (hit !== undefined) return hit;
    let best = -1;
    const seen = new Set<number>();
    for (const prefix of candidatePrefixes(pattern)) {
      let k = lowerBound(this.sorted, prefix);
      for (; k < this.sorted.length; k++) {
        const name = this.sorted[k]!;
        if (!name.startsWith(prefix)) break;
        const idx = this.sortedIdx[k]!;
        if (seen.has(idx) || !match(name)) continue;
        seen.add(idx);
        if (best < 0 || this.better(idx, best)) best = idx;
      }
    }
    this.memo.set(pattern, best);
    return best;
  }

  /** pkg_order: higher version wins; equal versions fall back to byte order of the names. */
  private better(a: number, b: number): boolean {
    const c = compareVersions(this.versions[a]!, this.versions[b]!);
    if (c !== 0) return c > 0;
    return cmpStr(this.records[a]!.pkgname, this.records[b]!.pkgname) > 0;
  }
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function lowerBound(arr: readonly string[], key: string): number {
  let lo = 0;
  let hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (arr[mid]! < key) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A resolved record's bytes: PKG_FAIL_REASON set when unresolved, DEPENDS appended. */
export function resolvedRecord(
  res: Resolution,
  i: number,
  firstUnresolved: ReadonlyMap<number, string>,
): Buffer[] {
  const rec = res.records[i]!;
  if (res.preResolved[i] === true) return [rec.raw];
  const pattern = firstUnresolved.get(i);
  if (pattern !== undefined)
    return [withField(rec, "PKG_FAIL_REASON", `"could not resolve dependency "${pattern}""`).raw];
  const deps = res.depends[i]!;
  if (deps.length === 0) return [rec.raw];
  let line = "DEPENDS=";
  for (let k = 0; k < deps.length; k++)
    line += (k === 0 ? "" : " ") + res.records[deps[k]!]!.pkgname;
  return [rec.raw, Buffer.from(line + "\n", "latin1")];
}

/** Yields pbulk-resolve's output as Buffers of about `chunk` bytes. */
export function* printResolution(res: Resolution, chunk = 1 << 20): Generator<Buffer> {
  const firstUnresolved = new Map<number, string>();
  for (const u of res.unresolved)
    if (!firstUnresolved.has(u.pkg)) firstUnresolved.set(u.pkg, u.pattern);
  let parts: Buffer[] = [];
  let size = 0;
  for (let i = 0; i < res.records.length; i++) {
    for (const b of resolvedRecord(res, i, firstUnresolved)) {
      parts.push(b);
      size += b.length;
    }
    if (size >= chunk) {
      yield Buffer.concat(parts, size);
      parts = [];
      size = 0;
    }
  }
  if (size > 0) yield Buffer.concat(parts, size);
}
