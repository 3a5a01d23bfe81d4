/**
 * A real bulk build of the 2013 pkgsrc tree through herd's whole pipeline on
 * 2 local hosts: the packages that build from the tree alone (no distfile),
 * with the tree's own mk/ infrastructure, the bootstrap's bmake and
 * pkg_install (each host in its own mount namespace, so "the" bootstrap
 * prefix is private to it and reset from the kit at every Init), plus a local
 * category in the test's copy of the tree: a chain of three packages linked
 * through buildlink3, and one that needs pkgtools/mtree, which fails to link
 * on a modern glibc (a real failure). One of the hosts has two slots, each
 * with its own private view of the bootstrap prefix.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { REAL_BUILD_PACKAGES } from "../../src/cli/demo-real.js";
import type { Event } from "../lib/fixture.js";
import { CLI } from "../lib/paths.js";
import {
  bootstrapConfig,
  hostSet,
  LOCAL_CATEGORY,
  pkgsrc2013Missing,
  preparePkgsrc2013,
  runCmd,
  sandboxMissing,
  syncHosts,
  treeWithCategory,
  type Pkgsrc2013,
} from "../lib/pkgsrc2013.js";
import { scratchDir } from "../lib/scratch.js";

/**
 * The demo's real set without libnbcompat: nothing here needs it, and its
 * autoconf configure was a quarter of this test's CPU while proving what
 * mtree's configure (before mtree's real build failure) and the other real
 * pkgtools already prove.
 */
const TEST_PACKAGES = REAL_BUILD_PACKAGES.filter((p) => p !== "pkgtools/libnbcompat");

interface ReportJson {
  readonly failed: { pkgname: string; stage: string; reason: string; breaks: number }[];
  readonly indirect: { pkgname: string; culprit: string; state: string }[];
}

