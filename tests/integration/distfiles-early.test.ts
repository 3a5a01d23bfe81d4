/**
 * Fetching during the scan (`distfiles: "master"`): a package's distfiles
 * are fetched as soon as its own scan ends, before the whole tree is
 * scanned and planned. The proof: a second package's scan waits (at most
 * 20 s) for the test's HTTP server to have been asked for the first
 * package's distfile, and fails itself (PKG_FAIL_REASON) if it never was.
 */
import assert from "node:assert/strict";
import { existsSync, writeFileSync } from "node:fs";
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
    },
  );
});
