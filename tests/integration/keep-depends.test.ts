/**
 * keepDepends: a slot keeps the dependencies its last build installed and
 * removes only what the next package must not see. The fixture tree built
 * that way gives the outcomes and the pkg_summary of clean builds, and the
 * logs show prefixes reused and packages removed.
 */
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  build,
  buildOutcomes,
  expectedBuildOutcomes,
  referenceSummary,
  sandbox,
  stableSummary,
} from "../lib/fixture.js";

describe("keepDepends", { timeout: 300_000 }, () => {
  it("builds the fixture tree to the outcomes and pkg_summary of clean builds, reusing prefixes", async () => {
    const box = sandbox("keepdeps", { keepDepends: true });
    const work = join(box.dir, "work");
    const r = await build(box, work, 2);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(buildOutcomes(r.events), expectedBuildOutcomes());
    assert.deepEqual(stableSummary(work), await referenceSummary());

    const logs = join(work, "logs");
    const read = (pkg: string, stage: string): string => {
      const f = join(logs, pkg, `${stage}.log`);
      return existsSync(f) ? readFileSync(f, "utf8") : "";
    };
    const pkgs = readdirSync(logs);
    const inits = pkgs.map((p) => read(p, "Init"));
    const depends = pkgs.map((p) => read(p, "Depends"));
    // Some builds started on a kept prefix, and kept dependencies there...
    assert.ok(
      inits.some((l) => l.includes("keepDepends: the prefix of this slot's last build is kept")),
    );
    assert.ok(
      depends.some((l) => /^keepDepends: kept (?!nothing)/m.test(l)),
      "a dependency was kept",
    );
    // ... and removed what the next package did not need.
    assert.ok(
      depends.some((l) => /^keepDepends: pkg_delete -f \S/m.test(l)),
      "a package was removed",
    );
    // A failed build's slot starts clean: the package after netkit on its host.
    const netkit = r.events.find((e) => e.type === "package-end" && e.pkgname === "netkit-0.3");
    assert.equal(netkit?.result, "failed");
    const after = r.events.find(
      (e) =>
        e.type === "package-start" &&
        e.host === netkit.host &&
        e.slot === 1 &&
        r.events.indexOf(e) > r.events.indexOf(netkit),
    );
    if (after !== undefined)
      assert.doesNotMatch(read(after.pkgname as string, "Init"), /keepDepends/);
  });
});
