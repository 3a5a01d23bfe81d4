/**
 * Dewey version comparison with the semantics of pkgsrc's pkg_install and
 * pbulk (dewey_cmp, mkversion, vtest, pkg_order), reimplemented.
 *
 * A version string becomes a list of integer components plus an "nb"
 * (PKGREVISION) number that only breaks ties. Components come from:
 *   - a run of digits: its decimal value (leading zeros vanish);
 *   - "alpha" -3, "beta" -2, "pre"/"rc" -1, "pl"/"_"/"." 0 (ASCII, any case);
 *   - "nb" followed by digits: sets the revision (the last one wins);
 *   - any other ASCII letter: two components, 0 and its alphabet index (a=1);
 *   - anything else: nothing.
 * Shorter lists are padded with zeros, so "1" == "1.0" == "1.0.0" and
 * "1.2a" == "1.2.1".
 *
 * Integer arithmetic is that of C's 32-bit int as pbulk is actually compiled:
 * digit runs wrap modulo 2^32, and component differences wrap too. Below
 * 2^30 nothing wraps and the order is total; beyond, it is as odd as pbulk's.
 */

/** A relational operator understood by dewey comparison. */
export type DeweyOp = "<" | "<=" | ">" | ">=" | "==" | "!=";

/** A parsed version: integer components and the "nb" revision. */
export interface DeweyVersion {
  readonly parts: readonly number[];
  readonly nb: number;
}

const ALPHA = -3;
const BETA = -2;
const RC = -1;
const DOT = 0;

const CH_0 = 48;
const CH_9 = 57;
const CH_DOT = 46;
const CH_UNDERSCORE = 95;

/** Keywords tried in this order before "nb" and single letters. */
const MODIFIERS: readonly (readonly [string, number])[] = [
  ["alpha", ALPHA],
  ["beta", BETA],
  ["pre", RC],
  ["rc", RC],
  ["pl", DOT],
];

function isDigit(c: number): boolean {
  return c >= CH_0 && c <= CH_9;
}

/** ASCII letter index 1..26, or 0 when c is not an ASCII letter. */
function letterIndex(c: number): number {
  const lower = c | 0x20;
  return lower >= 97 && lower <= 122 ? lower - 96 : 0;
}

