import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { describe, it } from "node:test";
import { readTar, unsafeMember } from "../../src/core/tar.js";
import { IndexWriter } from "../../src/report/index-writer.js";
import {
  indexRepository,
  segmentDir,
  summaryRecord,
  type CachedEntry,
} from "../../src/report/repository.js";
import { scratchDir } from "../lib/scratch.js";

const dir = scratchDir("herd-tar-");

function tgz(name: string, build: (root: string) => void, tarArgs: string[] = ["."]): Buffer {
  const root = join(dir, name);
  mkdirSync(root, { recursive: true });
  build(root);
  const out = join(dir, `${name}.tgz`);
  execFileSync("tar", ["-czf", out, "-C", root, ...tarArgs]);
  return readFileSync(out);
}

describe("tar reading and vetting", () => {
  it("reads a binary package's metadata into a pkg_summary record", () => {
    const pkg = tgz(
      "good",
      (r) => {
        writeFileSync(
          join(r, "+CONTENTS"),
          "@name foo-1.0\n@pkgdep bar>=1\n@cwd /usr/pkg\nbin/foo\n",
        );
        writeFileSync(join(r, "+COMMENT"), "Does foo things\n");
        writeFileSync(join(r, "+DESC"), "Foo does things.\nSecond line.\n");
        writeFileSync(
          join(r, "+BUILD_INFO"),
          "OPSYS=Linux\nPKGPATH=misc/foo\nMACHINE_ARCH=x86_64\n",
        );
        mkdirSync(join(r, "bin"));
        writeFileSync(join(r, "bin", "foo"), "#!/bin/sh\n");
      },
      ["+CONTENTS", "+COMMENT", "+DESC", "+BUILD_INFO", "bin"],
    );
    const rec = summaryRecord("foo-1.0.tgz", pkg);
    assert.ok(rec.ok);
    assert.equal(
      rec.record,
      "PKGNAME=foo-1.0\nDEPENDS=bar>=1\nCOMMENT=Does foo things\nMACHINE_ARCH=x86_64\nOPSYS=Linux\nPKGPATH=misc/foo\n" +
        `FILE_NAME=foo-1.0.tgz\nFILE_SIZE=${pkg.length}\nDESCRIPTION=Foo does things.\nDESCRIPTION=Second line.\n\n`,
    );
  });

  it("refuses archives that escape their directory", () => {
    const abs = tgz(
      "abs",
      (r) => {
        writeFileSync(join(r, "x"), "x");
      },
      ["-P", "--transform=s,^,/etc/,", "x"],
    );
    const absTar = readTar(abs);
    assert.ok(absTar.ok);
    assert.match(unsafeMember(absTar.entries) ?? "", /absolute path/);
    const up = tgz(
      "up",
      (r) => {
        writeFileSync(join(r, "y"), "y");
      },
      ["--transform=s,^,../../,", "y"],
    );
    const upTar = readTar(up);
    assert.ok(upTar.ok);
    assert.match(unsafeMember(upTar.entries) ?? "", /climbs out with \.\./);
    const link = tgz(
      "link",
      (r) => {
        symlinkSync("../../../etc/passwd", join(r, "l"));
      },
      ["l"],
    );
    const linkTar = readTar(link);
    assert.ok(linkTar.ok);
    assert.match(unsafeMember(linkTar.entries) ?? "", /symbolic link "l" points outside/);
    const ok = readTar(
      tgz("inside", (r) => {
        mkdirSync(join(r, "d"));
        symlinkSync("../f", join(r, "d", "l"));
        writeFileSync(join(r, "f"), "");
      }),
    );
    assert.ok(ok.ok);
    assert.equal(unsafeMember(ok.entries), undefined);
  });

  it("reports truncated and corrupt archives", () => {
    const pkg = tgz("t", (r) => {
      writeFileSync(join(r, "+CONTENTS"), "@name t-1\n".repeat(200));
    });
    const raw = readTar(pkg);
    assert.ok(raw.ok);
    const r = readTar(Buffer.from(pkg.subarray(0, pkg.length - 30)));
    assert.equal(r.ok, false);
    assert.equal(readTar(Buffer.from("\x1f\x8bnot really gzip")).ok, false);
    const rec = summaryRecord(
      "x.tgz",
      Buffer.from("garbage that is not a tar archive at all".repeat(20)),
    );
    assert.equal(rec.ok, false);
  });
});