describe(
  "real pkgsrc 2013: a bulk build on 2 local hosts, one with 2 slots",
  { skip: pkgsrc2013Missing() ?? sandboxMissing() },
  () => {
    let p: Pkgsrc2013;
    let tmp: string;
    let work: string;
    let events: Event[] = [];

    let tree: string;
    /** herd build of the real set with these hosts into a work directory. */
    const realBuild = (hosts: readonly string[], into: string): ReturnType<typeof runCmd> =>
      runCmd(
        [
          "node",
          CLI,
          "build",
          "--tree",
          tree,
          ...hosts,
          "--work",
          into,
          "-c",
          join(tmp, "herd.json"),
          "--pkgs",
          join(tmp, "list"),
          "--json",
        ],
        { timeoutMs: 18 * 60_000 },
      );

    before(async () => {
      p = preparePkgsrc2013();
      tree = treeWithCategory(p, LOCAL_CATEGORY);
      const set = hostSet(p, "real-build");
      await syncHosts(
        tree,
        [1, 2].map((i) => join(set, `local${i}`)),
      );
      tmp = scratchDir("herd-real-build-");
      work = join(tmp, "work");
      mkdirSync(work);
      writeFileSync(join(tmp, "herd.json"), JSON.stringify(bootstrapConfig(p)));
      writeFileSync(join(tmp, "list"), TEST_PACKAGES.join("\n") + "\n");
    });
    after(() => {
      rmSync(tmp, { recursive: true, force: true });
    });

    it(
      "builds, installs dependencies and packages with the real tools",
      { timeout: 20 * 60_000 },
      async () => {
        // Two hosts, the first with two slots: packages spread over hosts and
        // slots at once, each slot with its own private view of the prefix.
        const hostsFile = join(tmp, "hosts.txt");
        writeFileSync(
          hostsFile,
          `a local ${join(hostSet(p, "real-build"), "local1")} slots=2\n` +
            `b local ${join(hostSet(p, "real-build"), "local2")}\n`,
        );
        const r = await realBuild(["--hosts", hostsFile], work);
        events = r.stdout
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Event);
        assert.equal(r.code, 0, r.stderr.slice(-3000));
        const ends = events.filter((e) => e.type === "package-end");
        const built = ends.filter((e) => e.result === "built").map((e) => e.pkgname as string);
        assert.deepEqual(built.map((n) => n.replace(/^osabi-Linux-.*/, "osabi-Linux-*")).sort(), [
          "herd-greet-1.1",
          "herd-greeter-2.0",
          "herd-hello-1.0",
          "osabi-Linux-*",
          "pkg_alternatives-1.6",
          "pkg_chk-2.0.6",
        ]);
        const hosts = new Set(ends.map((e) => e.host));
        assert.ok(hosts.size >= 2, `packages spread over hosts: ${[...hosts].join(",")}`);
        const slots = new Set(
          events
            .filter((e) => e.type === "package-start")
            .map((e) => `${e.host as string}.${e.slot as number}`),
        );
        assert.ok(slots.has("a.1") && slots.has("a.2"), `slots used: ${[...slots].join(",")}`);
        // Each slot has its own prefix, filled from the kit; the real prefix is untouched.
        for (const k of [1, 2])
          assert.ok(
            existsSync(
              join(hostSet(p, "real-build"), "local1", "slots", String(k), "pkg", "bin", "bmake"),
            ),
            `slot ${k} has the bootstrap's bmake in its own prefix`,
          );

        // Binary packages made by pkg_create, in the repository, readable by the real pkg_info.
        const all = join(work, "packages/All");
        const files = readdirSync(all).filter((f) => f.endsWith(".tgz"));
        assert.deepEqual(files.sort(), built.map((n) => `${n}.tgz`).sort());
        for (const f of files) {
          const info = spawnSync(p.pkgInfo, ["-X", join(all, f)], { encoding: "utf8" });
          assert.equal(info.status, 0, info.stderr);
          assert.match(
            info.stdout,
            new RegExp(`^PKGNAME=${f.replace(/\.tgz$/, "").replace(/[.+]/g, "\\$&")}$`, "m"),
          );
        }
        // pkg_summary.gz is pkg_info -X's records of them all.
        const summary = spawnSync("sh", ["-c", `gzip -dc "${join(all, "pkg_summary.gz")}"`], {
          encoding: "utf8",
        }).stdout;
        const expected = files
          .sort()
          .map((f) =>
            spawnSync(p.pkgInfo, ["-X", f], { cwd: all, encoding: "utf8" }).stdout.replace(
              /\n+$/,
              "\n\n",
            ),
          )
          .join("");
        assert.equal(summary, expected);
        assert.match(summary, /^DEPENDS=herd-greet>=1\.1$/m);

        // The top of the chain runs: linked with the libraries the hosts installed.
        const x = join(tmp, "x");
        mkdirSync(x);
        spawnSync("tar", ["-xzf", join(all, "herd-greeter-2.0.tgz"), "-C", x, "bin/herd-greeter"]);
        assert.equal(
          spawnSync(join(x, "bin/herd-greeter"), ["world"], { encoding: "utf8" }).stdout,
          "hello, world\n",
        );
      },
    );

    it("installed the dependencies with pkg_add from packages the master shipped", () => {
      const logs = join(work, "logs");
      const depends = readFileSync(join(logs, "herd-greeter-2.0", "Depends.log"), "utf8");
      assert.match(depends, /pkg_add .*herd-hello-1\.0\.tgz .*herd-greet-1\.1\.tgz/);
      // pkgsrc's own dependency check found them installed on the host.
      const seen = ["fetch", "checksum", "extract", "patch", "configure", "build"]
        .map((s) => join(logs, "herd-greeter-2.0", `${s}.log`))
        .filter((f) => existsSync(f))
        .map((f) => readFileSync(f, "utf8"))
        .join("");
      assert.match(seen, /herd-greet>=1\.1: found herd-greet-1\.1/);
      // ... and herd-hello, which herd-greet needs, is what the link found.
      assert.match(seen, /-o herd-greeter +greeter\.c -lherdgreet -lherdhello/);
    });

    it("reports mtree's real failure with its stage and log, and its dependent as indirectly failed", () => {
      const rep = JSON.parse(readFileSync(join(work, "report/report.json"), "utf8")) as ReportJson;
      const mtree = rep.failed.find((f) => f.pkgname === "mtree-20120308");
      assert.ok(mtree !== undefined, `mtree failed: ${JSON.stringify(rep.failed)}`);
      assert.equal(mtree.stage, "build");
      assert.equal(mtree.breaks, 1);
      assert.match(
        mtree.reason,
        /^build failed \(exit 1\): .*undefined reference to `(major|minor|makedev)'/,
      );
      assert.deepEqual(
        rep.indirect.map((i) => [i.pkgname, i.culprit, i.state]),
        [["herd-mtree-user-1.0", "mtree-20120308", "indirect-failed"]],
      );
      const log = readFileSync(join(work, "logs/mtree-20120308/build.log"), "utf8");
      assert.match(log, /undefined reference to `(major|minor)'/);
      const page = readdirSync(join(work, "report")).find((f) => f.includes("mtree-20120308"));
      assert.ok(page !== undefined, "a report page for the failure");
      // The failure event named the stage.
      const end = events.find((e) => e.type === "package-end" && e.pkgname === "mtree-20120308");
      assert.equal(end?.stage, "build");
    });
  },
);
