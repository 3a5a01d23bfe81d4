/**
 * Distfiles from FTP sites (`distfiles: "master"`): a real FTP server
 * (Debian's pyftpdlib) on 127.0.0.1 serves the files. The master's cache
 * passes over a site that answers 550, continues a partial download with
 * REST, verifies the whole, and a build fetches and ships an FTP distfile.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { DistCache } from "../../src/bulk/distfiles.js";
import { addPackage, outcomes } from "../lib/distpkg.js";
import { build, sandbox } from "../lib/fixture.js";
import { scratchDir } from "../lib/scratch.js";

const PYTHON = "/usr/bin/python3";

describe("distfiles from FTP sites", () => {
  let ftpd: ChildProcess;
  let log = "";
  let site = "";
  const root = scratchDir("herd-ftp-");
  const BIG = randomBytes(300 * 1024);
  const SCRIPT = "#!/bin/sh\necho fetched over ftp\n";

  before(async () => {
    mkdirSync(join(root, "pub"), { recursive: true });
    writeFileSync(join(root, "pub", "big.bin"), BIG);
    writeFileSync(join(root, "pub", "hello.sh"), SCRIPT);
    ftpd = spawn(PYTHON, ["-m", "pyftpdlib", "-i", "127.0.0.1", "-p", "0", "-d", root, "-D"], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    ftpd.stderr?.on("data", (d: Buffer) => (log += d.toString()));
    const deadline = Date.now() + 20_000;
    let port: string | undefined;
    while ((port = /starting FTP server on 127\.0\.0\.1:(\d+)/.exec(log)?.[1]) === undefined) {
      if (ftpd.exitCode !== null || Date.now() > deadline)
        throw new Error(`pyftpdlib did not start (apt-get install python3-pyftpdlib): ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    site = `ftp://127.0.0.1:${port}`;
  });
  after(() => {
    ftpd.kill();
  });

  it("passes over a 550, continues a partial file with REST and verifies the whole", async () => {
    const dir = scratchDir("herd-ftp-cache-");
    const distinfo = join(dir, "distinfo");
    const sha = createHash("sha512").update(BIG).digest("hex");
    writeFileSync(
      distinfo,
      `$NetBSD$\n\nSHA512 (big.bin) = ${sha}\nSize (big.bin) = ${BIG.length} bytes\n` +
        `SHA512 (gone.bin) = ${sha}\nSize (gone.bin) = ${BIG.length} bytes\n`,
    );
    const cache = new DistCache({ dir: join(dir, "cache"), tree: dir, jobs: 2 });
    // What a master killed in the middle left: the first 100 KiB.
    mkdirSync(join(dir, "cache"));
    writeFileSync(join(dir, "cache", "big.bin.part"), BIG.subarray(0, 100 * 1024));
    const r = await cache.ensure(
      { name: "big.bin", sites: [`${site}/missing/`, `${site}/pub/`] },
      distinfo,
    );
    assert.ok(r.ok, r.ok ? "" : r.error);
    assert.deepEqual(readFileSync(r.value), BIG);
    assert.equal(existsSync(join(dir, "cache", "big.bin.part")), false);
    // Only the rest crossed the wire, and the server was asked to restart at 100 KiB.
    assert.equal(cache.bytesFetched, BIG.length - 100 * 1024);
    assert.match(log, /REST 102400/);

    const gone = await cache.ensure(
      { name: "gone.bin", sites: [`${site}/missing/`, `${site}/pub/`] },
      distinfo,
    );
    assert.ok(!gone.ok);
    assert.match(gone.error, /could not fetch gone\.bin: /);
    assert.match(gone.error, /missing\/gone\.bin: FTP 550/);
    assert.match(gone.error, /pub\/gone\.bin: FTP 550/);
    cache.close();
  });

  it(
    "a build fetches a package's distfile from an FTP site and ships it",
    { timeout: 180_000 },
    async () => {
      const box = sandbox("distfiles-ftp");
      addPackage(box.tree, {
        name: "dftp",
        file: "hello.sh",
        body: SCRIPT,
        sites: [`${site}/pub/`],
      });
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "distf/dftp\n");
      const work = join(box.dir, "work");
      const r = await build(box, work, 1, list);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(outcomes(r.events).get("dftp-1.0"), "built", r.stderr);
      assert.equal(readFileSync(join(work, "distfiles", "dftp-1.0", "hello.sh"), "utf8"), SCRIPT);
      assert.equal(
        readFileSync(join(work, "hosts", "local1", "distfiles", "dftp-1.0", "hello.sh"), "utf8"),
        SCRIPT,
      );
    },
  );
});
