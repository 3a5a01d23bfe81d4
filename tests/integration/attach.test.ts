import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { tempDir } from "./agent-support.js";
import { eventually, herd, MAIN, scanTree, startHerd } from "./cli-support.js";

test(
  "a host dials in with the documented command and scans; unknown names are refused",
  { timeout: 180_000 },
  async () => {
    const tmp = tempDir("attach");
    let host: ChildProcess | undefined;
    try {
      const tree = scanTree(tmp.path, 3);
      assert.equal((await herd(["tree", "stamp", "--tree", tree])).code, 0);
      const reference = await herd([
        "scan",
        "--tree",
        tree,
        "--local",
        "1",
        "-w",
        join(tmp.path, "ref"),
      ]);
      const work = join(tmp.path, "w");
      const hosts = join(tmp.path, "hosts");
      writeFileSync(hosts, "nat1 attach slots=2 tags=behind-nat\n");
      const master = startHerd(["scan", "--tree", tree, "--hosts", hosts, "-w", work, "--json"]);
      await eventually("the master's socket", () => existsSync(join(work, "control.sock")));

      const unknown = await herd(["attach", "--work", work, "stranger"]);
      assert.equal(unknown.code, 2);
      assert.match(
        unknown.stderr,
        /the master refused host "stranger": unknown host "stranger": it is not in this master's host list/,
      );

      const listed = await herd(["hosts", "list", "--work", work]);
      assert.equal(listed.code, 0, listed.stderr);
      assert.match(listed.stdout, /^nat1\s+connecting\s+2\s+0\s+1\s+attach nat1\s+behind-nat$/m);

      // What the operator runs on the NAT'd host (here the relay needs no ssh).
      const printed = await herd([
        "attach",
        "--host-command",
        "--work",
        work,
        "--root",
        join(tmp.path, "nat-host"),
        "--shell",
        "dash",
        "--herd",
        `${process.execPath} ${MAIN}`,
        "nat1",
      ]);
      assert.equal(printed.code, 0);
      // A process group of its own, so that the finally clause can stop all of it.
      const started = spawn("sh", ["-c", printed.stdout.trim()], {
        stdio: ["ignore", "ignore", "pipe"],
        detached: true,
      });
      host = started;
      let hostErr = "";
      started.stderr.on("data", (d: Buffer) => (hostErr += d.toString()));
      const hostDone = new Promise<number | null>((res) => started.on("close", res));

      const run = await master.done;
      assert.equal(run.code, 1, run.stderr);
      assert.equal(run.stdout, reference.stdout);
      assert.match(run.stderr, /"host":"nat1","state":"idle"/);
      // The master went away: the host's pipeline ends by itself.
      const code = await Promise.race([
        hostDone,
        new Promise((r) => {
          setTimeout(() => {
            r("timeout");
          }, 30_000);
        }),
      ]);
      assert.notEqual(code, "timeout", hostErr);
    } finally {
      if (host?.pid !== undefined && host.exitCode === null) {
        try {
          process.kill(-host.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      tmp.remove();
    }
  },
);
