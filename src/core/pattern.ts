/**
 * Package patterns, matched exactly as pbulk's pkg_match does, reimplemented:
 *   1. quick reject: each of the first two pattern characters that is ASCII
 *      alphanumeric or '-' must equal the name's character at that place
 *      (checking stops at the first character that is not);
 *   2. a '{' anywhere: csh alternates "{a,b}" (nested, with text on both
 *      sides); every expansion is matched as a pattern of its own;
 *   3. else a '<' or '>' anywhere: dewey relation "name>=1.0", "name>1<2",
 *      "name<=2"; the name must equal everything before the last '-' of the
 *      package name, the version is what follows it;
 *   4. else any of "*?[]": fnmatch with FNM_PERIOD (see glob.ts);
 *   5. else plain string equality.
 *
 * Errors: an alternate whose '{' is never closed makes pbulk exit. Here the
 * matcher throws PatternError instead, at exactly the moment pbulk would
 * exit: when such an expansion is reached for a name that passes the quick
 * reject (so "ab{c" throws for "abc" but not for "xyz"). Compiling never
 * throws; patternError() tells up front whether a pattern can throw at all.
 *
 * Strings are taken to hold no NUL and to be well-formed UTF-16; pbulk's
 * truncation of alternate expansions longer than PATH_MAX is not emulated.
 */

import { compileGlob } from "./glob.js";
import { compareVersionAt, parseVersion, satisfies } from "./version.js";
import type { DeweyOp, DeweyVersion } from "./version.js";

/** A pattern whose alternates are malformed (an unclosed '{'). */
export class PatternError extends Error {
  /** The pattern as written. */
  readonly pattern: string;
  /** The expansion of it in which a '{' is never closed. */
  readonly fragment: string;
  constructor(pattern: string, fragment: string) {
    const where = fragment === pattern ? "" : ` (in the expansion "${fragment}")`;
    super(`malformed alternate in pattern "${pattern}": unclosed '{'${where}`);
    this.name = "PatternError";
    this.pattern = pattern;
    this.fragment = fragment;
  }
}

/** A compiled pattern: true when the package name matches. May throw PatternError. */
export type PkgMatcher = (pkgname: string) => boolean;

interface Compiled {
  readonly match: PkgMatcher;
  /** Every name that matches, or makes match throw, starts with one of these. */
  readonly prefixes: readonly string[];
  /** The first malformed expansion, if any can be reached. */
  readonly error: PatternError | undefined;
}

const CH_MINUS = 45;

function isQuickChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === CH_MINUS;
}

/** The literal text pbulk's quick check requires a name to start with. */
function quickPrefix(pattern: string): string {
  if (!isQuickChar(pattern.charCodeAt(0))) return "";
  if (!isQuickChar(pattern.charCodeAt(1))) return pattern.slice(0, 1);
  return pattern.slice(0, 2);
}

/** Wraps inner in the quick check; only needed where inner can throw. */
function guarded(pattern: string, inner: PkgMatcher): PkgMatcher {
  const q = quickPrefix(pattern);
  if (q === "") return inner;
  return (s) => s.startsWith(q) && inner(s);
}

type Expansion =
  { readonly ok: true; readonly alternatives: readonly string[] } | { readonly ok: false };

/** Expands the first brace group of pattern (which contains a '{'), as pbulk does. */
function expandFirstGroup(pattern: string): Expansion {
  const open = pattern.indexOf("{");
  let close = -1;
  for (let i = open, depth = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === "{") depth++;
    else if (c === "}" && --depth === 0) {
      close = i;
      break;
    }
  }
  if (close < 0) return { ok: false };
  const head = pattern.slice(0, open);
  const tail = pattern.slice(close + 1);
  const alternatives: string[] = [];
  let start = open + 1;
  for (let i = start, depth = 0; i <= close; i++) {
    const c = pattern[i];
    if (depth > 0 || (c !== "}" && c !== ",")) {
      if (c === "{") depth++;
      else if (c === "}") depth--;
      continue;
    }
    alternatives.push(head + pattern.slice(start, i) + tail);
    if (c === "}") break;
    start = i + 1;
  }
  return { ok: true, alternatives };
}

function compileAlternates(root: string, pattern: string): Compiled {
  const expansion = expandFirstGroup(pattern);
  if (!expansion.ok) {
    const error = new PatternError(root, pattern);
    return {
      match: guarded(pattern, () => {
        throw error;
      }),
      prefixes: [quickPrefix(pattern)],
      error,
    };
  }
  const children = expansion.alternatives.map((alt) => compileNode(root, alt));
  const matchers = children.map((c) => c.match);
  const error = children.find((c) => c.error !== undefined)?.error;
  const prefixes = minimalPrefixes(children.flatMap((c) => c.prefixes));
  if (error === undefined) {
    const any: PkgMatcher = (s) => {
      for (const m of matchers) if (m(s)) return true;
      return false;
    };
    return { match: any, prefixes, error };
  }
  // pbulk tries every alternative even after a match, so a later malformed
  // one still aborts; keep that order of events.
  const all: PkgMatcher = (s) => {
    let found = false;
    for (const m of matchers) if (m(s)) found = true;
    return found;
  };
  return { match: guarded(pattern, all), prefixes, error };
}

