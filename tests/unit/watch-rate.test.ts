/**
 * Watching a running stage costs the host a task per look; on a slow host a
 * look takes long, and herd looks less often there (COST_RATIO), so the live
 * log and the watchdog never eat much of a slow host's CPU.
 */
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { AgentConnection, RunningTask } from "../../src/hosts/connection.js";
import { followOutput } from "../../src/bulk/livelog.js";
import { COST_RATIO, watchOutput } from "../../src/bulk/watchdog.js";

/** A connection whose every task takes `ms` and prints `out(n)` (n: the task's number); counts the tasks. */
function fakeConn(
  ms: number,
  out: (n: number) => string,
): { conn: AgentConnection; looks: () => number } {
  let n = 0;
  const conn = {
    info: { root: "/r", pid: 1 },
    run: async () => {
      n++;
      // A fast host answers at once: a timer of 1 ms on a loaded machine can take tens of ms, 50 times over.
      if (ms > 0) await new Promise((r) => setTimeout(r, ms));
      const output = Buffer.from(out(n));
      return { ok: true, value: { status: 0, output, hostSeconds: null } };
    },
  } as unknown as AgentConnection;
  return { conn, looks: () => n };
}

const task = { id: 7, kill: () => undefined } as unknown as RunningTask;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe("watching a stage on a slow host", () => {
  it("the live log looks every `liveLog` seconds on a fast host, far less often on a slow one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herd-watch-"));
    try {
      const fast = fakeConn(0, () => "");
      const slow = fakeConn(30, () => "x");
      const a = followOutput(fast.conn, task, join(dir, "a.log"), 0.2);
      const b = followOutput(slow.conn, task, join(dir, "b.log"), 0.2);
      await sleep(2000);
      await a.stop();
      await b.stop();
      // 2 s at 0.2 s: about 10 looks; the slow host waits 50 x 30 ms = 1.5 s after its first.
      assert.ok(fast.looks() >= 5, `fast host: ${fast.looks()} looks`);
      assert.ok(slow.looks() >= 1 && slow.looks() <= 2, `slow host: ${slow.looks()} looks`);
      assert.equal(COST_RATIO, 50);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the live log's file is made at the first output, and what an earlier attempt left is gone at once", async () => {
    const dir = mkdtempSync(join(tmpdir(), "herd-watch-"));
    try {
      // Looks 1-3 find nothing, then each adds a line.
      const quiet = fakeConn(0, (n) => (n <= 3 ? "" : `line ${n}\n`));
      const file = join(dir, "build.log");
      writeFileSync(file, "the killed attempt's output\n");
      const f = followOutput(quiet.conn, task, file, 0.2);
      assert.equal(
        existsSync(file),
        false,
        "the earlier attempt's log is removed when following starts",
      );
      while (quiet.looks() < 3) await sleep(20);
      assert.equal(existsSync(file), false, "no file while no output has arrived");
      while (quiet.looks() < 6) await sleep(20);
      await f.stop();
      const text = readFileSync(file, "utf8");
      assert.match(text, /^line 4\nline 5\n/, text);
      assert.doesNotMatch(text, /killed attempt/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("the watchdog, too", async () => {
    // A watchdog of 1 s looks every 250 ms on a fast host; the output grows, so it never fires.
    const grows = (n: number): string => `${n} out\n`;
    const fast = fakeConn(0, grows);
    const slow = fakeConn(30, grows);
    const a = watchOutput(fast.conn, task, 1);
    const b = watchOutput(slow.conn, task, 1);
    await sleep(2000);
    a.stop();
    b.stop();
    assert.equal(a.fired() || b.fired(), false);
    assert.ok(fast.looks() >= 4, `fast host: ${fast.looks()} looks`);
    assert.ok(slow.looks() >= 1 && slow.looks() <= 2, `slow host: ${slow.looks()} looks`);
  });
});
