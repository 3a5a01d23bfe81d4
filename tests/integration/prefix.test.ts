/**
 * A host's prefix: where LOCALBASE and PKG_DBDIR point, what Init runs, which
 * prefix settings a config may hold, and the sandbox argv's shape.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { initArgv, localbaseOf, pkgDbDirOf, type PrefixConfig } from "../../src/bulk/prefix.js";
import { checkPrefix, defaultConfig } from "../../src/cli/config.js";
import { sandboxShell } from "../../src/hosts/sandbox.js";

const plain: PrefixConfig = { localbase: "", pkgDbDir: "", bootstrapKit: "" };
const boot: PrefixConfig = { localbase: "/opt/pkg", pkgDbDir: "", bootstrapKit: "/k.tar" };

describe("host prefix", () => {
  it("is the agent's ROOT/pkg by default, the bootstrap's prefix when configured", () => {
    assert.equal(localbaseOf(plain, "/h/a"), "/h/a/pkg");
    assert.equal(pkgDbDirOf(plain, "/h/a"), "/h/a/pkg/.pkgdb");
    assert.equal(localbaseOf(boot, "/h/a"), "/opt/pkg");
    // The bootstrap's mk.conf and pkg tools agree on a PKG_DBDIR: herd passes none.
    assert.equal(pkgDbDirOf(boot, "/h/a"), undefined);
    assert.equal(pkgDbDirOf({ ...boot, pkgDbDir: "/var/db/pkg" }, "/h/a"), "/var/db/pkg");
  });

  it("Init empties the prefix (keeping the directory) and unpacks the kit", () => {
    const tmp = mkdtempSync(join(tmpdir(), "herd-prefix-"));
    try {
      const prefix = join(tmp, "opt/pkg");
      mkdirSync(join(prefix, "lib"), { recursive: true });
      writeFileSync(join(prefix, "lib/stale"), "x");
      writeFileSync(join(prefix, ".hidden"), "x");
      mkdirSync(join(tmp, "root/work/old"), { recursive: true });
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
      );
      const r = spawnSync(argv[0]!, argv.slice(1), { cwd: join(tmp, "root"), encoding: "utf8" });
      assert.equal(r.status, 0, r.stderr);
      assert.deepEqual(readdirSync(prefix).sort(), ["bin"]);
      assert.deepEqual(readdirSync(join(tmp, "root")).sort(), ["cache", "packages", "work"]);
      assert.deepEqual(readdirSync(join(tmp, "root/work")), []);
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

  it("the sandbox wraps the shell once, behind a gate", () => {
    assert.deepEqual(
      sandboxShell({
        kind: "none",
        mounts: [{ source: "/a", target: "/b" }],
        shell: ["sh"],
        root: true,
      }),
      ["sh"],
    );
    const argv = sandboxShell({
      kind: "unshare",
      mounts: [{ source: "/h/a/pkg", target: "/opt/pkg" }],
      shell: ["dash"],
      root: false,
    });
    assert.equal(argv[0], "sh");
    assert.equal(argv.at(-1), "dash");
    assert.ok(argv.includes("--map-root-user"));
    // The gate skips exactly the words that enter the namespace.
    const n = Number(argv[4]);
    assert.equal(argv.length, 5 + n + 1);
    assert.deepEqual(argv.slice(5, 7), ["sh", "-c"]);
  });
});
