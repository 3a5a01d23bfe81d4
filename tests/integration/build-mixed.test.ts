/**
 * A bulk build over a real ssh host (sshd on a loopback address, keys made
 * by the test, host keys checked) and an attach host that dials in, both
 * from a hosts file: the same repository as a local build.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { eventually, herd, MAIN, startHerd } from "./cli-support.js";
import { startSshd } from "./sshd-support.js";
import { buildArgs, expectedFiles, sandbox, tgzFiles, type Event } from "../lib/fixture.js";

describe("a build on an ssh host and an attach host", { timeout: 240_000 }, () => {
  it("builds the fixture tree with packages on both", async () => {
    const box = sandbox("mixed");
    const sshd = await startSshd(join(box.dir, "sshd"), ["127.0.0.2"]);
    let host: ChildProcess | undefined;
    try {
      const hosts = join(box.dir, "hosts");
      writeFileSync(
        hosts,
        `s1 ssh root@127.0.0.2:${sshd.port} root=${join(box.dir, "s1")} identity=${sshd.identity} known_hosts=${sshd.knownHosts} ssh_option=ConnectTimeout=10\n` +
          "nat1 attach\n",
      );
      const work = join(box.dir, "work");
      const master = startHerd(["build", ...buildArgs(box, work, hosts), "--json"]);
      await eventually("the master's socket", () => existsSync(join(work, "control.sock")));
      const printed = await herd([
        "attach",
        "--host-command",
        "--work",
        work,
        "--root",
        join(box.dir, "nat1"),
        "--shell",
        "dash",
        "--herd",
        `${process.execPath} ${MAIN}`,
        "nat1",
      ]);
      assert.equal(printed.code, 0, printed.stderr);
      host = spawn("sh", ["-c", printed.stdout.trim()], { stdio: "ignore", detached: true });

      const run = await master.done;
      assert.equal(run.code, 0, run.stderr);
      const events = run.stdout
        .split("\n")
        .filter((l) => l.startsWith("{"))
        .map((l) => JSON.parse(l) as Event);
      const builders = new Set(
        events.filter((e) => e.type === "package-end" && e.result === "built").map((e) => e.host),
      );
      assert.deepEqual([...builders].sort(), ["nat1", "s1"], "both hosts built packages");
      assert.deepEqual(tgzFiles(join(work, "packages/All")), expectedFiles());
    } finally {
      if (host?.pid !== undefined && host.exitCode === null) {
        try {
          process.kill(-host.pid, "SIGKILL");
        } catch {
          // already gone
        }
      }
      await sshd.stop();
    }
  });
});