/** Case-insensitive (ASCII) test that `word` (lower case letters) occurs in s at i. */
function hasWordAt(s: string, i: number, word: string): boolean {
  if (i + word.length > s.length) return false;
  for (let k = 0; k < word.length; k++) {
    const c = s.charCodeAt(i + k);
    if (letterIndex(c) === 0 || (c | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** Where the digit run read by the latest readDigits call ends. */
let digitsEnd = 0;

/** Reads the digit run at i (possibly empty) as C's int would hold it: modulo 2^32. */
function readDigits(s: string, i: number): number {
  let n = 0;
  for (; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < CH_0 || c > CH_9) break;
    n = (Math.imul(n, 10) + (c - CH_0)) | 0;
  }
  digitsEnd = i;
  return n;
}

// A scanner over one version string at a time. Its state lives in module
// variables so that matching allocates nothing; nothing here is reentrant,
// and nothing needs to be.

/** Returned by nextComponent at the end; no int32 equals it. */
const END = 2 ** 32;
let scanPos = 0;
/** The letter index owed after the 0 that a bare letter yields first, or END. */
let scanPending = END;
/** The revision ("nb" number) seen last so far. */
let scanNb = 0;

function startScan(from: number): void {
  scanPos = from;
  scanPending = END;
  scanNb = 0;
}

/** The next component of s, or END. */
function nextComponent(s: string): number {
  if (scanPending !== END) {
    const letter = scanPending;
    scanPending = END;
    return letter;
  }
  while (scanPos < s.length) {
    const i = scanPos;
    const c = s.charCodeAt(i);
    if (isDigit(c)) {
      const n = readDigits(s, i);
      scanPos = digitsEnd;
      return n;
    }
    if (c === CH_UNDERSCORE || c === CH_DOT) {
      scanPos = i + 1;
      return DOT;
    }
    const letter = letterIndex(c);
    if (letter === 0) {
      scanPos = i + 1;
      continue;
    }
    for (const [word, value] of MODIFIERS) {
      if (hasWordAt(s, i, word)) {
        scanPos = i + word.length;
        return value;
      }
    }
    if (hasWordAt(s, i, "nb")) {
      scanNb = readDigits(s, i + 2);
      scanPos = digitsEnd;
      continue;
    }
    scanPending = letter;
    scanPos = i + 1;
    return DOT;
  }
  return END;
}

/** Sign of the C int difference a - b, wrapping as pbulk's vtest does. */
function wrappedSign(a: number, b: number): -1 | 0 | 1 {
  const d = (a - b) | 0;
  return d < 0 ? -1 : d > 0 ? 1 : 0;
}

/** Parses a version string into its dewey components and revision. */
export function parseVersion(version: string): DeweyVersion {
  const parts: number[] = [];
  startScan(0);
  for (let x = nextComponent(version); x !== END; x = nextComponent(version)) parts.push(x);
  return { parts, nb: scanNb };
}

/** Compares two parsed versions: -1, 0 or 1. */
export function compareParsed(a: DeweyVersion, b: DeweyVersion): -1 | 0 | 1 {
  const n = Math.max(a.parts.length, b.parts.length);
  for (let i = 0; i < n; i++) {
    const sign = wrappedSign(a.parts[i] ?? 0, b.parts[i] ?? 0);
    if (sign !== 0) return sign;
  }
  return wrappedSign(a.nb, b.nb);
}

/** Compares the version written in s from index `from` on with a parsed one. */
export function compareVersionAt(s: string, from: number, rhs: DeweyVersion): -1 | 0 | 1 {
  // Stops at the first differing component: the revision only matters on a tie.
  const parts = rhs.parts;
  startScan(from);
  let i = 0;
  for (let x = nextComponent(s); x !== END; x = nextComponent(s), i++) {
    const sign = wrappedSign(x, parts[i] ?? 0);
    if (sign !== 0) return sign;
  }
  for (; i < parts.length; i++) {
    const sign = wrappedSign(0, parts[i] ?? 0);
    if (sign !== 0) return sign;
  }
  return wrappedSign(scanNb, rhs.nb);
}

/** Compares two version strings: -1, 0 or 1, consistent with deweyCmp. */
export function compareVersions(a: string, b: string): -1 | 0 | 1 {
  return compareParsed(parseVersion(a), parseVersion(b));
}

/** Whether a comparison result satisfies op. */
export function satisfies(cmp: -1 | 0 | 1, op: DeweyOp): boolean {
  switch (op) {
    case "<":
      return cmp < 0;
    case "<=":
      return cmp <= 0;
    case ">":
      return cmp > 0;
    case ">=":
      return cmp >= 0;
    case "==":
      return cmp === 0;
    case "!=":
      return cmp !== 0;
  }
}

/** Whether `lhs op rhs` holds for two dewey version strings (pkgsrc's dewey_cmp). */
export function deweyCmp(lhs: string, op: DeweyOp, rhs: string): boolean {
  return satisfies(compareVersions(lhs, rhs), op);
}

/** Fixes UTF-16 code units up so that comparing them orders by code point (= UTF-8 bytes). */
function codePointOrderUnit(c: number): number {
  if (c < 0xd800) return c;
  return c >= 0xe000 ? c - 0x800 : c + 0x2000;
}

/** strcmp on the UTF-8 encodings of a and b, returning its sign. */
export function compareBytes(a: string, b: string): -1 | 0 | 1 {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointOrderUnit(x) < codePointOrderUnit(y) ? -1 : 1;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/**
 * pbulk's pkg_order: of two package names, the one with the higher version
 * (after the last '-'); on a tie the one that is greater byte-wise.
 */
export function pkgOrder(a: string, b: string): string {
  const da = a.lastIndexOf("-");
  const db = b.lastIndexOf("-");
  if (da < 0 || db < 0) throw new Error(`pkgOrder: no version in "${da < 0 ? a : b}"`);
  const va = parseVersion(a.slice(da + 1));
  const vb = parseVersion(b.slice(db + 1));
  // Two one-sided tests, as in C: with wrapped differences both may be false.
  if (compareParsed(va, vb) > 0) return a;
  if (compareParsed(vb, va) > 0) return b;
  return compareBytes(a, b) > 0 ? a : b;
}
