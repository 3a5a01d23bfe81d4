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
import { killAgent } from "../lib/faults.js";
import { CLI } from "../lib/paths.js";
import { type Event, expectedFiles, herdJson, sandbox, tgzFiles } from "../lib/fixture.js";

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
    const files = tgzFiles(join(work, "packages/All"));
    const expected = expectedFiles();
    assert.deepEqual(files, expected);
    assert.ok(
      !readdirSync(join(work, "packages/All")).some(
        (f) => f.includes(".incoming") || f.endsWith(".part"),
      ),
      "nothing half-received is left",
    );
  });
});

describe("an agent killed mid-build", () => {
  it("requeues its package, which is built elsewhere or after the host comes back", async () => {
    const box = sandbox("agentkill");
    const work = join(box.dir, "work");
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
        "-c",
        box.config,
        "--json",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    const events: Event[] = [];
    let killed: string | undefined;
    let killedPids = 0;
    let buf = "";
    const done = new Promise<number | null>((resolve) => child.on("close", resolve));
    const timer = setTimeout(() => child.kill("SIGKILL"), 180_000);
    child.stdout.on("data", (d: Buffer) => {
      buf += d.toString();
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const e = JSON.parse(buf.slice(0, nl)) as Event;
        buf = buf.slice(nl + 1);
        events.push(e);
        // Kill local1's agent (its whole process group) while it builds its second package.
        if (
          killed === undefined &&
          e.type === "stage" &&
          e.host === "local1" &&
          e.stage === "Vars" &&
          events.filter((x) => x.type === "package-end" && x.host === "local1").length >= 1
        ) {
          killed = e.pkgname as string;
          // Some of its processes may exit between the lookup and the kill: killAgent allows that.
          killedPids = killAgent(work, "local1");
        }
      }
    });
    const code = await done;
    if (process.env.HERD_DEBUG !== undefined)
      for (const e of events) console.error(JSON.stringify(e));
    clearTimeout(timer);
    assert.equal(code, 0);
    assert.ok(killed !== undefined, "an agent was killed mid-package");
    assert.ok(killedPids > 0, "local1's agent processes were found to kill");
    const lost = events.filter((e) => e.type === "package-end" && e.result === "lost");
    assert.ok(
      lost.some((e) => e.pkgname === killed),
      `${killed} was reported lost`,
    );
    assert.ok(
      events.some((e) => e.type === "host" && e.host === "local1" && e.state === "lost"),
      "the host was marked lost",
    );
    const builtNow = events
      .filter((e) => e.type === "package-end" && e.result === "built")
      .map((e) => e.pkgname as string);
    assert.ok(builtNow.includes(killed), `${killed} was built after all`);
    assert.equal(builtNow.filter((p) => p === killed).length, 1, "and only once");
    const files = tgzFiles(join(work, "packages/All"));
    assert.deepEqual(files, expectedFiles());
  });
});
