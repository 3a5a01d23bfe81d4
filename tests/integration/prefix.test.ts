/**
 * A slot's prefix: where LOCALBASE and PKG_DBDIR point, what Init runs, which
 * prefix settings a config may hold, and how a slot's sandbox is chosen.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { initArgv, localbaseOf, pkgDbDirOf, type PrefixConfig } from "../../src/bulk/prefix.js";
import { checkPrefix, defaultConfig } from "../../src/cli/config.js";
import { inSlot, slotSandbox } from "../../src/hosts/sandbox.js";
import { scratchDir } from "../lib/scratch.js";

const plain: PrefixConfig = { localbase: "", pkgDbDir: "", bootstrapKit: "" };
const boot: PrefixConfig = { localbase: "/opt/pkg", pkgDbDir: "", bootstrapKit: "/k.tar" };

describe("host prefix", () => {
  it("is the slot's ROOT/slots/K/pkg by default, the bootstrap's prefix when configured", () => {
    assert.equal(localbaseOf(plain, "/h/a", 1), "/h/a/slots/1/pkg");
    assert.equal(localbaseOf(plain, "/h/a", 3), "/h/a/slots/3/pkg");
    assert.equal(pkgDbDirOf(plain, "/h/a", 2), "/h/a/slots/2/pkg/.pkgdb");
    assert.equal(localbaseOf(boot, "/h/a", 2), "/opt/pkg");
    // The bootstrap's mk.conf and pkg tools agree on a PKG_DBDIR: herd passes none.
    assert.equal(pkgDbDirOf(boot, "/h/a", 1), undefined);
    assert.equal(pkgDbDirOf({ ...boot, pkgDbDir: "/var/db/pkg" }, "/h/a", 1), "/var/db/pkg");
  });

  it("Init empties the prefix (keeping the directory) and unpacks the kit", () => {
    const tmp = scratchDir("herd-prefix-");
    try {
      const prefix = join(tmp, "opt/pkg");
      mkdirSync(join(prefix, "lib"), { recursive: true });
      writeFileSync(join(prefix, "lib/stale"), "x");
      writeFileSync(join(prefix, ".hidden"), "x");
      mkdirSync(join(tmp, "root/slots/2/work/old"), { recursive: true });
      mkdirSync(join(tmp, "kit/bin"), { recursive: true });
      writeFileSync(join(tmp, "kit/bin/bmake"), "#!/bin/sh\n");
      mkdirSync(join(tmp, "root/cache"), { recursive: true });
      spawnSync("tar", ["-cf", join(tmp, "root/cache/kit.tar"), "-C", join(tmp, "kit"), "."]);
      const argv = initArgv(
        { localbase: prefix, pkgDbDir: "", bootstrapKit: "x" },
        {
          file: "x",
          sha256: "0",
          hostFile: "cache/kit.tar",
        },
        2,
      );
      const r = spawnSync(argv[0]!, argv.slice(1), { cwd: join(tmp, "root"), encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readdirSync(prefix).sort(), ["bin"]);
      assert.deepEqual(readdirSync(join(tmp, "root")).sort(), ["cache", "slots"]);
      assert.deepEqual(readdirSync(join(tmp, "root/slots/2")).sort(), ["packages", "work"]);
      assert.deepEqual(readdirSync(join(tmp, "root/slots/2/work")), []);
      assert.deepEqual(readdirSync(join(tmp, "root/cache")), ["kit.tar"]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it("config: localbase is absolute and deep; kit and sandbox need it", () => {
    const c = defaultConfig();
    assert.equal(checkPrefix(c), undefined);
    assert.equal(checkPrefix({ ...c, localbase: "/opt/pkg", sandbox: "unshare" }), undefined);
    assert.match(checkPrefix({ ...c, localbase: "/" }) ?? "", /at least two levels/);
    assert.match(checkPrefix({ ...c, localbase: "/usr" }) ?? "", /at least two levels/);
    assert.match(checkPrefix({ ...c, localbase: "opt/pkg" }) ?? "", /absolute/);
    assert.match(checkPrefix({ ...c, localbase: "/opt/../pkg" }) ?? "", /normalised/);
    assert.match(checkPrefix({ ...c, bootstrapKit: "/k.tar" }) ?? "", /needs localbase/);
    assert.match(checkPrefix({ ...c, sandbox: "bwrap" }) ?? "", /needs localbase/);
    assert.match(
      checkPrefix({ ...c, localbase: "/opt/pkg", sandbox: "unshare", pkgDbDir: "/var/db/pkg" }) ??
        "",
      /under localbase/,
    );
  });

  it("a slot's sandbox: the host's own sandbox= first, never one prefix for several slots", () => {
    const base = {
      name: "big",
      slots: 4,
      hook: null,
      kind: "unshare" as const,
      localbase: "/opt/pkg",
    };
    assert.deepEqual(slotSandbox(base), {
      ok: true,
      value: { kind: "unshare", target: "/opt/pkg" },
    });
    assert.deepEqual(slotSandbox({ ...base, hook: ["bwrap"] }), {
      ok: true,
      value: { kind: "bwrap", target: "/opt/pkg" },
    });
    // No localbase: each slot's prefix is its own directory already.
    assert.deepEqual(slotSandbox({ ...base, localbase: "" }), {
      ok: true,
      value: { kind: "none" },
    });
    const shared = slotSandbox({ ...base, kind: "none" });
    assert.ok(!shared.ok);
    assert.match(
      shared.error,
      /host big has slots=4, but localbase \/opt\/pkg would be one prefix/,
    );
    assert.deepEqual(slotSandbox({ ...base, kind: "none", slots: 1 }), {
      ok: true,
      value: { kind: "none" },
    });
    const hook = slotSandbox({ ...base, hook: ["chroot", "/sandbox/slot{slot}"] });
    assert.deepEqual(hook, {
      ok: true,
      value: { kind: "hook", template: ["chroot", "/sandbox/slot{slot}"] },
    });
    const noSlot = slotSandbox({ ...base, hook: ["chroot", "/sandbox"] });
    assert.ok(!noSlot.ok);
    assert.match(noSlot.error, /has no \{slot\}/);
  });

  it("a hook enters slot K's sandbox, then goes back to the task's directory", () => {
    const spec = inSlot(
      { kind: "hook", template: ["chroot", "/sandbox/slot{slot}", "{root}/x"] },
      3,
      "/h/a",
      { argv: ["bmake", "package"], cwd: "pkgsrc/devel/foo" },
    );
    assert.deepEqual(spec.argv.slice(0, 3), ["chroot", "/sandbox/slot3", "/h/a/x"]);
    assert.deepEqual(spec.argv.slice(-4), [
      "herd-slot",
      "/h/a/pkgsrc/devel/foo",
      "bmake",
      "package",
    ]);
    assert.equal(spec.cwd, "pkgsrc/devel/foo");
    const none = { argv: ["true"] };
    assert.equal(inSlot({ kind: "none" }, 2, "/h/a", none), none);
  });
});
