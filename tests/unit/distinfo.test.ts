/** distinfo files, digests and the host's distfile list. */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { Digests, mismatch, parseDistinfo, siteUrl } from "../../src/core/distinfo.js";
import { parseDistfileQuery } from "../../src/bulk/distfiles.js";

const BODY = Buffer.from("hello\n");
const SHA512 = createHash("sha512").update(BODY).digest("hex");

describe("distinfo", () => {
  it("reads digests and sizes by file, skipping the RCS id and blank lines", () => {
    const r = parseDistinfo(
      `$NetBSD$\n\nSHA512 (sub/a.tgz) = ${SHA512.toUpperCase()}\nSize (sub/a.tgz) = 6 bytes\nSHA1 (patch-aa) = 00\n`,
      "cat/p/distinfo",
    );
    assert.ok(r.ok);
    const a = r.value.get("sub/a.tgz")!;
    assert.equal(a.size, 6);
    assert.equal(a.digests.get("SHA512"), SHA512);
    const d = new Digests(a.digests.keys());
    d.update(BODY);
    assert.equal(mismatch(a, d.digest()), null);
    const bad = new Digests(a.digests.keys());
    bad.update(Buffer.from("HELLO\n"));
    assert.match(
      mismatch(a, bad.digest()) ?? "",
      /^SHA512 mismatch: distinfo [0-9a-f]{128}, file [0-9a-f]{128}$/,
    );
    const short = new Digests([]);
    short.update(Buffer.from("hi"));
    assert.equal(mismatch(a, short.digest()), "size 2 bytes, distinfo says 6");
  });

  it("names the file and line of a malformed line or an unknown algorithm", () => {
    const r = parseDistinfo("$NetBSD$\nSHA512 a.tgz = 1\n", "x/distinfo");
    assert.ok(!r.ok);
    assert.match(r.error, /^x\/distinfo:2: not a distinfo line/);
    const u = parseDistinfo("MD5 (a) = 1\n", "y/distinfo");
    assert.ok(!u.ok);
    assert.equal(u.error, "y/distinfo:1: unknown checksum algorithm MD5 for a");
  });

  it("forms URLs as pkgsrc does", () => {
    assert.equal(siteUrl("http://h/d/", "sub/a.tgz"), "http://h/d/a.tgz");
    assert.equal(siteUrl("http://h/get?f=a.tgz-", "a.tgz"), "http://h/get?f=a.tgz");
  });
});

describe("the host's distfile list", () => {
  it("gives each file its sites, backups after them, and drops what is not a URL", () => {
    const r = parseDistfileQuery(
      "/r/distfiles\n/r/pkgsrc/cat/p/distinfo\nsub/a.tgz|http://x/,`getsite.sh`,ftp://y/ b.tgz|\nhttp://backup/\n",
    );
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.deepEqual(r.value.files, [
      { name: "sub/a.tgz", sites: ["http://x/", "ftp://y/", "http://backup/sub/"] },
      { name: "b.tgz", sites: ["http://backup/"] },
    ]);
  });

  it("refuses names that leave DISTDIR and a relative DISTDIR", () => {
    for (const name of ["../etc/passwd", "a/../../b", "/abs", "a//b"]) {
      const r = parseDistfileQuery(`/d\n/t/distinfo\n${name}|http://x/\n\n`);
      assert.ok(!r.ok, name);
      assert.match(r.error, /unsafe distfile name/);
    }
    const rel = parseDistfileQuery("distfiles\n/t/distinfo\n\n\n");
    assert.ok(!rel.ok);
    assert.match(rel.error, /DISTDIR is not an absolute path/);
  });
});
