/**
 * A throttled host that joins a running build: an sshd in a network
 * namespace whose every session runs at 1/20 of one core (a cgroup CPU
 * cage) behind a 128 KB/s link each way, added with `herd hosts add` once
 * the build is under way on one fast local host with one slot. It syncs
 * the tree, then receives work: at least one package is built on it (the
 * tick chain sleeps FIXTURE_SLEEP seconds a package, so the fast host is
 * busy with it long after the slow host is ready, while other packages wait
 * in the ready set). Every package ends as the tree says, and the
 * repository is intact: its SHA512 file matches every package file, and
 * pkg_summary equals a plain build's.
 *
 * Needs root, cgroups, iproute2 and openssh-server; skipped otherwise.
 */
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { cageUnavailable, cpuCage, type CpuCage } from "../../bench/lib/slowhost.js";
import { eventually, herd, startHerd } from "./cli-support.js";
import { netnsUnavailable, startNetnsHost, type NetnsHost } from "./netns-support.js";
import {
  buildArgs,
  buildOutcomes,
  expectedBuildOutcomes,
  referenceSummary,
  sandbox,
  stableSummary,
  tgzFiles,
  type Event,
} from "../lib/fixture.js";

const why = cageUnavailable() ?? netnsUnavailable();

describe("a throttled host joining late", { skip: why ?? false, timeout: 720_000 }, () => {
  it("syncs, then builds packages, and every package arrives intact", async () => {
    const box = sandbox("late-slow", { env: { FIXTURE_SLEEP: "5" } });
    let far: NetnsHost | undefined;
    let cage: CpuCage | undefined;
    let master: ReturnType<typeof startHerd> | undefined;
    try {
      far = await startNetnsHost(join(box.dir, "sshd"));
      far.throttleBoth(128_000);
      cage = cpuCage(`herd-late-${process.pid}`, 0.05, join(box.dir, "cage"));
      // sshd runs in the foreground (-D): every session it forks is caged with it.
      cage.add(Number(readFileSync(join(box.dir, "sshd/sshd.pid"), "utf8").trim()));

      const hosts = join(box.dir, "hosts.txt");
      writeFileSync(hosts, `fast local ${join(box.dir, "fast")}\n`);
      const work = join(box.dir, "work");
      master = startHerd(["build", ...buildArgs(box, work, hosts), "--json"], 600_000);
      const running = master;
      // The slow host joins once the fast one builds.
      await eventually(
        "the first package started on the fast host",
        () =>
          running.stdout().includes('"type":"package-start"') || running.child.exitCode !== null,
        240_000,
      );
      assert.equal(running.child.exitCode, null, `the build ended early: ${running.stderr()}`);
      const added = await herd([
        "hosts",
        "add",
        "--work",
        work,
        "slow",
        "ssh",
        `root@${far.address}`,
        `root=${join(box.dir, "slow")}`,
        `identity=${far.identity}`,
        `known_hosts=${far.knownHosts}`,
      ]);
      assert.equal(added.code, 0, added.stderr);

      const run = await master.done;
      assert.equal(run.code, 0, run.stderr);
      const ev = parse(run.stdout);

      // It joined after the build started, synced, and only then built.
      const firstStart = ev.findIndex((e) => e.type === "package-start");
      const slowSync = ev.findIndex(
        (e) => e.type === "host" && e.host === "slow" && e.state === "syncing",
      );
      const slowFirst = ev.findIndex((e) => e.type === "package-start" && e.host === "slow");
      assert.ok(firstStart >= 0 && slowSync > firstStart, "the slow host joined mid-build");
      assert.ok(slowFirst >= 0, "the slow host received work");
      assert.ok(slowFirst > slowSync, "the slow host synced before its first package");
      const treeId = readFileSync(join(box.tree, ".herd-tree-id"), "utf8");
      assert.equal(
        readFileSync(join(box.dir, "slow/pkgsrc/.herd-tree-id"), "utf8"),
        treeId,
        "the slow host's copy is the master's tree",
      );
      const builtThere = ev.filter(
        (e) => e.type === "package-end" && e.host === "slow" && e.result === "built",
      );
      assert.ok(builtThere.length >= 1, "at least one package was built on the slow host");

      // Every package ends as the tree says, and arrived intact.
      assert.deepEqual(buildOutcomes(ev), expectedBuildOutcomes());
      const all = join(work, "packages/All");
      const sums = new Map(
        readFileSync(join(work, "packages/SHA512"), "utf8")
          .split("\n")
          .map((l) => /^SHA512 \((?:All\/)?(.+)\) = ([0-9a-f]+)$/.exec(l))
          .filter((m) => m !== null)
          .map((m) => [m[1]!, m[2]!]),
      );
      const files = tgzFiles(all);
      assert.deepEqual([...sums.keys()].sort(), files, "SHA512 lists every package file");
      for (const f of files)
        assert.equal(
          createHash("sha512")
            .update(readFileSync(join(all, f)))
            .digest("hex"),
          sums.get(f),
          `${f} matches its SHA512`,
        );
      assert.deepEqual(stableSummary(work), await referenceSummary());
    } finally {
      if (master !== undefined && master.child.exitCode === null) master.child.kill("SIGKILL");
      await far?.stop();
      cage?.stop();
    }
  });
});

function parse(stdout: string): Event[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Event);
}
