/**
 * The repository's index, made as the build goes: each package file the
 * build commits is read, unpacked and hashed in a thread of its own (a
 * large package takes tens of milliseconds, which the dispatching thread
 * cannot spare), and its pkg_summary record and SHA512 are written in
 * batches as segments of the index's cache (`segmentDir`), each whole or
 * not at all. The report phase's `indexRepository` then finds every built
 * package there and reads none (it read all 23,000 of a full build, 5 s).
 *
 * An entry is keyed by the size and mtime the committed file had when it was
 * read (stat'ed before and after the read; a file that changed meanwhile
 * gets no entry), exactly as the index looks it up: a package built again
 * under the same name is a new file, read again. A master killed mid-build
 * leaves the segments written so far, whose entries its successor uses.
 * Anything missing, damaged or another repository's costs a read, never a
 * record that is not the file's.
 */
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { segmentDir } from "./repository.js";

/** What the thread is started with. */
export interface IndexThreadData {
  /** The repository's All directory. */
  readonly all: string;
  /** The packages directory, resolved: the cache's owner. */
  readonly repo: string;
  readonly via: string;
  /** Where the segments go. */
  readonly segments: string;
  /** Entries per segment at most. */
  readonly batch: number;
  /** Milliseconds an entry may wait for its segment. */
  readonly delayMs: number;
}

export type IndexThreadMessage = { type: "add"; file: string } | { type: "close" };

/** The thread's last word: what it indexed and wrote, and why it left files out. */
export interface IndexThreadDone {
  readonly type: "done";
  indexed: number;
  written: number;
  /** Files it made no entry for (at most 10): the report phase reads them. */
  readonly skipped: string[];
  /** Segments it could not write (at most 10). */
  readonly errors: string[];
}

export interface IndexWriterOptions {
  /** The packages directory (with All/). */
  readonly packagesDir: string;
  /** The index's cache file, as given to indexRepository. */
  readonly cache: string;
  /** recordsVia(pkgInfo). */
  readonly via: string;
  readonly batch?: number;
  readonly delayMs?: number;
}

export type IndexWriterResult = Omit<IndexThreadDone, "type">;

export class IndexWriter {
  #worker: Worker | null;
  readonly #done: Promise<IndexWriterResult>;
  #sent = 0;

  constructor(o: IndexWriterOptions) {
    const data: IndexThreadData = {
      all: join(o.packagesDir, "All"),
      repo: resolve(o.packagesDir),
      via: o.via,
      segments: segmentDir(o.cache),
      batch: o.batch ?? 1000,
      delayMs: o.delayMs ?? 30_000,
    };
    const worker = new Worker(new URL("./index-thread.js", import.meta.url), { workerData: data });
    this.#worker = worker;
    // A master that ends without close() is not held up by it.
    worker.unref();
    const none = (why: string): IndexWriterResult => ({
      indexed: 0,
      written: 0,
      skipped: [],
      errors: [why],
    });
    this.#done = new Promise((res) => {
      worker.on("message", (m: IndexThreadDone) => {
        res({ indexed: m.indexed, written: m.written, skipped: m.skipped, errors: m.errors });
      });
      // Without the thread the report phase reads the packages, as before.
      worker.on("error", (e) => {
        this.#worker = null;
        res(none(`index thread: ${e.message}`));
      });
      worker.on("exit", () => {
        this.#worker = null;
        res(none("index thread: ended early"));
      });
    });
  }

  /** A package file (its name in All/) has been committed: index it. */
  add(file: string): void {
    if (this.#worker === null) return;
    this.#sent++;
    this.#worker.postMessage({ type: "add", file } satisfies IndexThreadMessage);
  }

  /** Packages handed to the thread. */
  get sent(): number {
    return this.#sent;
  }

  /** Waits until every package handed over is indexed and written (or given up). */
  async close(): Promise<IndexWriterResult> {
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) {
      w.ref();
      w.postMessage({ type: "close" } satisfies IndexThreadMessage);
    }
    return this.#done;
  }
}
