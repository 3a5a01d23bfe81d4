/**
 * A build host behind a slow link, as slow machines often are: an sshd in a
 * network namespace whose link carries 128 KB/s each way (tc tbf). Every
 * package still arrives intact: the outcomes are the tree's, and the
 * repository holds what a build on a fast local host holds (one such
 * build, made once for both tests). Then the same
 * behind a link that also loses 1 % of its packets each way (nftables
 * random drop) and is 50 ms away each way (a delaying relay in front of
 * sshd); that build checks that the impairment was in place: packets were
 * dropped, and the ssh traffic crossed the relay.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  build,
  sandbox,
  stableSummary,
  type Event,
  type Run,
  type Sandbox,
} from "../lib/fixture.js";
import {
  lossUnavailable,
  netnsUnavailable,
  startNetnsHost,
  type NetnsHost,
} from "./netns-support.js";

function ends(events: readonly Event[]): string[] {
  return events
    .filter((e) => e.type === "package-end" && e.result !== "lost")
    .map((e) => `${e.pkgname as string} ${e.result as string}`)
    .sort();
}

/** What `cat` on the host sends back of `data`, over ssh across the link. */
function echo(far: NetnsHost, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      "ssh",
      [
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=yes",
        "-o",
        `UserKnownHostsFile=${far.knownHosts}`,
        "-i",
        far.identity,
        `root@${far.address}`,
        "cat",
      ],
      { stdio: ["pipe", "pipe", "pipe"] },
    );
    const out: Buffer[] = [];
    let err = "";
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      if (code === 0) resolve(Buffer.concat(out));
      else reject(new Error(`ssh ... cat exited ${String(code)}: ${err}`));
    });
    child.stdin.end(data);
  });
}

const LIST = "sysutils/tick3\ndevel/mkgen\n";

let reference: Promise<{ run: Run; summary: string[] }> | undefined;

/** A build of LIST on a local host in a sandbox of its own, made once for the tests of this file. */
function nearBuild(): Promise<{ run: Run; summary: string[] }> {
  reference ??= (async () => {
    const box = sandbox("slowlink-near");
    const list = join(box.dir, "pkgs.txt");
    writeFileSync(list, LIST);
    const work = join(box.dir, "work-near");
    const run = await build(box, work, 1, list);
    return { run, summary: stableSummary(work) };
  })();
  return reference;
}

/**
 * Builds a chain (dependencies shipped over the link) and a package beside
 * it on `far` alone, and compares that with a build on a local host.
 */
async function deliversIntact(box: Sandbox, far: NetnsHost): Promise<void> {
  const list = join(box.dir, "pkgs.txt");
  writeFileSync(list, LIST);
  const hosts = join(box.dir, "hosts.txt");
  writeFileSync(
    hosts,
    `far ssh root@${far.address} root=${join(box.dir, "far")} identity=${far.identity} known_hosts=${far.knownHosts}\n`,
  );
  const slow = await build(box, join(box.dir, "work-far"), hosts, list);
  assert.equal(slow.code, 0, slow.stderr);
  const near = await nearBuild();
  assert.equal(near.run.code, 0, near.run.stderr);
  assert.deepEqual(ends(slow.events), ends(near.run.events));
  assert.ok(ends(slow.events).includes("tick3-1.0 built"));
  assert.ok(
    slow.events.every((e) => e.type !== "package-end" || e.host === "far"),
    "every package was built behind the link",
  );
  assert.deepEqual(stableSummary(join(box.dir, "work-far")), near.summary);
}

// Each build is bounded by herdJson's own limit (240 s, then SIGKILL).
describe("a slow link", { skip: netnsUnavailable() ?? false, timeout: 400_000 }, () => {
  it("delivers every package intact", async () => {
    const box = sandbox("slowlink");
    const far = await startNetnsHost(join(box.dir, "sshd"));
    try {
      far.throttleBoth(128_000);
      await deliversIntact(box, far);
    } finally {
      await far.stop();
    }
  });
});

describe(
  "a throttled, lossy, distant link",
  { skip: lossUnavailable() ?? false, timeout: 500_000 },
  () => {
    it("still delivers every package intact", async (t) => {
      const box = sandbox("lossy");
      const far = await startNetnsHost(join(box.dir, "sshd"), 0, { delayMs: 50 });
      try {
        far.throttleBoth(128_000);
        far.lose(1);
        // A build of these two packages is some 600 packets on the link, which
        // at 1 % may lose none (0.99^600 = 0.24 %); 512 KB each way first,
        // another 1,200 or so, make a link without loss all but certain to show.
        const data = randomBytes(512 * 1024);
        assert.ok((await echo(far, data)).equals(data), "the bytes came back intact");
        const before = far.dropped();
        await deliversIntact(box, far);
        t.diagnostic(
          `dropped ${String(before)} packets in the echo, ${String(far.dropped() - before)} in the builds; relayed ${String(far.relayed())} bytes`,
        );
        assert.ok(far.dropped() > 0, "the link dropped packets");
        assert.ok(far.relayed() > 0, "the ssh traffic crossed the delaying relay");
      } finally {
        await far.stop();
      }
    });
  },
);