function readOp(pattern: string, at: number): { op: DeweyOp; length: number } {
  const rel = pattern[at] === "<" ? "<" : ">";
  return pattern[at + 1] === "=" ? { op: `${rel}=`, length: 2 } : { op: rel, length: 1 };
}

/** pbulk copies a lower bound into a 1024-byte buffer, keeping 1023 bytes. */
function truncateBytes(s: string, max: number): string {
  if (s.length * 3 <= max) return s;
  const bytes = new TextEncoder().encode(s).subarray(0, max);
  // Version parsing skips every byte >= 0x80, so one char per byte will do.
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

function compileDewey(pattern: string, sep: number): Compiled {
  const name = pattern.slice(0, sep);
  const first = readOp(pattern, sep);
  const rest = sep + first.length;
  let lower: DeweyVersion;
  let upper: { op: DeweyOp; version: DeweyVersion } | undefined;
  const sep2 = first.op.startsWith(">") ? pattern.indexOf("<", rest) : -1;
  if (sep2 >= 0) {
    const second = readOp(pattern, sep2);
    upper = { op: second.op, version: parseVersion(pattern.slice(sep2 + second.length)) };
    lower = parseVersion(truncateBytes(pattern.slice(rest, sep2), 1023));
  } else {
    lower = parseVersion(pattern.slice(rest));
  }
  const op = first.op;
  const from = name.length + 1;
  // The name must be all of pkgname before its last '-'.
  const named = (s: string): boolean =>
    s.charCodeAt(from - 1) === CH_MINUS && s.indexOf("-", from) < 0 && s.startsWith(name);
  const match: PkgMatcher =
    upper === undefined
      ? (s) => named(s) && satisfies(compareVersionAt(s, from, lower), op)
      : (s) =>
          named(s) &&
          satisfies(compareVersionAt(s, from, upper.version), upper.op) &&
          satisfies(compareVersionAt(s, from, lower), op);
  return { match, prefixes: [`${name}-`], error: undefined };
}

function compileNode(root: string, pattern: string): Compiled {
  if (pattern.includes("{")) return compileAlternates(root, pattern);
  const lt = pattern.indexOf("<");
  const gt = pattern.indexOf(">");
  if (lt >= 0 || gt >= 0)
    return compileDewey(pattern, lt < 0 ? gt : gt < 0 ? lt : Math.min(lt, gt));
  if (/[*?[\]]/.test(pattern)) {
    const glob = compileGlob(pattern);
    return { match: glob.match, prefixes: glob.satisfiable ? [glob.prefix] : [], error: undefined };
  }
  return { match: (s) => s === pattern, prefixes: [pattern], error: undefined };
}

/** Sorted, without duplicates, and without any string that has another as a prefix. */
function minimalPrefixes(prefixes: readonly string[]): string[] {
  const sorted = [...new Set(prefixes)].sort();
  const out: string[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last === undefined || !p.startsWith(last)) out.push(p);
  }
  return out;
}

const cache = new Map<string, Compiled>();

function compiled(pattern: string): Compiled {
  let c = cache.get(pattern);
  if (c === undefined) {
    c = compileNode(pattern, pattern);
    cache.set(pattern, c);
  }
  return c;
}

/** Compiles (once, then from a cache) a pattern into a matcher equivalent to pkgMatch. */
export function compilePattern(pattern: string): PkgMatcher {
  return compiled(pattern).match;
}

/** Whether pkgname matches pattern, as pbulk's pkg_match; throws PatternError where pbulk exits. */
export function pkgMatch(pattern: string, pkgname: string): boolean {
  return compiled(pattern).match(pkgname);
}

/**
 * Literal prefixes such that every name the pattern matches, or throws
 * PatternError for, starts with at least one of them. Sorted and minimal;
 * [""] when nothing narrower is known, [] when nothing can match.
 */
export function candidatePrefixes(pattern: string): readonly string[] {
  return compiled(pattern).prefixes;
}

/** The PatternError this pattern throws for some package names, if any. */
export function patternError(pattern: string): PatternError | undefined {
  return compiled(pattern).error;
}

/** Forgets all compiled patterns. */
export function clearPatternCache(): void {
  cache.clear();
}
