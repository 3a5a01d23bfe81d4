/**
 * The repository index's writer thread (see src/report/index-writer.ts):
 * reads, unpacks and hashes each package file the build commits, and writes
 * the entries in batches as segments of the index's cache.
 */
import { setPriority } from "node:os";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { parentPort, workerData } from "node:worker_threads";
import { atomicWrite, cacheText, indexFile, type CachedEntry } from "./repository.js";
import type { IndexThreadData, IndexThreadDone, IndexThreadMessage } from "./index-writer.js";

// Background work: on Linux this lowers this thread only, not the master's dispatching one.
try {
  setPriority(0, 10);
} catch {
  // not allowed here: it runs at the master's priority
}

const data = workerData as IndexThreadData;
const queue: string[] = [];
let pending: Record<string, CachedEntry> = {};
let pendingCount = 0;
let timer: NodeJS.Timeout | undefined;
let seq = 0;
let draining: Promise<void> | undefined;
let closing = false;
const done: IndexThreadDone = { type: "done", indexed: 0, written: 0, skipped: [], errors: [] };
// Each master's segments have names of their own: a resumed master's never replace a killed one's.
const prefix = `${Date.now().toString(36)}-${process.pid}`;

let flushing = Promise.resolve();

/** Writes what is pending as a segment, after any write under way. */
function flush(): Promise<void> {
  flushing = flushing.then(write);
  return flushing;
}

async function write(): Promise<void> {
  if (timer !== undefined) clearTimeout(timer);
  timer = undefined;
  if (pendingCount === 0) return;
  const files = pending;
  const n = pendingCount;
  pending = {};
  pendingCount = 0;
  const name = `${prefix}-${String(seq++).padStart(6, "0")}.json`;
  try {
    await mkdir(data.segments, { recursive: true });
    await atomicWrite(
      join(data.segments, name),
      Buffer.from(cacheText(data.via, data.repo, files)),
    );
    done.written += n;
  } catch (e) {
    // Lost entries cost a read at the report, nothing else.
    if (done.errors.length < 10) done.errors.push(`${name}: ${(e as Error).message}`);
  }
}

async function drain(): Promise<void> {
  for (let name = queue.shift(); name !== undefined; name = queue.shift()) {
    try {
      const r = await indexFile(data.all, name, data.via, undefined, true);
      if (!r.ok) {
        if (done.skipped.length < 10) done.skipped.push(r.message);
        continue;
      }
      done.indexed++;
      pending[name] = r.entry;
      pendingCount++;
    } catch (e) {
      if (done.skipped.length < 10) done.skipped.push(`${name}: ${(e as Error).message}`);
      continue;
    }
    if (pendingCount >= data.batch) await flush();
    else timer ??= setTimeout(() => void flush(), data.delayMs);
  }
}

function kick(): void {
  draining ??= drain().finally(() => {
    draining = undefined;
    if (queue.length > 0) kick();
    else if (closing) void finish();
  });
}

async function finish(): Promise<void> {
  await flush();
  parentPort?.postMessage(done);
  parentPort?.close();
}

parentPort?.on("message", (m: IndexThreadMessage) => {
  if (m.type === "add") {
    queue.push(m.file);
    kick();
  } else {
    closing = true;
    if (draining === undefined) void finish();
  }
});
