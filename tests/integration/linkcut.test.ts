import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import { test } from "node:test";
import { hostName } from "../../src/core/hostspec.js";
import { runJobs } from "../../src/bulk/dispatch.js";
import { LocalTransport } from "../../src/hosts/local.js";
import { HostPool } from "../../src/hosts/pool.js";
import { SshTransport } from "../../src/hosts/ssh.js";
import { SHELLS, startAgent, tempDir, waitState } from "./agent-support.js";
import { eventually } from "./cli-support.js";
import { netnsUnavailable, startNetnsHost } from "./netns-support.js";

const skip = netnsUnavailable();

const HEARTBEAT_TIMEOUT_MS = 3_000;

test(
  "an ssh host whose link is cut is lost by heartbeat, its task runs elsewhere, and it rejoins when the link returns",
  { skip: skip ?? false, timeout: 180_000 },
  async (t) => {
    const tmp = tempDir("linkcut");
    const far = await startNetnsHost(join(tmp.path, "sshd"));
    const ssh = new SshTransport({
      address: `root@${far.address}`,
      root: join(tmp.path, "far"),
      controlDir: join(tmp.path, "ctl"),
      identity: far.identity,
      knownHosts: far.knownHosts,
      connectTimeout: 5,
    });
    const pool = new HostPool({
      heartbeatIntervalMs: 250,
      heartbeatTimeoutMs: HEARTBEAT_TIMEOUT_MS,
      retryDelayMs: 500,
      // Reconnecting fails while the link is down; the host must not be quarantined for it.
      maxFailures: 1_000,
      connection: { helloTimeoutMs: 15_000 },
    });
    const lost: { reason: string; at: number }[] = [];
    pool.subscribe((e) => {
      if (e.type === "state" && e.host === "far" && e.to.kind === "lost") {
        lost.push({ reason: e.to.reason, at: performance.now() });
      }
    });
    try {
      // "far" is faster, so the long job goes there first.
      pool.add({ name: hostName("far"), transport: ssh, slots: 1, speed: 2, tags: [] });
      await waitState(pool, "far", "idle", { deadlineMs: 60_000 });
      pool.add({
        name: hostName("near"),
        transport: new LocalTransport({ root: join(tmp.path, "near") }),
        slots: 1,
        speed: 1,
        tags: [],
      });
      await waitState(pool, "near", "idle");

      const started = join(tmp.path, "long-started");
      const where: string[] = [];
      const failures: string[] = [];
      const done = runJobs(pool, ["long"], async (_job, lease) => {
        where.push(lease.host);
        const script = lease.host === "far" ? `touch ${started}; exec sleep 600` : "echo elsewhere";
        const r = await lease.run({ argv: ["sh", "-c", script] });
        if (!r.ok) {
          failures.push(r.error.reason);
          return { kind: "lost", reason: r.error.message };
        }
        assert.equal(r.value.output.toString(), "elsewhere\n");
        return { kind: "ok", value: null };
      });
      while (!existsSync(started)) await new Promise((r) => setTimeout(r, 50));

      const cutAt = performance.now();
      far.cut();
      const r = await done;
      assert.equal(r.get(0)?.kind, "ok");
      // The task on the cut host came back as lost and was requeued on the other host.
      assert.deepEqual(where, ["far", "near"]);
      assert.deepEqual(failures, ["lost"]);
      assert.ok(lost.length >= 1);
      const first = lost[0]!;
      // Nothing closed the link: only the missing heartbeats tell.
      assert.match(first.reason, /heartbeat/);
      // Within the heartbeat timeout plus a generous margin for a loaded machine.
      assert.ok(
        first.at - cutAt < HEARTBEAT_TIMEOUT_MS + 20_000,
        `lost ${Math.round(first.at - cutAt)} ms after the cut`,
      );

      // The pool keeps trying to reconnect while the link is down.
      await waitState(pool, "far", "connecting", { deadlineMs: 30_000, tolerateLost: true });
      await new Promise((res) => setTimeout(res, 1_000));
      const restoredAt = performance.now();
      far.restore();
      // Once the link is back, an attempt gets through and the host is idle again.
      await waitState(pool, "far", "idle", { deadlineMs: 90_000, tolerateLost: true });
      t.diagnostic(
        `lost ${Math.round(first.at - cutAt)} ms after the cut (heartbeat timeout ${HEARTBEAT_TIMEOUT_MS} ms); ` +
          `idle again ${Math.round(performance.now() - restoredAt)} ms after the link returned`,
      );
      const again = await pool.run(hostName("far"), { argv: ["echo", "back"] });
      assert.ok(again.ok, again.ok ? "" : again.error.message);
      assert.equal(again.value.output.toString(), "back\n");
      // The agent cut off mid-task heard its link close once the link returned, killed
      // its task and removed its state: only the new agent's state is left.
      const state = join(tmp.path, "far", ".herd-agent");
      await eventually(
        "the cut-off agent to clean up",
        () => readdirSync(state).length === 1,
        30_000,
      );
    } finally {
      await pool.close();
      await ssh.dispose();
      await far.stop();
      tmp.remove();
    }
  },
);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

// What the link cut above runs into by chance, made certain: the agent's stdout
// breaks while its stdin is still open (the master's end went away and the
// messages it had sent are still arriving). The agent's writer dies of SIGPIPE
// on its next reply; the agent must still stop its tasks, not die of SIGPIPE
// itself and leave them running on the host.
for (const shell of SHELLS) {
  test(
    `an agent (${shell.join(" ")}) whose stdout breaks still kills its tasks and removes its state`,
    { timeout: 60_000 },
    async () => {
      const tmp = tempDir("brokenpipe");
      const agent = await startAgent(join(tmp.path, "host"), shell);
      try {
        const pidFile = join(tmp.path, "task.pid");
        void agent.conn.start({ argv: ["sh", "-c", `echo $$ >${pidFile}; exec sleep 600`] }).result;
        await eventually("the task to start", () => existsSync(pidFile), 20_000);
        const task = Number(readFileSync(pidFile, "utf8"));
        agent.channel.output.destroy();
        // The first reply kills the writer, the second finds no reader.
        for (let i = 0; i < 3; i++) {
          void agent.conn.ping();
          await new Promise((r) => setTimeout(r, 300));
        }
        await eventually("the task to be killed", () => !alive(task), 20_000);
        await eventually(
          "the agent's state to go",
          () => !existsSync(join(agent.root, ".herd-agent")),
          20_000,
        );
      } finally {
        agent.channel.destroy();
        tmp.remove();
      }
    },
  );
}
