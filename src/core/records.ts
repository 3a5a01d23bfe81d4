/**
 * pbulk-index records: the `KEY=value` lines `bmake pbulk-index` prints and
 * pbulk-resolve passes through. A record starts at a `PKGNAME=` line and runs
 * to the next one. Records are kept losslessly: the raw bytes are kept, and
 * the fields (every line, in order, unknown keys included) are derived from
 * them on demand, so printing a record gives back the same bytes.
 *
 * Strings are "binary strings" (latin1: one char per byte), so any byte
 * sequence round-trips exactly; decode as UTF-8 only for display.
 */

export type Field = readonly [key: string, value: string];

/** Keys the parser extracts eagerly, because resolving and planning read them for every package. */
const KNOWN = new Set([
  "PKG_LOCATION",
  "ALL_DEPENDS",
  "DEPENDS",
  "PKG_SKIP_REASON",
  "PKG_FAIL_REASON",
  "PBULK_WEIGHT",
  "MULTI_VERSION",
]);

/** One package's record. */
export class ScanRecord {
  private parsed: readonly Field[] | undefined;

  constructor(
    readonly pkgname: string,
    /** The record's exact bytes, each line ending in a newline. */
    readonly raw: Buffer,
    /** 1-based line number of the record's PKGNAME= line in its input. */
    readonly line: number,
    private readonly known: ReadonlyMap<string, string>,
  ) {}

  /** Builds a record from fields (the first must be PKGNAME). */
  static fromFields(fields: readonly Field[], line = 0): ScanRecord {
    const first = fields[0];
    if (first?.[0] !== "PKGNAME") throw new Error("a record starts with PKGNAME");
    const known = new Map<string, string>();
    for (const [k, v] of fields) if (KNOWN.has(k) && !known.has(k)) known.set(k, v);
    let text = "";
    for (const [k, v] of fields) text += k + "=" + v + "\n";
    const rec = new ScanRecord(first[1], Buffer.from(text, "latin1"), line, known);
    rec.parsed = fields;
    return rec;
  }

  /**
   * Every line of the record in order, split at the first `=`. Derived anew
   * on each call (but for records built from fields): a full tree's 29,000
   * records kept as strings as well as bytes held some 200 MB in the master.
   */
  get fields(): readonly Field[] {
    if (this.parsed !== undefined) return this.parsed;
    const text = this.raw.toString("latin1", 0, this.raw.length);
    const out: Field[] = [];
    let pos = 0;
    while (pos < text.length) {
      const nl = text.indexOf("\n", pos);
      const eq = text.indexOf("=", pos);
      out.push([text.slice(pos, eq), text.slice(eq + 1, nl)]);
      pos = nl + 1;
    }
    return out;
  }

  /** The value of the first line with this key, or undefined. */
  get(key: string): string | undefined {
    if (KNOWN.has(key)) return this.known.get(key);
    if (this.parsed !== undefined) {
      for (const [k, v] of this.parsed) if (k === key) return v;
      return undefined;
    }
    // Looked up in the bytes: only the value becomes a string.
    const raw = this.raw;
    const needle = key + "=";
    let at: number;
    if (raw.toString("latin1", 0, Math.min(needle.length, raw.length)) === needle) at = 0;
    else {
      at = raw.indexOf("\n" + needle, 0, "latin1");
      if (at < 0) return undefined;
      at += 1;
    }
    const start = at + needle.length;
    const end = raw.indexOf(10, start);
    return raw.toString("latin1", start, end < 0 ? raw.length : end);
  }
}

export interface FormatError {
  readonly code: "format";
  readonly file: string;
  readonly line: number;
  readonly pkgname: string | undefined;
  readonly message: string;
  readonly hint: string;
}

export type ParseResult = { ok: true; records: ScanRecord[] } | { ok: false; error: FormatError };

/** The value of the first line with this key, or undefined. */
export function field(rec: ScanRecord, key: string): string | undefined {
  return rec.get(key);
}

/** Prints a record exactly as it was read (or as edited). */
export function printRecord(rec: ScanRecord): string {
  return rec.raw.toString("latin1", 0, rec.raw.length);
}

/** Returns a copy of a record with one key's value replaced (appended when absent). */
export function withField(rec: ScanRecord, key: string, value: string): ScanRecord {
  const fields = [...rec.fields];
  const at = fields.findIndex((f) => f[0] === key);
  if (at >= 0) fields[at] = [key, value];
  else fields.push([key, value]);
  return ScanRecord.fromFields(fields, rec.line);
}

const MAX_LINE = 1 << 20;
const NL = 10;
const EQ = 61;
const PKGNAME_EQ = Buffer.from("PKGNAME=", "latin1");
const NL_PKGNAME = Buffer.from("\nPKGNAME=", "latin1");
const EMPTY = Buffer.alloc(0);

/**
 * Incremental parser: feed Buffers with push(), then call end(). Works on
 * bytes (newlines found with memchr, raw records kept as views), and stops at
 * the first malformed line, reporting it as a value.
 */
