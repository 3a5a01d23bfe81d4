import assert from "node:assert/strict";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, builtPackages, FIXTURE_TOOLS, sandbox, tgzFiles } from "../lib/fixture.js";

/**
 * A part of the fixture tree is enough here: the restricted package and a
 * chain of packages with dependencies (wordy needs libfmt, which needs
 * libbase and mkgen).
 */
function somePackages(dir: string): string {
  const file = join(dir, "pkgs");
  writeFileSync(file, "misc/secretsauce\ntextproc/wordy\n");
  return file;
}

describe("publishing a build", () => {
  it("uploads packages without RESTRICTED/NO_BIN_ON_FTP ones, and the report; a failed upload is an error", async () => {
    const box = sandbox("publish");
    const dest = join(box.dir, "pub");
    writeFileSync(
      box.config,
      JSON.stringify({ path: [FIXTURE_TOOLS], publish: { destination: dest, retries: 1 } }),
    );
    const work = join(box.dir, "work");
    const pkgs = somePackages(box.dir);
    const r = await build(box, work, 2, pkgs);
    assert.equal(r.code, 0, r.stderr);
    const local = tgzFiles(join(work, "packages/All"));
    assert.ok(local.includes("wordy-3.0.tgz"), local.join(" "));
    const published = tgzFiles(join(dest, "packages/All"));
    assert.ok(local.includes("secretsauce-1.0.tgz"), "the restricted package is built");
    assert.deepEqual(published.sort(), local.filter((f) => f !== "secretsauce-1.0.tgz").sort());
    assert.ok(existsSync(join(dest, "report/report.html")));
    assert.ok(existsSync(join(dest, "packages/SHA512")));

    writeFileSync(
      box.config,
      JSON.stringify({
        path: [FIXTURE_TOOLS],
        publish: { destination: join(box.dir, "no/such/dir/deeper"), retries: 1 },
      }),
    );
    const bad = await build(box, work, 1, pkgs);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /herd: error: the build finished but uploading to .* failed after 2 attempts: rsync exited/,
    );
    assert.equal(
      bad.events.filter(
        (e) => e.type === "warning" && String(e.message).startsWith("upload attempt"),
      ).length,
      2,
    );
  });
});

describe("shared package directory (NFS)", () => {
  it("builds the same packages without transferring any", async () => {
    const box = sandbox("shared");
    writeFileSync(box.config, JSON.stringify({ path: [FIXTURE_TOOLS], sharedPackages: true }));
    const work = join(box.dir, "work");
    const r = await build(box, work, 2, somePackages(box.dir));
    assert.equal(r.code, 0, r.stderr);
    const files = tgzFiles(join(work, "packages/All"));
    const built = builtPackages(r.events);
    assert.ok(built.includes("wordy-3.0") && built.includes("libfmt-1.4"), built.join(" "));
    assert.deepEqual(files, built.map((n) => `${n}.tgz`).sort());
    for (const h of ["local1", "local2"]) {
      const cache = join(work, "hosts", h, "cache");
      assert.deepEqual(existsSync(cache) ? readdirSync(cache) : [], [], `nothing was sent to ${h}`);
      const own = join(work, "hosts", h, "packages/All");
      assert.deepEqual(
        existsSync(own) ? readdirSync(own) : [],
        [],
        `${h} wrote into the shared repository`,
      );
    }
  });
});
