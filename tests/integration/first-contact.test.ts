/**
 * What a new operator meets first: `./herd demo` on a machine without bmake
 * stops at once with one line naming the fix (here the test forbids the
 * install the wrapper would otherwise do as root with apt-get), before it
 * installs npm packages or compiles anything; a build whose output reader
 * goes away builds on.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { sandbox } from "../lib/fixture.js";
import { CLI, ROOT } from "../lib/paths.js";
import { scratchDir } from "../lib/scratch.js";

test("./herd demo without bmake stops in one line with the exact fix", () => {
  const empty = scratchDir("herd-nopath-");
  try {
    const r = spawnSync("/bin/sh", [join(ROOT, "herd"), "demo"], {
      env: { PATH: empty, HERD_NO_INSTALL: "1" },
      encoding: "utf8",
      timeout: 30_000,
    });
    assert.equal(r.status, 1);
    assert.equal(r.stdout, "");
    assert.equal(
      r.stderr,
      "herd: error: the demo needs bmake, which is not installed; run ./check (it installs bmake) or: apt-get install bmake\n",
    );
  } finally {
    rmSync(empty, { recursive: true, force: true });
  }
});

test(
  "herd build --json whose reader goes away (| head) builds on to the end",
  { timeout: 240_000 },
  async () => {
    const box = sandbox("epipe");
    const work = join(box.dir, "work");
    // A few packages are enough: the reader leaves after the first line of hundreds.
    const pkgs = join(box.dir, "pkgs");
    writeFileSync(pkgs, "sysutils/tick12\nsysutils/tick13\n");
    const child = spawn(
      "node",
      [
        CLI,
        "build",
        "--tree",
        box.tree,
        "--local",
        "2",
        "--work",
        work,
        "--pkgs",
        pkgs,
        "-c",
        box.config,
        "--json",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    // The reader takes the first line and leaves, as head -1 does.
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((res) => child.on("close", res));
    assert.equal(code, 0, err);
    assert.match(err, /standard output was closed \(EPIPE\): going on without it/);
    assert.ok(existsSync(join(work, "report/report.html")), "the build ended with its report");
    for (const p of ["tick1", "tick12", "tick13"])
      assert.ok(existsSync(join(work, `packages/All/${p}-1.0.tgz`)), `${p} was built`);
  },
);
