/**
 * fnmatch(3) with flags FNM_PERIOD, as NetBSD's libc (fnmatch.c 1.26) does
 * it, reimplemented over a pre-tokenised pattern. NetBSD details kept:
 *   - FNM_PERIOD: a '.' at the very start of the name is not matched by
 *     '?' or '*'; it is by a literal '.', and (NetBSD only) by "[.]";
 *   - "[!...]" and "[^...]" negate; a ']' right after "[" or "[!" is a member;
 *     ranges compare byte values; a backslash quotes the next character,
 *     inside brackets too;
 *   - a bracket holding an unquoted '/' (before its end) is no bracket: the
 *     '[' matches itself and the rest is read as pattern again;
 *   - an unterminated bracket can never match;
 *   - at most 64 nested '*' are explored, after which the match fails.
 * Matching is by bytes of UTF-8, as C sees them. Two choices where NetBSD's C
 * is undefined or platform dependent: a trailing lone backslash matches the
 * end of the name (NetBSD escapes the terminating NUL and then reads the
 * byte past it, which we take to be NUL), so the pattern a\ (one backslash)
 * matches "a" while a*\ matches nothing; and bytes compare unsigned
 * (on signed-char machines NetBSD never matches a byte >= 0x80 literally or
 * in a bracket).
 */

type Token =
  | { readonly kind: "lit"; readonly text: string }
  | { readonly kind: "any" }
  | { readonly kind: "star" }
  | { readonly kind: "class"; readonly negate: boolean; readonly ranges: readonly number[] }
  | { readonly kind: "fail" }
  | { readonly kind: "end" };

const MATCH = 0;
const NOMATCH = 1;
const NORES = 2;
/** A '?' or bracket met a non-ASCII character: redo the match on UTF-8 bytes. */
const NEEDBYTES = 3;
type Outcome = typeof MATCH | typeof NOMATCH | typeof NORES | typeof NEEDBYTES;

const MAX_DEPTH = 64;
const CH_PERIOD = 46;

type Bracket =
  | {
      readonly kind: "class";
      readonly negate: boolean;
      readonly ranges: number[];
      readonly end: number;
    }
  | { readonly kind: "literal" }
  | { readonly kind: "fail" };

/** Reads a bracket expression whose '[' is just before index i. */
function readBracket(p: string, i: number): Bracket {
  const n = p.length;
  const at = (k: number): number => (k < n ? p.charCodeAt(k) : 0);
  let j = i;
  const negate = at(j) === 0x21 || at(j) === 0x5e; // '!' or '^'
  if (negate) j++;
  const ranges: number[] = [];
  let first = true;
  for (;;) {
    let c = at(j++);
    if (c === 0x5d && !first) return { kind: "class", negate, ranges, end: j };
    first = false;
    if (c === 0x2f) return { kind: "literal" }; // '/'
    if (c === 0x5c) c = at(j++);
    if (c === 0 && j > n) return { kind: "fail" };
    let hi = c;
    const c2 = at(j + 1);
    if (at(j) === 0x2d && j + 1 < n && c2 !== 0x5d) {
      j += 2;
      hi = c2;
      if (c2 === 0x5c) {
        hi = at(j++);
        if (j > n) return { kind: "fail" };
      }
    }
    ranges.push(c, hi);
  }
}

/** Splits a pattern into tokens; consecutive literals are merged. */
function tokenize(p: string): Token[] {
  const tokens: Token[] = [];
  let lit = "";
  const flush = (): void => {
    if (lit !== "") tokens.push({ kind: "lit", text: lit });
    lit = "";
  };
  let i = 0;
  while (i < p.length) {
    const ch = p[i++]!;
    if (ch === "?") {
      flush();
      tokens.push({ kind: "any" });
    } else if (ch === "*") {
      while (p[i] === "*") i++;
      flush();
      tokens.push({ kind: "star" });
    } else if (ch === "[") {
      const b = readBracket(p, i);
      if (b.kind === "literal") {
        lit += "[";
      } else {
        flush();
        if (b.kind === "fail") {
          tokens.push({ kind: "fail" });
          return tokens;
        }
        tokens.push({ kind: "class", negate: b.negate, ranges: b.ranges });
        i = b.end;
      }
    } else if (ch === "\\") {
      if (i >= p.length) {
        flush();
        tokens.push({ kind: "end" });
        return tokens;
      }
      lit += p[i++]!;
    } else {
      lit += ch;
    }
  }
  flush();
  return tokens;
}

