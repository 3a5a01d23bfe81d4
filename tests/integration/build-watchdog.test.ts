import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, FIXTURE_TOOLS, sandbox } from "../lib/fixture.js";
import { scratchDir } from "../lib/scratch.js";

describe("the stage watchdog", () => {
  it("kills a stage that prints nothing for too long and fails the package with that reason", async () => {
    const dir = scratchDir("herd-watchdog-cc-");
    const cc = join(dir, "cc");
    // netkit's compile hangs silently; every other compile works.
    writeFileSync(
      cc,
      '#!/bin/sh\ncase $(pwd) in *netkit*) exec sleep 300 ;; esac\nexec cc "$@"\n',
      { mode: 0o755 },
    );
    const box = sandbox("watchdog");
    writeFileSync(
      box.config,
      JSON.stringify({ path: [FIXTURE_TOOLS], env: { CC: cc }, watchdog: 20 }),
    );
    const work = join(box.dir, "work");
    // netkit, its dependent, and packages that build beside it.
    const list = join(box.dir, "pkgs.txt");
    writeFileSync(list, "net/netkit\nnet/netmon\nsysutils/tick1\nsysutils/tick2\n");
    const r = await build(box, work, 2, list);
    assert.equal(r.code, 0, r.stderr);
    const end = r.events.find((e) => e.type === "package-end" && e.pkgname === "netkit-0.3");
    assert.equal(end?.result, "failed");
    assert.equal(end.stage, "build");
    assert.match(String(end.reason), /no output for 20 s \(watchdog\)/);
    assert.match(
      readFileSync(join(work, "logs/netkit-0.3/build.log"), "utf8"),
      /herd: killed: no output for 20 s \(watchdog\)/,
    );
    // Its dependent failed with it; the rest of the build went on.
    assert.ok(
      r.events.some((e) => e.type === "indirect-failed" && e.pkgname === "netmon-1.1"),
      "netmon indirectly failed",
    );
    const ends = r.events.filter((e) => e.type === "package-end" && e.pkgname !== "netkit-0.3");
    assert.deepEqual(
      ends.map((e) => e.result),
      ends.map(() => "built"),
    );
    assert.ok(
      ["libbase-1.0", "libstr-2.1", "tick1-1.0", "tick2-1.0"].every((p) =>
        ends.some((e) => e.pkgname === p),
      ),
      ends.map((e) => e.pkgname).join(" "),
    );
  });
});
