/**
 * Fetching during the scan (`distfiles: "master"`): a package's distfiles
 * are fetched as soon as its own scan ends, before the whole tree is
 * scanned and planned. The proof: a second package's scan waits (at most
 * 20 s) for the test's HTTP server to have been asked for the first
 * package's distfile, and fails itself (PKG_FAIL_REASON) if it never was.
 */
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { addPackage, outcomes } from "../lib/distpkg.js";
import { build, sandbox } from "../lib/fixture.js";
import { scratchDir } from "../lib/scratch.js";

const FIRST = "#!/bin/sh\necho fetched while the tree was scanned\n";
const SECOND = "#!/bin/sh\necho second\n";

describe("distfiles fetched during the scan", () => {
  const marker = join(scratchDir("herd-early-"), "asked");
  let server: Server;
  let base = "";
  const asked: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      asked.push(req.url ?? "");
      if (req.url === "/early/first.sh") {
        writeFileSync(marker, "");
        res.end(FIRST);
      } else if (req.url === "/early/second.sh") res.end(SECOND);
      else {
        res.statusCode = 404;
        res.end();
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((r) => {
      server.close(() => {
        r();
      });
    });
  });

  it(
    "starts a package's download before the scan of the tree has ended",
    { timeout: 180_000 },
    async () => {
      const box = sandbox("distfiles-early");
      addPackage(box.tree, {
        name: "dfirst",
        file: "first.sh",
        body: FIRST,
        sites: [`${base}/early/`],
      });
      addPackage(box.tree, {
        name: "dwait",
        file: "second.sh",
        body: SECOND,
        sites: [`${base}/early/`],
        extra: `_HERD_ASKED!=\tfor i in $$(seq 100); do [ -f ${marker} ] && break; sleep 0.2; done; [ -f ${marker} ] && echo yes || echo no
.if \${_HERD_ASKED} != "yes"
PKG_FAIL_REASON+=\t"the first distfile was not asked for while the tree was scanned"
.endif
`,
      });
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "distf/dfirst\ndistf/dwait\n");
      const work = join(box.dir, "work");
      // Two hosts: the two directories are scanned side by side, in either order.
      const r = await build(box, work, 2, list);
      assert.equal(r.code, 0, r.stderr);
      const got = outcomes(r.events);
      assert.equal(got.get("dwait-1.0"), "built", JSON.stringify([...got]));
      assert.equal(got.get("dfirst-1.0"), "built");
      assert.ok(existsSync(marker));
      // Fetched once each, however many times they were wanted (scan, plan, fetch stage).
      assert.deepEqual(asked.sort(), ["/early/first.sh", "/early/second.sh"]);

      // Offline: a new build whose cache (distdir) already holds the files asks no site.
      writeFileSync(
        box.config,
        JSON.stringify({
          ...JSON.parse(readFileSync(box.config, "utf8")),
          distdir: join(work, "distfiles"),
        }),
      );
      const again = await build(box, join(box.dir, "work2"), 1, list);
      assert.equal(again.code, 0, again.stderr);
      assert.equal(outcomes(again.events).get("dfirst-1.0"), "built", again.stderr);
      assert.equal(asked.length, 2, asked.join(" "));
    },
  );

  it(
    "leaves fetching to the hosts with distfiles: host, and to an NFS DISTDIR with shared",
    { timeout: 180_000 },
    async () => {
      // host: the (local) host fetches itself; the master neither fetches nor keeps a cache.
      const box = sandbox("distfiles-host", { distfiles: "host" });
      addPackage(box.tree, {
        name: "dself",
        file: "self.sh",
        body: FIRST,
        sites: [`${base}/self/`],
      });
      server.removeAllListeners("request");
      const selfAsked: string[] = [];
      server.on("request", (req, res) => {
        selfAsked.push(req.url ?? "");
        res.end(FIRST);
      });
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "distf/dself\n");
      const work = join(box.dir, "work");
      const r = await build(box, work, 1, list);
      assert.equal(r.code, 0, r.stderr);
      assert.equal(outcomes(r.events).get("dself-1.0"), "built", r.stderr);
      assert.deepEqual(selfAsked, ["/self/self.sh"]);
      assert.equal(existsSync(join(work, "distfiles")), false, "no cache on the master");
      assert.ok(existsSync(join(work, "hosts", "local1", "distfiles", "dself-1.0", "self.sh")));
      assert.ok(!r.events.some((e) => e.type === "fetch-progress"));

      // shared: DISTDIR is the hosts' own (here an env DISTDIR standing for mk.conf's NFS mount).
      const nfs = scratchDir("herd-nfs-distdir-");
      mkdirSync(join(nfs, "dself-1.0"));
      writeFileSync(join(nfs, "dself-1.0", "self.sh"), FIRST);
      const box2 = sandbox("distfiles-shared", { distfiles: "shared", env: { DISTDIR: nfs } });
      addPackage(box2.tree, {
        name: "dself",
        file: "self.sh",
        body: FIRST,
        sites: [`${base}/self/`],
      });
      const work2 = join(box2.dir, "work");
      const r2 = await build(box2, work2, 1, list);
      assert.equal(r2.code, 0, r2.stderr);
      assert.equal(outcomes(r2.events).get("dself-1.0"), "built", r2.stderr);
      assert.deepEqual(selfAsked, ["/self/self.sh"], "nothing fetched: the shared DISTDIR had it");
      assert.equal(existsSync(join(work2, "distfiles")), false);
      assert.equal(existsSync(join(work2, "hosts", "local1", "distfiles", "dself-1.0")), false);
    },
  );
});