export class RecordParser {
  readonly records: ScanRecord[] = [];
  private error: FormatError | undefined;
  private carry: Buffer = EMPTY;
  /** Lines fully read before the carry's first line. */
  private lineNo = 0;
  /** The open record: its bytes are buf[start, end) so far. */
  private cur:
    | {
        pkgname: string;
        line: number;
        buf: Buffer;
        start: number;
        end: number;
        known: Map<string, string>;
      }
    | undefined;
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly file: string,
    private readonly options: { readonly dropDuplicates?: boolean } = {},
  ) {}

  /** Feeds the next piece of input. */
  push(chunk: Buffer): void {
    if (this.error !== undefined || chunk.length === 0) return;
    if (this.carry.length === 0) {
      this.scan(chunk, 0);
      return;
    }
    // Join the carried open record only with the chunk's bytes up to the next
    // record, so each chunk is copied once at most a record's worth.
    const atLineStart = this.scanned === this.carry.length;
    const startsRecord = atLineStart && chunk.subarray(0, 8).equals(PKGNAME_EQ);
    const at = startsRecord ? -1 : chunk.indexOf(NL_PKGNAME);
    // Where the next record starts in the chunk, or -1 when it does not.
    const cut = startsRecord ? 0 : at >= 0 ? at + 1 : -1;
    if (cut < 0) {
      this.scan(this.joinCarry(chunk), this.scanned);
      return;
    }
    const headOk = cut === 0 || this.scan(this.joinCarry(chunk.subarray(0, cut)), this.scanned);
    // What follows starts with a PKGNAME= line, which closes the carried record.
    if (headOk && cut < chunk.length) this.scan(chunk.subarray(cut), 0);
  }

  /** The carry followed by more bytes; the open record (which starts the carry) moves along. */
  private joinCarry(more: Buffer): Buffer {
    const joined = Buffer.concat([this.carry, more]);
    if (this.cur !== undefined) this.cur.buf = joined;
    return joined;
  }

  /** Splits buf into lines from offset `from`; false once the input is found malformed. */
  private scan(buf: Buffer, from: number): boolean {
    let pos = from;
    this.nulAt = buf.indexOf(0, pos);
    for (;;) {
      const nl = buf.indexOf(NL, pos);
      if (nl < 0) break;
      if (!this.line(buf, pos, nl)) return false;
      pos = nl + 1;
    }
    if (buf.length - pos > MAX_LINE) {
      this.fail(
        this.lineNo + 1,
        `line longer than ${MAX_LINE} bytes`,
        "is this a pbulk-index file?",
      );
      return false;
    }
    // Keep the open record (its raw bytes must stay contiguous) and the partial line.
    const cur = this.cur;
    const keep = cur !== undefined && cur.buf === buf ? cur.start : pos;
    if (cur !== undefined && cur.buf === buf) {
      cur.buf = buf.subarray(keep);
      cur.start = 0;
      cur.end -= keep;
    }
    this.scanned = pos - keep;
    this.carry = buf.subarray(keep);
    return true;
  }

  /** Offset in the carry of the first byte not yet split into lines. */
  private scanned = 0;
  /** Offset of the first NUL byte at or after the scan position (-1: none). */
  private nulAt = -1;

  /** Finishes parsing; returns the records or the first error. */
  end(): ParseResult {
    if (this.error === undefined) {
      const tail = this.carry.length - this.scanned;
      if (tail > 0) {
        this.fail(
          this.lineNo + 1,
          "last line has no newline: the input looks truncated",
          "re-run the scan or check that the file was copied completely",
        );
      } else {
        this.flush();
      }
    }
    if (this.error !== undefined) return { ok: false, error: this.error };
    return { ok: true, records: this.records };
  }

  /** Takes one line; false once the input is found malformed. */
  private line(buf: Buffer, pos: number, nl: number): boolean {
    const n = ++this.lineNo;
    // Whole lines too, not only a partial one at a chunk's end: the verdict must not depend on chunking.
    if (nl - pos > MAX_LINE) {
      this.fail(n, `line longer than ${MAX_LINE} bytes`, "is this a pbulk-index file?");
      return false;
    }
    if (nl - pos >= 8 && buf.compare(PKGNAME_EQ, 0, 8, pos, pos + 8) === 0) {
      if (!this.flush()) return false;
      const name = buf.toString("latin1", pos + 8, nl);
      const bad = badPkgname(name);
      if (bad !== undefined) {
        this.fail(
          n,
          `invalid PKGNAME "${printable(name)}": ${bad}`,
          bad === "ends with CR" ? CR_HINT : "PKGNAME must look like name-version",
        );
        return false;
      }
      this.cur = { pkgname: name, line: n, buf, start: pos, end: nl + 1, known: new Map() };
      return true;
    }
    if (nl > pos && buf[nl - 1] === 13) {
      this.fail(n, "line ends with CR (DOS line ends)", CR_HINT);
      return false;
    }
    const eq = buf.indexOf(EQ, pos);
    if (eq < 0 || eq >= nl || eq === pos) {
      const text = buf.toString("latin1", pos, Math.min(nl, pos + 60));
      this.fail(
        n,
        nl === pos ? "empty line inside a record" : `line without KEY=value: "${printable(text)}"`,
        "each line of a pbulk-index record is KEY=value",
      );
      return false;
    }
    if (!validKey(buf, pos, eq)) {
      this.fail(
        n,
        `invalid key "${printable(buf.toString("latin1", pos, Math.min(eq, pos + 60)))}"`,
        "keys are make variable names such as PKG_LOCATION; is the file binary or corrupted?",
      );
      return false;
    }
    const cur = this.cur;
    if (cur === undefined) {
      this.fail(
        n,
        `${buf.toString("latin1", pos, eq)}= before any PKGNAME= line`,
        "each record must start with PKGNAME=",
      );
      return false;
    }
    if (this.nulAt >= pos && this.nulAt < nl) {
      this.fail(
        n,
        `binary data (NUL bytes) in ${buf.toString("latin1", pos, eq)}`,
        "the file looks corrupted; re-run the scan",
      );
      return false;
    }
    cur.end = nl + 1;
    const key = buf.toString("latin1", pos, eq);
    if (KNOWN.has(key) && !cur.known.has(key))
      cur.known.set(key, buf.toString("latin1", eq + 1, nl));
    return true;
  }

  /** Completes the open record; false when it is malformed. */
  private flush(): boolean {
    const cur = this.cur;
    if (cur === undefined) return true;
    this.cur = undefined;
    const prev = this.seen.get(cur.pkgname);
    if (prev !== undefined) {
      if (this.options.dropDuplicates === true) return true;
      this.fail(
        cur.line,
        `duplicate PKGNAME ${cur.pkgname} (first at line ${prev})`,
        "each package may appear once; pbulk-scan drops the repeats of multi-version directories",
        cur.pkgname,
      );
      return false;
    }
    const loc = cur.known.get("PKG_LOCATION");
    if (loc === undefined) {
      this.fail(
        cur.line,
        `record ${cur.pkgname} has no PKG_LOCATION`,
        "every pbulk-index record names its PKG_LOCATION (category/dir)",
        cur.pkgname,
      );
      return false;
    }
    if (!isPkgPath(loc)) {
      this.fail(
        cur.line,
        `record ${cur.pkgname} has an unsafe PKG_LOCATION "${printable(loc)}"`,
        "PKG_LOCATION must be category/dir, relative, without '..'",
        cur.pkgname,
      );
      return false;
    }
    this.seen.set(cur.pkgname, cur.line);
    this.records.push(
      new ScanRecord(cur.pkgname, cur.buf.subarray(cur.start, cur.end), cur.line, cur.known),
    );
    return true;
  }

  private fail(line: number, message: string, hint: string, pkgname?: string): void {
    this.error ??= {
      code: "format",
      file: this.file,
      line,
      pkgname: pkgname ?? this.cur?.pkgname,
      message,
      hint,
    };
  }
}