function inClass(ranges: readonly number[], c: number): boolean {
  for (let k = 0; k < ranges.length; k += 2) {
    if (ranges[k]! <= c && c <= ranges[k + 1]!) return true;
  }
  return false;
}

function run(
  tokens: readonly Token[],
  ti: number,
  s: string,
  si: number,
  depth: number,
  bytes: boolean,
): Outcome {
  if (depth >= MAX_DEPTH) return NORES;
  // FNM_PERIOD is only in force in the outermost call, whose start is 0.
  const period = depth === 0;
  for (;;) {
    const t = tokens[ti++];
    if (t === undefined) return si === s.length ? MATCH : NOMATCH;
    switch (t.kind) {
      case "lit":
        if (!s.startsWith(t.text, si)) return NOMATCH;
        si += t.text.length;
        break;
      case "any": {
        if (si >= s.length) return NOMATCH;
        const c = s.charCodeAt(si);
        if (c >= 0x80 && !bytes) return NEEDBYTES;
        if (period && si === 0 && c === CH_PERIOD) return NOMATCH;
        si++;
        break;
      }
      case "star":
        if (period && si === 0 && s.charCodeAt(0) === CH_PERIOD) return NOMATCH;
        if (ti === tokens.length) return MATCH;
        for (; si < s.length; si++) {
          const r = run(tokens, ti, s, si, depth + 1, bytes);
          if (r !== NOMATCH) return r;
        }
        return NOMATCH;
      case "class": {
        if (si >= s.length) return NOMATCH;
        const c = s.charCodeAt(si);
        if (c >= 0x80 && !bytes) return NEEDBYTES;
        if (inClass(t.ranges, c) === t.negate) return NOMATCH;
        si++;
        break;
      }
      case "fail":
        return NOMATCH;
      case "end":
        if (si !== s.length) return NOMATCH;
        break;
    }
  }
}

/** The UTF-8 encoding of s as a string of char codes 0..255. */
function utf8Bytes(s: string): string {
  const bytes = new TextEncoder().encode(s);
  let out = "";
  for (const b of bytes) out += String.fromCharCode(b);
  return out;
}

/** A compiled glob: its matcher and the literal text every match starts with. */
export interface Glob {
  readonly match: (name: string) => boolean;
  readonly prefix: string;
  /** False when no name can match (the pattern has an unterminated bracket). */
  readonly satisfiable: boolean;
}

/** Compiles an fnmatch(FNM_PERIOD) pattern. */
export function compileGlob(pattern: string): Glob {
  const tokens = tokenize(pattern);
  let byteTokens: Token[] | undefined;
  const match = (name: string): boolean => {
    const r = run(tokens, 0, name, 0, 0, false);
    if (r !== NEEDBYTES) return r === MATCH;
    byteTokens ??= tokenize(utf8Bytes(pattern));
    return run(byteTokens, 0, utf8Bytes(name), 0, 0, true) === MATCH;
  };
  const head = tokens[0];
  return {
    match,
    prefix: head?.kind === "lit" ? head.text : "",
    // Nothing can get past a "fail" token, and tokenize puts it last.
    satisfiable: tokens[tokens.length - 1]?.kind !== "fail",
  };
}

/** Whether name matches pattern as fnmatch(pattern, name, FNM_PERIOD) == 0 on NetBSD. */
export function fnmatch(pattern: string, name: string): boolean {
  return compileGlob(pattern).match(name);
}
