import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  field,
  parseRecords,
  printRecord,
  RecordParser,
  withField,
  formatErrorText,
} from "../../src/core/records.js";

const GOOD =
  "PKGNAME=foo-1.0\nPKG_LOCATION=misc/foo\nALL_DEPENDS=bar>=1:../../misc/bar\nX_UNKNOWN=kept\nPKG_SKIP_REASON=\n" +
  "PKGNAME=bar-1.2nb1\nPKG_LOCATION=misc/bar\nALL_DEPENDS=\nMAINTAINER=J\xc3\xb6rg <j@example.org>\n";

function parseErr(text: string): {
  line: number;
  message: string;
  pkgname: string | undefined;
  hint: string;
} {
  const r = parseRecords(text, "scan.txt");
  if (r.ok) throw new Error("expected a format error");
  return r.error;
}

describe("records", () => {
  it("parses records with all keys in order, unknown ones kept", () => {
    const r = parseRecords(GOOD, "x");
    assert.ok(r.ok);
    assert.deepEqual(
      r.records.map((x) => x.pkgname),
      ["foo-1.0", "bar-1.2nb1"],
    );
    const foo = r.records[0]!;
    assert.deepEqual(
      foo.fields.map((f) => f[0]),
      ["PKGNAME", "PKG_LOCATION", "ALL_DEPENDS", "X_UNKNOWN", "PKG_SKIP_REASON"],
    );
    assert.equal(field(foo, "X_UNKNOWN"), "kept");
    assert.equal(field(foo, "PKG_SKIP_REASON"), "");
    assert.equal(field(foo, "NOPE"), undefined);
    assert.equal(r.records[1]!.line, 6);
  });

  it("looks up any key in the bytes as the parsed fields give it: the first line, the empty value, a key inside another's value", () => {
    const text =
      "PKGNAME=foo-1.0\nPKG_LOCATION=misc/foo\nX_A=one\nMAINTAINER=\nX_B=X_A=not-a-line\nX_A=second\n" +
      "PKGNAME=bar-1\nPKG_LOCATION=misc/bar\nRESTRICTED=yes\n";
    const r = parseRecords(text, "x");
    assert.ok(r.ok);
    for (const rec of r.records)
      for (const key of ["PKGNAME", "X_A", "X_B", "MAINTAINER", "RESTRICTED", "NOPE", "PKG"]) {
        const first = rec.fields.find((f) => f[0] === key)?.[1];
        assert.equal(rec.get(key), first, `${rec.pkgname} ${key}`);
      }
    assert.equal(r.records[0]!.get("X_A"), "one");
    assert.equal(r.records[0]!.get("MAINTAINER"), "");
    assert.equal(r.records[1]!.get("RESTRICTED"), "yes");
    assert.equal(r.records[1]!.get("X_A"), undefined, "not another record's line");
  });

  it("round-trips the exact bytes, including non-ASCII", () => {
    const r = parseRecords(GOOD, "x");
    assert.ok(r.ok);
    assert.equal(r.records.map(printRecord).join(""), GOOD);
  });

  it("gives the same records whatever the chunking", () => {
    for (const size of [1, 2, 7, 64]) {
      const p = new RecordParser("x");
      for (let i = 0; i < GOOD.length; i += size)
        p.push(Buffer.from(GOOD.slice(i, i + size), "latin1"));
      const r = p.end();
      assert.ok(r.ok);
      assert.equal(r.records.map(printRecord).join(""), GOOD);
    }
  });

  it("gives the same records for every split into two chunks", () => {
    for (let cut = 0; cut <= GOOD.length; cut++) {
      const p = new RecordParser("x");
      p.push(Buffer.from(GOOD.slice(0, cut), "latin1"));
      p.push(Buffer.from(GOOD.slice(cut), "latin1"));
      const r = p.end();
      assert.ok(r.ok, `split at ${cut}`);
      assert.equal(r.records.map(printRecord).join(""), GOOD, `split at ${cut}`);
    }
  });

  it("withField replaces in place or appends", () => {
    const r = parseRecords(GOOD, "x");
    assert.ok(r.ok);
    const edited = withField(r.records[0]!, "PKG_SKIP_REASON", "no");
    assert.equal(
      printRecord(edited),
      GOOD.split("PKGNAME=bar")[0]!.replace("PKG_SKIP_REASON=\n", "PKG_SKIP_REASON=no\n"),
    );
    assert.equal(field(withField(r.records[0]!, "NEW", "v"), "NEW"), "v");
  });

  it("rejects a key before any PKGNAME, naming file and line", () => {
    const e = parseErr("PKG_LOCATION=misc/foo\nPKGNAME=foo-1.0\n");
    assert.equal(e.line, 1);
    assert.match(e.message, /PKG_LOCATION= before any PKGNAME=/);
    assert.match(formatErrorText({ ...e, code: "format", file: "scan.txt" }), /^scan\.txt:1: /);
  });

  it("rejects a line without =, naming the package", () => {
    const e = parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=misc/foo\njust words\n");
    assert.equal(e.line, 3);
    assert.equal(e.pkgname, "foo-1.0");
    assert.match(e.message, /line without KEY=value: "just words"/);
  });

  it("rejects a duplicate PKGNAME with both lines", () => {
    const e = parseErr(
      "PKGNAME=foo-1.0\nPKG_LOCATION=a/foo\nPKGNAME=foo-1.0\nPKG_LOCATION=b/foo\n",
    );
    assert.equal(e.line, 3);
    assert.match(e.message, /duplicate PKGNAME foo-1\.0 \(first at line 1\)/);
  });

  it("drops duplicates when asked (pbulk-scan behaviour)", () => {
    const p = new RecordParser("x", { dropDuplicates: true });
    p.push(
      Buffer.from("PKGNAME=foo-1.0\nPKG_LOCATION=a/foo\nPKGNAME=foo-1.0\nPKG_LOCATION=b/foo\n"),
    );
    const r = p.end();
    assert.ok(r.ok);
    assert.equal(r.records.length, 1);
    assert.equal(field(r.records[0]!, "PKG_LOCATION"), "a/foo");
  });

  it("rejects binary garbage", () => {
    const e = parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=misc/foo\nALL_DEPENDS=\x00\x01\x02\xff\n");
    assert.equal(e.line, 3);
    assert.match(e.message, /binary data \(NUL bytes\) in ALL_DEPENDS/);
    const e2 = parseErr("\x7fELF\x02\x01\x01\x00\x00\x00\n");
    assert.equal(e2.line, 1);
  });

  it("rejects CRLF line ends with a hint", () => {
    const e = parseErr("PKGNAME=foo-1.0\r\nPKG_LOCATION=misc/foo\r\n");
    assert.equal(e.line, 1);
    assert.match(e.message + e.hint, /white space|CR/);
    const e2 = parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=misc/foo\r\n");
    assert.match(e2.message, /CR \(DOS line ends\)/);
    assert.match(e2.hint, /tr -d/);
  });

  it("rejects a truncated last record", () => {
    const e = parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=misc/foo\nALL_DEP");
    assert.equal(e.line, 3);
    assert.equal(e.pkgname, "foo-1.0");
    assert.match(e.message, /truncated/);
  });

  it("rejects a record without PKG_LOCATION", () => {
    const e = parseErr("PKGNAME=foo-1.0\nALL_DEPENDS=\n");
    assert.match(e.message, /no PKG_LOCATION/);
    assert.equal(e.pkgname, "foo-1.0");
  });

  it("rejects hostile package names and paths", () => {
    assert.match(parseErr("PKGNAME=../../etc-1\nPKG_LOCATION=a/b\n").message, /slash/);
    assert.match(parseErr("PKGNAME=a b-1.0\nPKG_LOCATION=a/b\n").message, /white space/);
    assert.match(
      parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=../../etc\n").message,
      /unsafe PKG_LOCATION/,
    );
    assert.match(
      parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=/etc/passwd\n").message,
      /unsafe PKG_LOCATION/,
    );
    assert.match(
      parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=misc/..\n").message,
      /unsafe PKG_LOCATION/,
    );
  });

  it("rejects an overlong line", () => {
    const e = parseErr("PKGNAME=foo-1.0\nPKG_LOCATION=a/b\nX=" + "y".repeat(1 << 21));
    assert.match(e.message, /longer than/);
  });
});

describe("pbulk-scan framing", () => {
  it("inserts PKG_LOCATION as the second line and drops repeated PKGNAMEs", async () => {
    const { frameScanOutput } = await import("../../src/core/pscan.js");
    const seen = new Set<string>(["old-1.0"]);
    const out = frameScanOutput(
      Buffer.from(
        "PKGNAME=py312-a-1\nALL_DEPENDS=\nPKGNAME=old-1.0\nALL_DEPENDS=x\nPKGNAME=py313-a-1\nALL_DEPENDS=\n",
      ),
      "lang/py-a",
      seen,
    );
    assert.equal(
      out.toString(),
      "PKGNAME=py312-a-1\nPKG_LOCATION=lang/py-a\nALL_DEPENDS=\nPKGNAME=py313-a-1\nPKG_LOCATION=lang/py-a\nALL_DEPENDS=\n",
    );
    assert.deepEqual([...seen].sort(), ["old-1.0", "py312-a-1", "py313-a-1"]);
  });
});
