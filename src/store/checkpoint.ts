/**
 * WAL checkpoints off the master's thread. SQLite checkpoints a database in
 * WAL mode in the connection that commits, once the log has grown past 1,000
 * pages: every few megabytes of a build's events, that commit held the
 * master's event loop for the copy into the database file and its fsync
 * (tens of milliseconds, far more on a slow disk), delaying every package
 * start and result in flight. The master's connection now never checkpoints;
 * a thread with a connection of its own does, every second. If the thread
 * cannot run, the connection checkpoints as before.
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

export class Checkpointer {
  readonly #worker: Worker;
  #stopped = false;
  #failed = false;

  /** Takes over checkpoints of `db` (a connection to the database file `path`). */
  constructor(
    private readonly db: Database.Database,
    path: string,
    everyMs = 1000,
  ) {
    db.pragma("wal_autocheckpoint = 0");
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

  /** One pass now, in the thread (tests, and benchmarks that want the log empty). */
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
