/**
 * The tree id without the operator's help: a tree with no id builds (herd
 * stamps one), and a tree changed after a build without `herd tree stamp`
 * gets a new id, so the hosts sync the change instead of building from
 * their stale copies.
 */
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, sandbox } from "../lib/fixture.js";

describe("tree ids kept right by herd", { timeout: 300_000 }, () => {
  it("stamps a tree without an id, and stamps anew a tree changed since", async () => {
    const box = sandbox("tree-id");
    const idFile = join(box.tree, ".herd-tree-id");
    rmSync(idFile);
    const work = join(box.dir, "work");
    const first = await build(box, work, 2);
    assert.equal(first.code, 0, first.stderr);
    const id1 = readFileSync(idFile, "utf8").trim();
    assert.match(id1, /^[0-9a-f-]{36}$/);
    assert.ok(
      first.events.some(
        (e) =>
          e.type === "warning" &&
          e.message === `the tree had no id: stamped ${id1} (.herd-tree-id)`,
      ),
    );

    // Nothing changed: the same id, nothing said.
    const same = await build(box, work, 2);
    assert.equal(same.code, 0, same.stderr);
    assert.equal(readFileSync(idFile, "utf8").trim(), id1);
    assert.ok(
      !same.events.some((e) => e.type === "warning" && /stamped/.test(e.message as string)),
    );

    // An update without `herd tree stamp`: a package's file changes. (Not its
    // distfile, files/tick.sh: that would fail `checksum` against distinfo,
    // as it should.)
    const descr = join(box.tree, "sysutils/tick13/DESCR");
    writeFileSync(descr, `${readFileSync(descr, "utf8")}# changed\n`);
    const changed = await build(box, work, 2);
    assert.equal(changed.code, 0, changed.stderr);
    const id2 = readFileSync(idFile, "utf8").trim();
    assert.notEqual(id2, id1);
    assert.ok(
      changed.events.some(
        (e) =>
          e.type === "warning" &&
          e.message ===
            `the tree changed since its id ${id1} was stamped: stamped ${id2}, hosts sync again`,
      ),
    );
    // The hosts' copies have the change, and the changed package was built again.
    for (const h of ["local1", "local2"])
      assert.match(
        readFileSync(join(work, "hosts", h, "pkgsrc/sysutils/tick13/DESCR"), "utf8"),
        /# changed\n$/,
      );
    assert.ok(
      changed.events.some(
        (e) => e.type === "package-end" && e.pkgname === "tick13-1.0" && e.result === "built",
      ),
      // What happened to it instead, should this fail again on a loaded machine.
      JSON.stringify(changed.events.filter((e) => JSON.stringify(e).includes("tick13"))),
    );
  });
});
