/**
 * A build host behind a slow link, as slow machines often are: an sshd in a
 * network namespace whose link carries 128 KB/s each way (tc tbf; delay and
 * loss would need netem, which this machine's kernel lacks). Every package
 * still arrives intact: the outcomes are the tree's, and the repository
 * holds what a build on a fast local host holds.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, sandbox, stableSummary, type Event } from "../lib/fixture.js";
import { netnsUnavailable, startNetnsHost } from "./netns-support.js";

const why = netnsUnavailable();

function ends(events: readonly Event[]): string[] {
  return events
    .filter((e) => e.type === "package-end" && e.result !== "lost")
    .map((e) => `${e.pkgname as string} ${e.result as string}`)
    .sort();
}

describe("a slow link", { skip: why ?? false, timeout: 400_000 }, () => {
  it("delivers every package intact", async () => {
    const box = sandbox("lossy");
    const list = join(box.dir, "pkgs.txt");
    // A chain (dependencies shipped over the link) and a package beside it.
    writeFileSync(list, "sysutils/tick3\ndevel/mkgen\n");
    const far = await startNetnsHost(join(box.dir, "sshd"));
    try {
      far.throttleBoth(128_000);
      const hosts = join(box.dir, "hosts.txt");
      writeFileSync(
        hosts,
        `far ssh root@${far.address} root=${join(box.dir, "far")} identity=${far.identity} known_hosts=${far.knownHosts}\n`,
      );
      const slow = await build(box, join(box.dir, "work-far"), hosts, list);
      assert.equal(slow.code, 0, slow.stderr);
      const near = await build(box, join(box.dir, "work-near"), 1, list);
      assert.equal(near.code, 0, near.stderr);
      assert.deepEqual(ends(slow.events), ends(near.events));
      assert.ok(ends(slow.events).includes("tick3-1.0 built"));
      assert.ok(
        slow.events.every((e) => e.type !== "package-end" || e.host === "far"),
        "every package was built behind the link",
      );
      assert.deepEqual(
        stableSummary(join(box.dir, "work-far")),
        stableSummary(join(box.dir, "work-near")),
      );
    } finally {
      await far.stop();
    }
  });
});
