/**
 * The master's side of a delta sync: a listing of its tree that compares
 * with the host's (cksum CRCs, remembered per file while its size, mtime,
 * ctime and inode stay the same, so syncing many hosts reads the tree once),
 * and a ustar stream of just the entries to send.
 */
import { createReadStream, lstatSync, readdirSync, readFileSync, type Stats } from "node:fs";
import { lstat } from "node:fs/promises";
import { performance } from "node:perf_hooks";
import { join } from "node:path";
import { Cksum } from "../../protocol/cksum.js";
import { tarEntry, type TarStats } from "../tar.js";
import type { TreeEntry, TreeManifest } from "./treedelta.js";

/** What a sync leaves out of the master's tree (as tarTree's options). */
export interface TreeFilter {
  /** Directory names skipped wherever they appear. */
  readonly excludeNames: readonly string[];
  /** Top-level names skipped. */
  readonly excludeTop: readonly string[];
  /** Relative paths skipped. */
  readonly excludePaths: readonly string[];
}

interface CrcMemo {
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
  readonly ino: number;
  readonly crc: number;
}

const crcMemo = new Map<string, CrcMemo>();

async function fileCrc(abs: string, st: Stats): Promise<number> {
  const memo = crcMemo.get(abs);
  if (
    memo?.size === st.size &&
    memo.mtimeMs === st.mtimeMs &&
    memo.ctimeMs === st.ctimeMs &&
    memo.ino === st.ino
  )
    return memo.crc;
  const ck = new Cksum();
  // Most files of a package tree are small: one read each.
  if (st.size <= 1 << 22) ck.update(readFileSync(abs));
  else
    for await (const piece of createReadStream(abs, { highWaterMark: 1 << 20 }))
      ck.update(piece as Buffer);
  const crc = ck.digest();
  crcMemo.set(abs, {
    size: st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    ino: st.ino,
    crc,
  });
  return crc;
}

/** Lists the master's tree the way HOST_MANIFEST lists a host's copy. */
export async function masterManifest(root: string, filter: TreeFilter): Promise<TreeManifest> {
  const dirNames = new Set(filter.excludeNames);
  const top = new Set(filter.excludeTop);
  const paths = new Set(filter.excludePaths);
  const out = new Map<string, TreeEntry>();
  // Synchronous calls, because a walk of many small files is bound by the
  // cost per call (async lstat measured 3-4x slower); the event loop gets a
  // turn every few milliseconds so heartbeats and transfers go on.
  let since = performance.now();
  const walk = async (rel: string): Promise<void> => {
    if (performance.now() - since > 10) {
      await new Promise((r) => setImmediate(r));
      since = performance.now();
    }
    const subdirs: string[] = [];
    for (const d of readdirSync(rel === "" ? root : join(root, rel), { withFileTypes: true })) {
      const path = rel === "" ? d.name : `${rel}/${d.name}`;
      if (paths.has(path) || (rel === "" && top.has(d.name))) continue;
      if (d.isDirectory()) {
        if (dirNames.has(d.name)) continue;
        out.set(path, { kind: "dir" });
        subdirs.push(path);
      } else if (d.isSymbolicLink()) {
        out.set(path, { kind: "link" });
      } else if (d.isFile()) {
        const abs = join(root, path);
        const st = lstatSync(abs);
        const crc = await fileCrc(abs, st);
        out.set(path, { kind: "file", size: st.size, crc, exec: (st.mode & 0o100) !== 0 });
      }
      // Sockets, FIFOs and devices are not sent (as tarTree).
    }
    for (const sub of subdirs) await walk(sub);
  };
  await walk("");
  return out;
}

/** Counts of what a delta stream carried, filled as it is read. */
export type DeltaStats = TarStats;

/** Streams the entries `paths` (sorted, relative) of `root` as a ustar archive. */
export async function* tarPaths(
  root: string,
  paths: readonly string[],
  stats?: DeltaStats,
): AsyncGenerator<Buffer> {
  for (const path of paths) {
    const abs = join(root, path);
    yield* tarEntry(abs, path, await lstat(abs), stats);
  }
  yield Buffer.alloc(1024);
}