const CR_HINT =
  "the file has DOS (CRLF) line ends; convert it with: tr -d '\\r' < FILE > FILE.unix";

/** Parses a whole text (latin1) at once: tests, small files. */
export function parseRecords(text: string, file: string): ParseResult {
  const p = new RecordParser(file);
  p.push(Buffer.from(text, "latin1"));
  return p.end();
}

/** Formats a FormatError as "file:line: package: message". */
export function formatErrorText(e: FormatError): string {
  return `${e.file}:${e.line}: ${e.pkgname === undefined ? "" : `${printable(e.pkgname)}: `}${e.message}`;
}

/** True for a safe relative "category/dir" package path. */
export function isPkgPath(p: string): boolean {
  return /^[A-Za-z0-9_+][A-Za-z0-9_.+-]*\/[A-Za-z0-9_+][A-Za-z0-9_.+-]*$/.test(p);
}

function validKey(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = buf[i]!;
    const letter = (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
    if (letter) continue;
    if (i > from && ((c >= 48 && c <= 57) || c === 46)) continue;
    return false;
  }
  return true;
}

function badPkgname(name: string): string | undefined {
  if (name.endsWith("\r")) return "ends with CR";
  if (name.length < 4) return "shorter than 4 characters";
  if (/\s/.test(name)) return "contains white space";
  if (CONTROL.test(name)) return "contains control characters";
  if (name.includes("/")) return "contains a slash";
  if (!name.includes("-")) return "has no version (no '-')";
  return undefined;
}

// eslint-disable-next-line no-control-regex
const CONTROL = /[\x00-\x1f\x7f]/;
// C1 controls too: U+009B is a CSI that some terminals obey.
// eslint-disable-next-line no-control-regex
const CONTROL_ALL = /[\x00-\x1f\x7f-\x9f]/g;

/** Makes a string safe to show on one terminal line. */
export function printable(s: string): string {
  return s.replace(CONTROL_ALL, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
