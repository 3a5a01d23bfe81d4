/**
 * Kill -9 the master in the middle of a build, run the same command again:
 * the build resumes, nothing already built and verified is built again, and
 * the result equals an uninterrupted build.
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CLI } from "../lib/paths.js";
import { expectedOutcomes, herdJson, sandbox, type Event } from "../lib/fixture.js";

/** Starts a build and SIGKILLs it once `afterBuilt` packages are built; returns those packages. */
function killAfter(args: readonly string[], afterBuilt: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", [CLI, ...args, "--json"], { stdio: ["ignore", "pipe", "ignore"] });
    const builtNames: string[] = [];
    let buf = "";
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error("the build never got far enough"));
    }, 120_000);
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        const e = JSON.parse(line) as Event;
        if (e.type === "package-end" && e.result === "built") {
          builtNames.push(e.pkgname as string);
          if (builtNames.length === afterBuilt) child.kill("SIGKILL");
        }
      }
    });
    child.on("close", (_code, signal) => {
      clearTimeout(timer);
      if (signal !== "SIGKILL") reject(new Error(`the build ended by itself (${String(signal)})`));
      else resolve(builtNames);
    });
  });
}

describe("resume after the master is killed", () => {
  it("resumes the same build and rebuilds nothing already built", async () => {
    const box = sandbox("resume");
    const work = join(box.dir, "work");
    const args = ["build", "--tree", box.tree, "--local", "2", "--work", work, "-c", box.config];
    const before = await killAfter(args, 3);
    assert.equal(before.length, 3);
    const r = await herdJson(args);
    assert.equal(r.code, 0, r.stderr);
    const start = r.events.find((e) => e.type === "build-start");
    assert.equal(start?.resumed, true, "the same build is resumed");
    assert.equal(start.build, 1);
    const startedAgain = r.events
      .filter((e) => e.type === "package-start")
      .map((e) => e.pkgname as string);
    for (const p of before)
      assert.ok(
        !startedAgain.includes(p),
        `${p} was built before the kill and must not be built again`,
      );
    const files = readdirSync(join(work, "packages/All"))
      .filter((f) => f.endsWith(".tgz"))
      .sort();
    const expected = [...expectedOutcomes()]
      .filter(([, o]) => o === "built")
      .map(([p]) => `${p}.tgz`)
      .sort();
    assert.deepEqual(files, expected);
    assert.ok(
      !readdirSync(join(work, "packages/All")).some(
        (f) => f.includes(".incoming") || f.endsWith(".part"),
      ),
      "nothing half-received is left",
    );
  });
});
