/**
 * A real distfile through the real 2013 pkgsrc infrastructure: local/herd-distfile
 * (a C program whose source is a .tar.gz with a 2013-style distinfo: SHA1,
 * RMD160, Size) is built on a local host whose agent runs in a network
 * namespace of its own (`shell=unshare,--net,sh`: no network at all). The
 * test serves the tarball on 127.0.0.1; only the master can reach it. The
 * master fetches and verifies it, ships it into the host's DISTDIR, and
 * pkgsrc's own fetch, checksum and extract targets take it from there.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { Event } from "../lib/fixture.js";
import { CLI, ROOT } from "../lib/paths.js";
import {
  bootstrapConfig,
  hostSet,
  LOCAL_CATEGORY,
  pkgsrc2013Missing,
  preparePkgsrc2013,
  runCmd,
  sandboxMissing,
  treeWithCategory,
  type Pkgsrc2013,
} from "../lib/pkgsrc2013.js";
import { scratchDir } from "../lib/scratch.js";

const TARBALL = join(ROOT, "tests/fixtures/pkgsrc2013/distfiles/herd-distfile-1.0.tar.gz");

function netnsMissing(): string | undefined {
  return spawnSync("unshare", ["--net", "true"]).status === 0
    ? undefined
    : "cannot make a network namespace (unshare --net)";
}

describe(
  "real pkgsrc 2013: a distfile fetched by the master for a host without network",
  { skip: pkgsrc2013Missing() ?? sandboxMissing() ?? netnsMissing() },
  () => {
    let p: Pkgsrc2013;
    let server: Server;
    let site = "";
    const asked: string[] = [];
    let tmp: string;

    before(async () => {
      p = preparePkgsrc2013();
      server = createServer((req, res) => {
        asked.push(req.url ?? "");
        if (req.url === "/dist/herd-distfile-1.0.tar.gz") res.end(readFileSync(TARBALL));
        else {
          res.statusCode = 404;
          res.end();
        }
      });
      await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
      site = `http://127.0.0.1:${(server.address() as AddressInfo).port}/dist/`;
      tmp = scratchDir("herd-real-distfiles-");
    });
    after(async () => {
      rmSync(tmp, { recursive: true, force: true });
      await new Promise<void>((r) => {
        server.close(() => {
          r();
        });
      });
    });

    it(
      "builds through fetch, checksum and extract on the host",
      { timeout: 15 * 60_000 },
      async () => {
        const tree = treeWithCategory(p, LOCAL_CATEGORY);
        const work = join(tmp, "work");
        mkdirSync(work);
        // The host's tree copy outlives the test, as a build host's does.
        const root = join(hostSet(p, "real-distfiles"), "far1");
        const hosts = join(tmp, "hosts");
        writeFileSync(hosts, `far1 local ${root} shell=unshare,--net,sh\n`);
        // The host has no network: pkgsrc's "manual" fetch (the file must be there) needs no
        // fetch program, so the scan, which gets the config's env as the build does, lists
        // no net/tnftp to build first.
        writeFileSync(
          join(tmp, "herd.json"),
          JSON.stringify(bootstrapConfig(p, { env: { FETCH_USING: "manual" } })),
        );
        writeFileSync(join(tmp, "list"), "local/herd-distfile\n");
        const r = await runCmd(
          [
            "node",
            CLI,
            "build",
            "--tree",
            tree,
            "--hosts",
            hosts,
            "--work",
            work,
            "-c",
            join(tmp, "herd.json"),
            "--pkgs",
            join(tmp, "list"),
            "--json",
          ],
          { timeoutMs: 12 * 60_000, env: { ...process.env, HERD_TEST_SITE: site } },
        );
        const events = r.stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Event);
        assert.equal(r.code, 0, r.stderr.slice(-3000));
        const end = events.find(
          (e) => e.type === "package-end" && e.pkgname === "herd-distfile-1.0",
        );
        assert.equal(end?.result, "built", JSON.stringify(end) + r.stderr.slice(-2000));
        const built = events.flatMap((e) =>
          e.type === "package-start" ? [e.pkgname as string] : [],
        );
        assert.deepEqual(built.sort(), ["digest-20121220", "herd-distfile-1.0"]);

        // The master fetched it once and kept the verified file; the host got it from the master.
        assert.deepEqual(asked, ["/dist/herd-distfile-1.0.tar.gz"]);
        assert.deepEqual(
          readFileSync(join(work, "distfiles/herd-distfile-1.0.tar.gz")),
          readFileSync(TARBALL),
        );
        assert.deepEqual(
          readFileSync(join(root, "distfiles/herd-distfile-1.0.tar.gz")),
          readFileSync(TARBALL),
        );

        // pkgsrc's own targets ran on the host: its checksum check, its extract.
        const logs = join(work, "logs/herd-distfile-1.0");
        const checksum = readFileSync(join(logs, "checksum.log"), "utf8");
        assert.match(checksum, /Checksum (SHA1|RMD160) OK for herd-distfile-1\.0\.tar\.gz/);
        assert.match(readFileSync(join(logs, "extract.log"), "utf8"), /Extracting/);

        // The package holds the program built from the distfile's source.
        const pkg = join(work, "packages/All/herd-distfile-1.0.tgz");
        assert.ok(existsSync(pkg), readdirSync(join(work, "packages/All")).join(" "));
        const list = spawnSync(p.pkgInfo, ["-L", pkg], { encoding: "utf8" });
        assert.match(list.stdout, /bin\/herd-distfile/);
        const ran = spawnSync(
          "sh",
          [
            "-c",
            `tar xzOf "${pkg}" bin/herd-distfile > "${tmp}/prog" && chmod +x "${tmp}/prog" && "${tmp}/prog"`,
          ],
          {
            encoding: "utf8",
          },
        );
        assert.equal(ran.stdout, "hello from a distfile herd fetched\n", ran.stderr);
      },
    );
  },
);
