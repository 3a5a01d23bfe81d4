/**
 * WAL checkpoints off the master's thread. SQLite checkpoints a database in
 * WAL mode in the connection that commits, once the log has grown past 1,000
 * pages: every few megabytes of a build's events, that commit held the
 * master's event loop for the copy into the database file and its fsync
 * (tens of milliseconds, far more on a slow disk), delaying every package
 * start and result in flight. A thread with a connection of its own now
 * checkpoints, every second. Its passes never wait for the writer, so while
 * a build commits every few milliseconds one rarely takes in the very last
 * frame, and only a log all in the database file when a transaction begins
 * is started over: the log would grow for ever. So the master's connection
 * still checkpoints, but only once the log passes `netPages` (16 MB): by
 * then the thread has copied all but its last second, and that connection,
 * with no writer beside it, takes in the rest, a little, and the log starts
 * over. If the thread cannot run, the connection checkpoints as SQLite does
 * by default.
 */
import type Database from "better-sqlite3";
import { Worker } from "node:worker_threads";

export interface CheckpointData {
  readonly path: string;
  readonly everyMs: number;
}

/** Frames in the log, and how many of them are in the database file, after a pass. */
export interface CheckpointPass {
  readonly log: number;
  readonly checkpointed: number;
}

/** SQLite's own default (pages), restored when the thread fails. */
const AUTOCHECKPOINT = 1000;
/** When the master's connection takes in what the thread has not (pages of 4 KB). */
const NET_PAGES = 4000;

export class Checkpointer {
  readonly #worker: Worker;
  #stopped = false;
  #failed = false;

  /** Takes over checkpoints of `db` (a connection to the database file `path`). */
  constructor(
    private readonly db: Database.Database,
    path: string,
    everyMs = 1000,
    netPages = NET_PAGES,
  ) {
    db.pragma(`wal_autocheckpoint = ${netPages}`);
    const data: CheckpointData = { path, everyMs };
    this.#worker = new Worker(new URL("./checkpoint-thread.js", import.meta.url), {
      workerData: data,
    });
    // A master that ends without stop() is not held up by it.
    this.#worker.unref();
    const fallBack = (): void => {
      if (this.#stopped || this.#failed) return;
      this.#failed = true;
      if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${AUTOCHECKPOINT}`);
    };
    this.#worker.on("error", fallBack);
    this.#worker.on("exit", fallBack);
  }

  /** Whether the thread failed and the connection checkpoints again. */
  get failed(): boolean {
    return this.#failed;
  }

  /** One pass now, in the thread (for tests: to know when one ran). */
  pass(): Promise<CheckpointPass> {
    const w = this.#worker;
    return new Promise<CheckpointPass>((res, rej) => {
      const gone = (): void => {
        rej(new Error("the checkpoint thread has ended"));
      };
      w.once("exit", gone);
      w.once("message", (m: CheckpointPass | { error: string }) => {
        w.off("exit", gone);
        if ("error" in m) rej(new Error(m.error));
        else res(m);
      });
      // Held while a pass is asked for: an unref'd thread alone would let the process end.
      w.ref();
      w.postMessage("pass");
    }).finally(() => {
      w.unref();
    });
  }

  /** Ends the thread (its connection closed); the master's connection closes after it. */
  stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.postMessage("stop");
  }
}
