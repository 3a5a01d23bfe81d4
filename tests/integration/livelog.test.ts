/**
 * Live logs, as an operator follows a slow stage: the build stage of
 * sysutils/tick1 sleeps, and its log on the master grows before the stage
 * ends; `herd logs -f` prints it as it grows and stops by itself when the
 * package ends; `herd logs` afterwards prints the complete logs.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildArgs, sandbox } from "../lib/fixture.js";
import { liveBuild } from "../lib/live.js";
import { CLI } from "../lib/paths.js";

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("live logs", () => {
  it(
    "a running stage's log reaches the master while it runs; herd logs -f follows it",
    {
      timeout: 180_000,
    },
    async () => {
      const box = sandbox("livelog", { env: { FIXTURE_SLEEP: "30" }, liveLog: 0.5 });
      const list = join(box.dir, "pkgs.txt");
      writeFileSync(list, "sysutils/tick1\n");
      const work = join(box.dir, "work");
      const live = liveBuild(buildArgs(box, work, 1, list));
      const built = (e: { type: string; pkgname?: unknown; stage?: unknown }): boolean =>
        e.type === "stage" && e.pkgname === "tick1-1.0" && e.stage === "build";
      await live.until(
        "tick1's configure stage ended",
        (e) => e.type === "stage" && e.pkgname === "tick1-1.0" && e.stage === "configure",
      );
      // Follow it from now on, as an operator would from another terminal.
      const follower = spawn("node", [CLI, "logs", "-f", "tick1-1.0", "--work", work], {
        stdio: ["ignore", "pipe", "pipe"],
      });
      let followed = "";
      follower.stdout.on("data", (d: Buffer) => (followed += d.toString()));
      const followerDone = new Promise<number | null>((res) => follower.on("close", res));
      const timer = setTimeout(() => follower.kill("SIGKILL"), 120_000);

      const log = join(work, "logs", "tick1-1.0", "build.log");
      let seen = "";
      for (let i = 0; i < 900 && !/sleep 30/.test(seen); i++) {
        await sleep(50);
        if (existsSync(log)) seen = readFileSync(log, "utf8");
      }
      assert.match(seen, /sleep 30/, "the build stage's command reached the master's log");
      assert.equal(live.events.some(built), false, "…while the stage still ran");
      // A look while it runs prints the same.
      const now = spawnSync("node", [CLI, "logs", "tick1-1.0", "--work", work], {
        encoding: "utf8",
      });
      assert.equal(now.status, 0, now.stderr);
      assert.match(now.stdout, /==> build\.log <==\n[^]*sleep 30/);

      assert.equal(await live.done, 0);
      assert.equal(await followerDone, 0, "herd logs -f stopped by itself when the package ended");
      clearTimeout(timer);
      // The complete log replaced the streamed one, and -f printed every line of it once.
      const complete = readFileSync(log, "utf8");
      assert.match(complete, /sleep 30/);
      assert.match(complete, /s\/@N@\/1\//, "the command after the sleep");
      const header = followed.indexOf("==> build.log <==\n");
      assert.ok(header >= 0, followed);
      assert.equal(followed.split("==> build.log <==").length, 2, "build.log's header once");
      assert.ok(followed.slice(header).includes(complete.trimEnd()), followed);
      assert.match(followed, /==> configure\.log <==/);

      const after = spawnSync("node", [CLI, "logs", "tick1-1.0", "--work", work], {
        encoding: "utf8",
      });
      assert.equal(after.status, 0, after.stderr);
      assert.ok(after.stdout.includes(complete), after.stdout);
      const none = spawnSync("node", [CLI, "logs", "nosuch-1.0", "--work", work], {
        encoding: "utf8",
      });
      assert.notEqual(none.status, 0);
      assert.match(none.stderr, /no logs of nosuch-1\.0 in /);
    },
  );
});