describe("vetting a received binary package", () => {
  it("accepts the package it asked for and rejects others", async () => {
    const { vetPackage } = await import("../../src/core/vet.js");
    const pkg = tgz(
      "vet",
      (r) => {
        writeFileSync(join(r, "+CONTENTS"), "@name foo-1.0\n@cwd /usr/pkg\n");
      },
      ["+CONTENTS"],
    );
    assert.equal(vetPackage(pkg, "foo-1.0"), undefined);
    assert.equal(vetPackage(pkg, "bar-2.0"), "it is foo-1.0, not bar-2.0");
    assert.match(vetPackage(Buffer.from("junk"), "foo-1.0") ?? "", /truncated|gzip|end-of-archive/);
    const evil = tgz(
      "vet-evil",
      (r) => {
        writeFileSync(join(r, "+CONTENTS"), "@name foo-1.0\n");
        symlinkSync("/etc/shadow", join(r, "x"));
      },
      ["+CONTENTS", "x"],
    );
    assert.match(vetPackage(evil, "foo-1.0") ?? "", /symbolic link "x" points outside/);
  });
});

describe("the repository's index", () => {
  const pkgFile = (name: string, comment: string): Buffer =>
    tgz(
      `idx-${name}-${comment.length}`,
      (r) => {
        writeFileSync(join(r, "+CONTENTS"), `@name ${name}\n@cwd /usr/pkg\n`);
        writeFileSync(join(r, "+COMMENT"), `${comment}\n`);
      },
      ["+CONTENTS", "+COMMENT"],
    );

  it("gives the same pkg_summary and SHA512 with its cache, and reads a package again once it changed", async () => {
    const repo = join(dir, "repo");
    const all = join(repo, "All");
    mkdirSync(all, { recursive: true });
    writeFileSync(join(all, "a-1.0.tgz"), pkgFile("a-1.0", "first"));
    writeFileSync(join(all, "b-1.0.tgz"), pkgFile("b-1.0", "bee"));
    const cache = join(dir, "index-cache.json");
    const read = (): [string, string] => [
      gunzipSync(readFileSync(join(all, "pkg_summary.gz"))).toString(),
      readFileSync(join(repo, "SHA512"), "utf8"),
    ];
    assert.equal((await indexRepository(repo)).packages, 2);
    const plain = read();
    assert.equal((await indexRepository(repo, { cache })).packages, 2);
    assert.deepEqual(read(), plain);
    // From the cache alone: the same output.
    assert.equal((await indexRepository(repo, { cache })).packages, 2);
    assert.deepEqual(read(), plain);
    // A package built again (new content, new mtime) is read again.
    writeFileSync(join(all, "a-1.0.tgz"), pkgFile("a-1.0", "second, longer"));
    await indexRepository(repo, { cache });
    const [summary, sha] = read();
    assert.match(summary, /COMMENT=second, longer/);
    assert.doesNotMatch(summary, /COMMENT=first/);
    assert.notEqual(sha, plain[1]);
    assert.deepEqual(read(), (await indexRepository(repo), read()));
  });

  /** pkg_summary.gz and SHA512 as bytes. */
  const outputs = (repo: string): [Buffer, Buffer] => [
    readFileSync(join(repo, "All", "pkg_summary.gz")),
    readFileSync(join(repo, "SHA512")),
  ];

  it("made as packages are committed, equals a fresh index byte for byte and reads no package again", async () => {
    const repo = join(dir, "repo-built");
    const all = join(repo, "All");
    mkdirSync(all, { recursive: true });
    const cache = join(dir, "built-index.json");
    // One package from before this build, never handed to the writer.
    writeFileSync(join(all, "old-1.0.tgz"), pkgFile("old-1.0", "from before"));
    const writer = new IndexWriter({ packagesDir: repo, cache, via: "herd", batch: 3 });
    const names = ["a-1.0", "b-2.0", "c-3.1", "d-0.1", "e-9"];
    for (const n of names) {
      // As the build commits a package: fetched beside the repository's file, renamed in.
      const incoming = join(all, `${n}.tgz.host1.1.incoming`);
      writeFileSync(incoming, pkgFile(n, `package ${n}`));
      renameSync(incoming, join(all, `${n}.tgz`));
      writer.add(`${n}.tgz`);
    }
    // Not a package: no entry, the report reads it and says so.
    writeFileSync(join(all, "junk-1.0.tgz"), "junk");
    writer.add("junk-1.0.tgz");
    const done = await writer.close();
    assert.equal(done.indexed, names.length);
    assert.equal(done.written, names.length);
    assert.equal(done.skipped.length, 1);
    assert.deepEqual(done.errors, []);
    // Batches of 3: two segments, each a whole file.
    const segs = readdirSync(segmentDir(cache));
    assert.equal(segs.filter((f) => f.endsWith(".json")).length, 2);

    const cached = await indexRepository(repo, { cache });
    assert.equal(cached.read, 2, "only the package from before and the junk are read");
    assert.equal(cached.packages, names.length + 1);
    assert.equal(cached.problems.length, 1);
    const fromCache = outputs(repo);
    const fresh = await indexRepository(repo);
    assert.equal(fresh.read, names.length + 2);
    assert.deepEqual(outputs(repo), fromCache);
    // The segments are merged into the cache and gone; the next index reads only the junk.
    assert.equal(existsSync(segmentDir(cache)) && readdirSync(segmentDir(cache)).length > 0, false);
    assert.equal((await indexRepository(repo, { cache })).read, 1);
    assert.deepEqual(outputs(repo), fromCache);
  });

  it("takes nothing from a damaged segment, another repository's or a stale entry", async () => {
    const repo = join(dir, "repo-stale");
    const all = join(repo, "All");
    mkdirSync(all, { recursive: true });
    const cache = join(dir, "stale-index.json");
    const segs = segmentDir(cache);
    mkdirSync(segs, { recursive: true });
    writeFileSync(join(all, "a-1.0.tgz"), pkgFile("a-1.0", "alpha"));
    writeFileSync(join(all, "b-1.0.tgz"), pkgFile("b-1.0", "beta"));
    writeFileSync(join(all, "c-1.0.tgz"), pkgFile("c-1.0", "gamma"));
    const st = (n: string): [number, number] => {
      const s = statSync(join(all, n));
      return [s.size, s.mtimeMs];
    };
    const lie = (n: string): CachedEntry => [...st(n), "0".repeat(128), `PKGNAME=${n}\n\n`];
    const seg = (name: string, body: unknown): void => {
      writeFileSync(join(segs, name), JSON.stringify(body));
    };
    // Keyed right, but of another repository, of pkg_info's records, or not an entry at all.
    seg("1.json", { via: "herd", repo: "/elsewhere", files: { "a-1.0.tgz": lie("a-1.0.tgz") } });
    seg("2.json", {
      via: "/usr/sbin/pkg_info",
      repo: resolve(repo),
      files: { "b-1.0.tgz": lie("b-1.0.tgz") },
    });
    seg("3.json", {
      via: "herd",
      repo: resolve(repo),
      files: { "c-1.0.tgz": [...st("c-1.0.tgz"), "not a digest", "PKGNAME=x\n\n"] },
    });
    // Cut short (a writer killed mid-write leaves only its .tmp; this is worse).
    writeFileSync(join(segs, "4.json"), '{"via":"herd","repo":');
    writeFileSync(join(segs, "5.json.tmp"), "{");
    const first = await indexRepository(repo, { cache });
    assert.equal(first.read, 3);
    const good = outputs(repo);
    assert.deepEqual((await indexRepository(repo), outputs(repo)), good);
    assert.deepEqual(readdirSync(segs), []);

    // A package built again under the same name: a new file, read again, though the cache has the name.
    assert.equal((await indexRepository(repo, { cache })).read, 0);
    const incoming = join(all, "a-1.0.tgz.h.1.incoming");
    writeFileSync(incoming, pkgFile("a-1.0", "alpha, built again"));
    renameSync(incoming, join(all, "a-1.0.tgz"));
    const again = await indexRepository(repo, { cache });
    assert.equal(again.read, 1);
    assert.match(gunzipSync(outputs(repo)[0]).toString(), /COMMENT=alpha, built again/);
    const rebuilt = outputs(repo);
    assert.deepEqual((await indexRepository(repo), outputs(repo)), rebuilt);
  });
});
