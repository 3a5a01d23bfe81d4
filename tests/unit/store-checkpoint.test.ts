/**
 * The master's store never checkpoints its write-ahead log in the committing
 * connection (that held the event loop for the copy and the fsync every few
 * megabytes): a thread does, and the log still starts over once it is all
 * in the database file, so it stays small over a long build.
 */
import assert from "node:assert/strict";
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import Database from "better-sqlite3";
import { Checkpointer } from "../../src/store/checkpoint.js";
import { Store } from "../../src/store/store.js";
import { scratchDir } from "../lib/scratch.js";

const size = (f: string): number => statSync(f).size;
const eventCount = (s: Store): number =>
  (s.db.prepare("SELECT count(*) AS n FROM events").get() as { n: number }).n;
/** The checkpoint sequence number in a WAL file's header: it grows each time the log starts over. */
function logGeneration(wal: string): number {
  const fd = openSync(wal, "r");
  try {
    const head = Buffer.alloc(16);
    readSync(fd, head, 0, 16, 0);
    return head.readUInt32BE(12);
  } finally {
    closeSync(fd);
  }
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** About `mb` megabytes of events, ten to a transaction, as the writer commits them. */
function writeEvents(s: Store, build: number, mb: number): void {
  const data = { text: "x".repeat(1000) };
  for (let i = 0; i < mb * 100; i++)
    s.tx(() => {
      for (let k = 0; k < 10; k++) s.appendEvent(build, i, "stage", data);
    });
}

describe("the store's WAL checkpoints", () => {
  it("are made by the thread, not the committing connection, and the log starts over after them", async () => {
    const path = join(scratchDir("herd-ckpt-"), "herd.db");
    const s = new Store(path);
    // Passes only when asked, for the test to know when one ran.
    const cp = s.checkpointInThread(3_600_000);
    assert.ok(cp !== undefined);
    // The connection's own checkpoints wait for 16 MB of log.
    assert.equal(s.db.pragma("wal_autocheckpoint", { simple: true }), 4000);
    const build = s.startBuild("/tree", "id", 0);
    const dbBefore = size(path);
    writeEvents(s, build, 3);
    const wal = size(`${path}-wal`);
    assert.ok(wal > 3e6, `the log holds the 3 MB written (${wal} bytes)`);
    assert.ok(
      size(path) < dbBefore + 1e6,
      "the committing connection copied nothing into the file",
    );

    const r = await cp.pass();
    assert.ok(r.log > 1000 && r.checkpointed === r.log, JSON.stringify(r));
    assert.ok(size(path) > dbBefore + 3e6, "the thread's pass copied the log into the file");

    // The next transactions write the log from its start: it does not grow past its size.
    writeEvents(s, build, 2.5);
    assert.ok(size(`${path}-wal`) <= wal, `log ${size(`${path}-wal`)} bytes, was ${wal}`);
    await cp.pass();
    s.close();
    const again = new Store(path);
    assert.equal(eventCount(again), 5_500);
    again.close();
  });

  it("while the writer commits beside the thread's passes, the connection's bound still starts the log over", async () => {
    const path = join(scratchDir("herd-ckpt-"), "herd.db");
    const s = new Store(path);
    // The thread passes all the time; the connection takes in the rest past 1 MB.
    const cp = s.checkpointInThread(2, 256);
    assert.ok(cp !== undefined);
    const build = s.startBuild("/tree", "id", 0);
    // Commits spread over turns, so that the thread's passes fall between and during them. The
    // log's header counts the times it started over: without the bound it never does (the log
    // grows to 59 MB here), with it some forty times at rest, nine or more on a loaded machine.
    // The file's size is no measure: a log started over reuses the file, and under load one
    // long pass of the thread can let it grow past the bound before the connection's turn.
    const starts = new Set<number>();
    for (let i = 0; i < 40; i++) {
      writeEvents(s, build, 0.5);
      starts.add(logGeneration(`${path}-wal`));
      await sleep(1);
    }
    assert.ok(starts.size >= 2, `the log started over ${starts.size - 1} times in 20 MB written`);
    assert.equal(eventCount(s), 20_000);
    s.close();
  });

  it("fall back to the connection when the thread cannot run", async () => {
    const path = join(scratchDir("herd-ckpt-"), "herd.db");
    const db = new Database(path);
    db.pragma("journal_mode = WAL");
    // The thread cannot open a file that is not there; the connection checkpoints again.
    const cp = new Checkpointer(db, join(path, "..", "no-such-dir", "herd.db"));
    assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 4000);
    for (let i = 0; i < 200 && !cp.failed; i++) await sleep(25);
    assert.equal(cp.failed, true);
    assert.equal(db.pragma("wal_autocheckpoint", { simple: true }), 1000);
    db.close();
  });

  it("is nothing for a store in memory", () => {
    const s = new Store(":memory:");
    assert.equal(s.checkpointInThread(), undefined);
    s.close();
  });
});
