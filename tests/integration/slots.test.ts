/**
 * Several builds at once on one host, as an operator meets them: a hosts
 * file line `big local slots=4` builds the fixture tree to the same outcomes
 * and the same pkg_summary as three single-slot hosts; `herd hosts list`
 * shows a busy host and what each slot builds; `herd hosts drain` lets every
 * running package of a busy multi-slot host finish there before it leaves;
 * `herd hosts remove` gives its packages to another host.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CLI } from "../lib/paths.js";
import { liveBuild } from "../lib/live.js";
import { startSshd } from "./sshd-support.js";
import {
  build,
  buildArgs,
  buildOutcomes,
  expectedBuildOutcomes,
  referenceSummary,
  sandbox,
  stableSummary,
} from "../lib/fixture.js";

/** `herd hosts ARGS --work WORK --json`, parsed. */
function hostsCmd(work: string, ...args: string[]): { ok: boolean; [k: string]: unknown } {
  const r = spawnSync("node", [CLI, "hosts", ...args, "--work", work, "--json"], {
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { ok: boolean };
}

/** The fan of the fixture tree: tick1 and the six packages that need only it. */
const FAN = ["tick1", "tick8", "tick9", "tick10", "tick11", "tick12", "tick13"];

/** What the fan builds to: every package built, and libbase, which tick1 needs. */
function fanOutcomes(): Map<string, string> {
  return new Map([...FAN.map((p) => [`${p}-1.0`, "built"] as const), ["libbase-1.0", "built"]]);
}

/** A build of the fan's slow packages (3 s each, so hosts are caught busy) on two local hosts a and b with 2 slots each. */
function twoBusyHosts(name: string): { work: string; live: ReturnType<typeof liveBuild> } {
  const box = sandbox(name, { env: { FIXTURE_SLEEP: "3" } });
  const hosts = join(box.dir, "hosts.txt");
  writeFileSync(hosts, "a local slots=2\nb local slots=2\n");
  const pkgs = join(box.dir, "fan.txt");
  writeFileSync(pkgs, FAN.map((p) => `sysutils/${p}\n`).join(""));
  const work = join(box.dir, "work");
  const args = buildArgs(box, work, hosts, pkgs);
  return { work, live: liveBuild(args) };
}

describe("slots", () => {
  it(
    "one local host with slots=4 builds the fixture tree as 3 single-slot hosts do",
    {
      timeout: 300_000,
    },
    async () => {
      const box = sandbox("slots4");
      const hosts = join(box.dir, "hosts.txt");
      writeFileSync(hosts, "big local slots=4\n");
      const work = join(box.dir, "work-big");
      const r = await build(box, work, hosts);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(buildOutcomes(r.events), expectedBuildOutcomes());
      // The slots really were used at once.
      const slots = new Set(
        r.events.filter((e) => e.type === "package-start").map((e) => e.slot as number),
      );
      assert.ok(slots.size >= 2, `slots used: ${[...slots].join(",")}`);
      assert.ok([...slots].every((s) => s >= 1 && s <= 4));
      // The last progress event counts the last package too.
      const last = r.events.filter((e) => e.type === "progress").at(-1);
      assert.equal(last?.done, last?.total);
      // The report's timeline has a row per busy slot of the host, not one row of overlapping bars.
      const svg = readFileSync(join(work, "report/timeline.svg"), "utf8");
      assert.match(svg, />big\/1</);
      assert.match(svg, />big\/2</);
      assert.doesNotMatch(svg, />big\/5</);
      assert.match(svg, /<title>tick1-1\.0 on big: /);
      // The same packages as 3 single-slot hosts build.
      assert.deepEqual(stableSummary(work), await referenceSummary());
    },
  );

  it(
    "an ssh host with slots=3 (a real sshd on loopback) builds the fixture tree the same",
    {
      timeout: 300_000,
    },
    async () => {
      const box = sandbox("slots-ssh");
      const sshd = await startSshd(join(box.dir, "sshd"), ["127.0.0.3"]);
      try {
        const hosts = join(box.dir, "hosts.txt");
        writeFileSync(
          hosts,
          `s3 ssh root@127.0.0.3:${sshd.port} slots=3 root=${join(box.dir, "s3")} identity=${sshd.identity} known_hosts=${sshd.knownHosts}\n`,
        );
        const work = join(box.dir, "work");
        const r = await build(box, work, hosts);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(buildOutcomes(r.events), expectedBuildOutcomes());
        const slots = new Set(
          r.events.filter((e) => e.type === "package-start").map((e) => e.slot as number),
        );
        assert.ok(slots.size >= 2, `slots used: ${[...slots].join(",")}`);
        assert.deepEqual(stableSummary(work), await referenceSummary());
      } finally {
        await sshd.stop();
      }
    },
  );

  it(
    "drain lets a busy multi-slot host finish every running package, then it leaves",
    {
      timeout: 300_000,
    },
    async () => {
      const { work, live } = twoBusyHosts("drain");
      // Wait until a runs two packages at once.
      const running = (host: string): Set<string> => {
        const on = new Set<string>();
        for (const e of live.events) {
          if (e.type === "package-start" && e.host === host) on.add(e.pkgname as string);
          if (e.type === "package-end" || e.type === "indirect-failed")
            on.delete(e.pkgname as string);
        }
        return on;
      };
      await live.until("host a busy in both slots", () => running("a").size === 2);
      const list = hostsCmd(work, "list") as unknown as {
        hosts: {
          name: string;
          state: string;
          free: number;
          tasks: { slot: number; label: string }[];
        }[];
      };
      const a = list.hosts.find((h) => h.name === "a")!;
      assert.equal(a.state, "busy");
      assert.equal(a.free, 0);
      assert.deepEqual(
        a.tasks.map((t) => t.slot),
        [1, 2],
      );
      const onA = running("a");
      assert.deepEqual(new Set(a.tasks.map((t) => t.label)), onA);
      const drained = hostsCmd(work, "drain", "a");
      assert.equal(drained.ok, true);
      const drainAt = live.events.length;
      assert.equal(await live.done, 0);
      const after = live.events.slice(drainAt);
      // Both packages a was building end built on a; a starts nothing new; then a is gone.
      for (const p of onA) {
        const ends = live.events.filter((e) => e.type === "package-end" && e.pkgname === p);
        assert.deepEqual(
          ends.map((e) => [e.result, e.host]),
          [["built", "a"]],
          `${p} was finished where it ran`,
        );
      }
      assert.ok(!after.some((e) => e.type === "package-start" && e.host === "a"));
      const gone = after.find((e) => e.type === "host" && e.host === "a" && e.state === "gone");
      assert.ok(gone !== undefined, "a left");
      assert.equal(gone.detail, "drained");
      const goneAt = after.indexOf(gone);
      assert.ok(
        after.slice(goneAt).every((e) => !(e.type === "package-end" && e.host === "a")),
        "a left after its last package",
      );
      // Nothing was built twice, and the outcomes are the fixture's.
      const built = live.events.filter((e) => e.type === "package-end" && e.result === "built");
      assert.equal(new Set(built.map((e) => e.pkgname)).size, built.length);
      assert.deepEqual(buildOutcomes(live.events), fanOutcomes());
    },
  );

  it(
    "remove stops a busy multi-slot host at once; its packages are built elsewhere",
    {
      timeout: 300_000,
    },
    async () => {
      const { work, live } = twoBusyHosts("remove");
      const started = await live.until(
        "a package started on b",
        (e) => e.type === "package-start" && e.host === "b",
      );
      const removed = hostsCmd(work, "remove", "b");
      assert.equal(removed.ok, true);
      assert.equal(await live.done, 0);
      const p = started.pkgname as string;
      const ends = live.events.filter((e) => e.type === "package-end" && e.pkgname === p);
      assert.deepEqual(
        ends.map((e) => [e.result, e.host]),
        [
          ["lost", "b"],
          ["built", "a"],
        ],
      );
      assert.ok(live.events.some((e) => e.type === "host" && e.host === "b" && e.state === "gone"));
      assert.deepEqual(buildOutcomes(live.events), fanOutcomes());
    },
  );
});
