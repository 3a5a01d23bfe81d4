import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { runJobs } from "../../src/bulk/dispatch.js";
import { LocalTransport } from "../../src/hosts/local.js";
import { HostPool } from "../../src/hosts/pool.js";
import type { HostStateKind } from "../../src/hosts/state.js";
import { tempDir, waitState } from "./agent-support.js";

function until(pool: HostPool, name: string, kind: HostStateKind): Promise<void> {
  return waitState(pool, name, kind, { tolerateLost: true });
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

test(
  "a killed agent is lost by heartbeat, its task requeued and run elsewhere",
  { timeout: 60_000 },
  async () => {
    const tmp = tempDir("pool");
    const pool = new HostPool({
      heartbeatIntervalMs: 100,
      heartbeatTimeoutMs: 1_500,
      retryDelayMs: 100,
    });
    try {
      const shells = { a: ["dash"], b: ["busybox", "sh"] };
      for (const [name, shell] of Object.entries(shells)) {
        const transport = new LocalTransport({ root: join(tmp.path, name), shell });
        assert.ok(
          pool.add({
            name: hostName(name),
            transport,
            slots: 2,
            speed: name === "a" ? 2 : 1,
            tags: [],
          }).ok,
        );
      }
      await until(pool, "a", "idle");
      await until(pool, "b", "idle");
      const lostReasons: string[] = [];
      pool.subscribe((e) => {
        if (e.type === "state" && e.to.kind === "lost") lostReasons.push(e.to.reason);
      });

      // Jobs: "hang" sleeps on host a (the fastest, so it gets it first) until a dies.
      const jobs = ["hang", ...Array.from({ length: 6 }, (_, i) => `j${i}`)];
      const where = new Map<string, string[]>();
      let killedPid = 0;
      const done = runJobs(pool, jobs, async (job, lease) => {
        where.set(job, [...(where.get(job) ?? []), lease.host]);
        const script =
          job === "hang" && lease.host === "a" ? "touch ../hang-started; sleep 60" : `echo ${job}`;
        const r = await lease.run({ argv: ["sh", "-c", script] });
        if (!r.ok) return { kind: "lost", reason: r.error.message };
        assert.equal(r.value.output.toString(), `${job}\n`);
        return { kind: "ok", value: job };
      });
      while (!existsSync(join(tmp.path, "hang-started")))
        await new Promise((res) => setTimeout(res, 20));
      const pid = pool.get(hostName("a"))!.info!.pid;
      killedPid = pid;
      // Only the agent's main shell dies: its writer keeps the pipe open, so
      // only the missing heartbeat answers can tell.
      process.kill(pid, "SIGKILL");
      const r = await done;
      assert.equal(r.size, jobs.length);
      assert.deepEqual(where.get("hang"), ["a", "b"]);
      assert.equal(lostReasons.length, 1);
      assert.match(lostReasons[0]!, /heartbeat timeout/);
      await until(pool, "a", "idle");
      const info = pool.get(hostName("a"))!.info!;
      assert.notEqual(info.pid, killedPid);
      assert.equal(processAlive(killedPid), false);

      // Drain: a finishes its task, then leaves; b stays.
      const last = pool.run(hostName("a"), { argv: ["sh", "-c", "sleep 0.3; echo last"] });
      assert.ok(pool.drain(hostName("a")).ok);
      assert.equal(pool.get(hostName("a"))!.state.kind, "draining");
      const lr = await last;
      assert.ok(lr.ok && lr.value.output.toString() === "last\n");
      await until(pool, "a", "gone");
      assert.equal(pool.get(hostName("b"))!.state.kind, "idle");
    } finally {
      await pool.close();
      tmp.remove();
    }
  },
);
