/**
 * The store's checkpointer thread (see src/store/checkpoint.ts): copies what
 * the master's connection committed to the write-ahead log into the
 * database file, every `everyMs` and when asked, on a connection of its own.
 */
import Database from "better-sqlite3";
import { parentPort, workerData } from "node:worker_threads";
import type { CheckpointData, CheckpointPass } from "./checkpoint.js";

const data = workerData as CheckpointData;
const db = new Database(data.path, { fileMustExist: true });

/**
 * Passive checkpoints (they never wait for the writer) until the whole log is
 * in the database file, a few at most: the writer's next transaction then
 * starts the log from its beginning again, so it stays small. The writer
 * commits every few milliseconds during a busy build; a pass that missed its
 * last frames is run again at once, when few are left.
 */
function pass(): CheckpointPass {
  let last: CheckpointPass = { log: 0, checkpointed: 0 };
  for (let i = 0; i < 4; i++) {
    const rows = db.pragma("wal_checkpoint(PASSIVE)") as {
      busy: number;
      log: number;
      checkpointed: number;
    }[];
    const row = rows[0];
    if (row === undefined) break;
    last = { log: row.log, checkpointed: row.checkpointed };
    if (row.log === row.checkpointed) break;
  }
  return last;
}

const timer = setInterval(() => {
  try {
    pass();
  } catch {
    // The database is busy or gone: the next tick tries again, the master's close does the rest.
  }
}, data.everyMs);

parentPort?.on("message", (m: "pass" | "stop") => {
  if (m === "pass") {
    let result: CheckpointPass | { error: string };
    try {
      result = pass();
    } catch (e) {
      result = { error: (e as Error).message };
    }
    parentPort?.postMessage(result);
    return;
  }
  clearInterval(timer);
  db.close();
  parentPort?.close();
});
