/**
 * Distfiles over the channel (`distfiles: "master"`): the build hosts are
 * sshds in network namespaces this test creates, so they cannot reach the
 * test's HTTP server on the master's 127.0.0.1; the master fetches each
 * distfile once, verifies it against distinfo (SHA512 and Size) and ships it.
 * A first site that answers 404 is passed over; a file no site serves fails
 * its package at `fetch` and its dependent indirectly; a file served damaged
 * everywhere fails with both digests and is not kept.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { build, buildArgs, sandbox } from "../lib/fixture.js";
import { startHerd } from "../lib/dashboard.js";
import { addPackage, outcomes } from "../lib/distpkg.js";
import { netnsUnavailable, startNetnsHost, type NetnsHost } from "./netns-support.js";

const skip = netnsUnavailable();

const SHARED = "#!/bin/sh\necho hello from a distfile\n";
const BAD = "#!/bin/sh\necho the real one\n";

describe("distfiles fetched by the master", { skip: skip ?? false }, () => {
  let server: Server;
  let far: NetnsHost | undefined;
  let far2: NetnsHost | undefined;
  const hits = new Map<string, number>();
  let base = "";

  before(async () => {
    server = createServer((req, res) => {
      const path = req.url ?? "";
      hits.set(path, (hits.get(path) ?? 0) + 1);
      if (path.startsWith("/good/") && path.endsWith("/shared.sh")) res.end(SHARED);
      else if (path.startsWith("/bad")) res.end(`${BAD}# damaged\n`);
      else {
        res.statusCode = 404;
        res.end("not here\n");
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await far?.stop();
    await far2?.stop();
    await new Promise<void>((r) => {
      server.close(() => {
        r();
      });
    });
  });

  it(
    "a host without network builds packages with distfiles; each is fetched once",
    { timeout: 300_000 },
    async () => {
      const box = sandbox("distfiles");
      far = await startNetnsHost(join(box.dir, "sshd"));
      far2 = await startNetnsHost(join(box.dir, "sshd2"), 1);
      for (const name of ["dhello", "dhello2"])
        addPackage(box.tree, {
          name,
          file: "shared.sh",
          body: SHARED,
          subdir: "shared",
          // A site that refuses the connection (nothing listens on port 1), one that answers 404.
          sites: ["http://127.0.0.1:1/", `${base}/missing/`, `${base}/good/`],
        });
      addPackage(box.tree, {
        name: "dgone",
        file: "gone.sh",
        body: BAD,
        sites: [`${base}/missing/`],
      });
      addPackage(box.tree, {
        name: "duser",
        file: "shared.sh",
        body: SHARED,
        subdir: "shared",
        sites: [`${base}/good/`],
        depends: "dgone>=1.0:../../distf/dgone",
      });
      addPackage(box.tree, {
        name: "dbad",
        file: "bad.sh",
        body: BAD,
        sites: [`${base}/bad1/`, `${base}/bad2/`, `${base}/bad3/`],
      });
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(
        list,
        ["dhello", "dhello2", "dgone", "duser", "dbad"].map((p) => `distf/${p}\n`).join(""),
      );
      const hosts = join(box.dir, "hosts.txt");
      writeFileSync(
        hosts,
        `far ssh root@${far.address} slots=2 root=${join(box.dir, "far")} identity=${far.identity} known_hosts=${far.knownHosts}\n` +
          `far2 ssh root@${far2.address} slots=1 root=${join(box.dir, "far2")} identity=${far2.identity} known_hosts=${far2.knownHosts}\n`,
      );
      const work = join(box.dir, "work");
      const r = await build(box, work, hosts, list);
      assert.equal(r.code, 0, r.stderr);
      const got = outcomes(r.events);
      assert.equal(got.get("dhello-1.0"), "built", JSON.stringify([...got]));
      assert.equal(got.get("dhello2-1.0"), "built");
      assert.equal(got.get("dgone-1.0"), "failed@fetch");
      assert.equal(got.get("duser-1.0"), "indirect-failed");
      assert.equal(got.get("dbad-1.0"), "failed@fetch");
      // Once from the good site however many packages and slots wanted it; the 404 site was asked first.
      const good = [...hits].filter(([p]) => p.startsWith("/good/"));
      assert.deepEqual(good, [["/good/shared.sh", 1]], JSON.stringify([...hits]));
      assert.ok((hits.get("/missing/shared.sh") ?? 0) >= 1);
      // Every host that built one of its packages received it from the master.
      const builders = new Set(
        r.events
          .filter((e) => e.type === "package-end" && e.result === "built")
          .filter((e) => e.pkgname === "dhello-1.0" || e.pkgname === "dhello2-1.0")
          .map((e) => e.host as string),
      );
      assert.ok(builders.size >= 1);
      for (const h of builders)
        assert.equal(readFileSync(join(box.dir, h, "distfiles/shared/shared.sh"), "utf8"), SHARED);
      // The verified file is in the master's cache; the damaged one is not kept.
      assert.equal(readFileSync(join(work, "distfiles", "shared", "shared.sh"), "utf8"), SHARED);
      assert.equal(existsSync(join(work, "distfiles", "dbad-1.0", "bad.sh")), false);
      assert.equal(existsSync(join(work, "distfiles", "dbad-1.0", "bad.sh.part")), false);
      // The failures say why: sites tried, both digests.
      const ends = r.events.filter((e) => e.type === "package-end");
      const reason = (p: string): string =>
        (ends.find((e) => e.pkgname === p)?.reason as string | undefined) ?? "";
      assert.match(
        reason("dgone-1.0"),
        /could not fetch dgone-1\.0\/gone\.sh: .*missing\/gone\.sh: HTTP 404/,
      );
      assert.match(
        reason("dbad-1.0"),
        /size \d+ bytes, distinfo says \d+|SHA512 mismatch: distinfo [0-9a-f]+, file [0-9a-f]+/,
      );
      assert.equal(hits.get("/bad3/bad.sh"), undefined, "after two damaged copies it stops");
      // Fetched ahead, from what the scan said: a package no site serves never took a host,
      // and every package that did found its distfiles in the master's cache.
      const starts = r.events.filter((e) => e.type === "package-start").map((e) => e.pkgname);
      assert.ok(!starts.includes("dgone-1.0") && !starts.includes("dbad-1.0"), starts.join(" "));
      assert.ok(starts.includes("dhello-1.0"), starts.join(" "));
      const fetched = r.events.filter((e) => e.type === "fetch-progress").at(-1);
      assert.ok(fetched !== undefined, "a fetch-progress event");
      assert.equal(fetched.done, fetched.total);
      assert.equal(fetched.total, 5);
      assert.equal(fetched.failed, 2);
      assert.equal(fetched.bytesLeft, 0);
      assert.ok(
        (fetched.bytes as number) >= SHARED.length,
        "the good download, and the damaged ones",
      );
      const fetchLog = readFileSync(join(work, "logs", "dgone-1.0", "fetch.log"), "utf8");
      assert.match(fetchLog, /missing\/gone\.sh: HTTP 404/);
      // The report shows them in a section of their own, not among the build failures.
      const html = readFileSync(join(work, "report", "report.html"), "utf8");
      const section = /<section id="fetch-failed">(.*?)<\/section>/s.exec(html)?.[1] ?? "";
      assert.match(section, /dgone-1\.0.*HTTP 404/s);
      assert.match(section, /dbad-1\.0/);
      const failedSection = /<section id="failed">(.*?)<\/section>/s.exec(html)?.[1] ?? "";
      assert.doesNotMatch(failedSection, /dgone-1\.0/);
      const text = readFileSync(join(work, "report", "report.txt"), "utf8");
      assert.match(
        text,
        /Distfiles not fetched[^\n]*\n( {2}.*\n)* {2}dgone-1\.0 \(distf\/dgone\) breaks 1: could not fetch/,
      );
    },
  );
});

describe("the master killed in the middle of a download", () => {
  // 256 KiB, sent 16 KiB every 50 ms the first time; every later request is answered at once.
  const BIG = Array.from({ length: 4096 }, (_, i) => `line ${String(i).padStart(57, "0")}\n`).join(
    "",
  );
  const asked: string[] = [];
  const lru = new Map<string, string>();
  let sent = 0;
  let server: Server;
  let base = "";
  before(async () => {
    server = createServer((req, res) => {
      const small = lru.get(req.url ?? "");
      if (small !== undefined) {
        res.end(small);
        return;
      }
      const range = req.headers.range ?? "";
      asked.push(range);
      const from = Number(/^bytes=(\d+)-$/.exec(range)?.[1] ?? 0);
      const body = Buffer.from(BIG).subarray(from);
      if (from > 0) {
        res.writeHead(206, { "content-range": `bytes ${from}-${BIG.length - 1}/${BIG.length}` });
        res.end(body);
        return;
      }
      if (asked.length > 1) {
        res.end(body);
        return;
      }
      res.writeHead(200, { "content-length": String(body.length) });
      let at = 0;
      const tick = setInterval(() => {
        if (at >= body.length || res.destroyed) {
          clearInterval(tick);
          res.end();
          return;
        }
        res.write(body.subarray(at, at + 16384));
        at += 16384;
        sent = at;
      }, 50);
      res.on("close", () => {
        clearInterval(tick);
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => {
      server.close(() => {
        r();
      });
    });
  });

  it(
    "keeps a host's DISTDIR within its bound, least recently used out first",
    { timeout: 180_000 },
    async () => {
      const A = `#!/bin/sh\n${"# first\n".repeat(12)}echo a\n`;
      const B = `#!/bin/sh\n${"# second\n".repeat(12)}echo b\n`;
      // Room for one of them: the second to arrive pushes the first out (dlrub needs dlrua built first).
      const box = sandbox("distfiles-lru", { hostDistdirBytes: B.length + 10 });
      addPackage(box.tree, { name: "dlrua", file: "a.sh", body: A, sites: [`${base}/lru/`] });
      addPackage(box.tree, {
        name: "dlrub",
        file: "b.sh",
        body: B,
        sites: [`${base}/lru/`],
        depends: "dlrua>=1.0:../../distf/dlrua",
      });
      lru.set("/lru/a.sh", A).set("/lru/b.sh", B);
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "distf/dlrub\n");
      const work = join(box.dir, "work");
      const r = await build(box, work, 1, list);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(outcomes(r.events).get("dlrub-1.0"), "built", r.stderr);
      const distdir = join(work, "hosts", "local1", "distfiles");
      assert.equal(readFileSync(join(distdir, "dlrub-1.0", "b.sh"), "utf8"), B);
      assert.equal(existsSync(join(distdir, "dlrua-1.0", "a.sh")), false, "a.sh was evicted");
      const log = readFileSync(join(work, "logs", "dlrub-1.0", "fetch.log"), "utf8");
      assert.match(log, /evicted dlrua-1\.0\/a\.sh \(\d+ bytes\)/);
    },
  );

  it(
    "continues the partial file, and fetches it anew when the whole is wrong",
    { timeout: 180_000 },
    async () => {
      const box = sandbox("distfiles-kill");
      addPackage(box.tree, { name: "dslow", file: "big.txt", body: BIG, sites: [`${base}/slow/`] });
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "distf/dslow\n");
      const work = join(box.dir, "work");
      const herd = startHerd(["build", ...buildArgs(box, work, 1, list), "--json"]);
      const deadline = Date.now() + 120_000;
      while (sent < 65536 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      herd.kill();
      await herd.exited;
      assert.ok(sent >= 65536, `the server sent ${sent} bytes before the kill`);
      const part = join(work, "distfiles", "dslow-1.0", "big.txt.part");
      const have = statSync(part).size;
      assert.ok(have > 0 && have < BIG.length, `a partial file of ${have} bytes`);
      assert.equal(existsSync(join(work, "distfiles", "dslow-1.0", "big.txt")), false);
      // Damage what was received: the continued download must not make a trusted file of it.
      const bytes = readFileSync(part);
      bytes[0] = bytes[0]! ^ 1;
      writeFileSync(part, bytes);
      const r = await build(box, work, 1, list);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(outcomes(r.events).get("dslow-1.0"), "built", r.stderr);
      // The second master asked for the rest, found the whole wrong, and fetched it all again.
      assert.deepEqual(asked, ["", `bytes=${have}-`, ""]);
      assert.equal(readFileSync(join(work, "distfiles", "dslow-1.0", "big.txt"), "utf8"), BIG);
      assert.equal(existsSync(part), false);
      assert.ok(
        r.events.some(
          (e) =>
            e.type === "warning" &&
            /partial download continued .* was wrong/.test(String(e.message)),
        ),
        "a warning says so",
      );
    },
  );
});
