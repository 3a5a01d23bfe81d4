/**
 * A streaming POSIX ustar writer for tree sync: deterministic (sorted, owner
 * 0), plain ustar so every host's tar reads it, no dependency on the
 * master's own tar flavour.
 */
import { lstat, opendir, readFile, readlink } from "node:fs/promises";
import { join } from "node:path";
import type { Stats } from "node:fs";

const BLOCK = 512;

export interface TarOptions {
  /** Directory names skipped wherever they appear (e.g. "work", ".git"). */
  readonly excludeNames?: readonly string[];
  /** Glob-free prefixes matched against the top-level names only (e.g. "distfiles"). */
  readonly excludeTop?: readonly string[];
  /** Paths (relative, "/"-separated) left out, e.g. the tree id file. */
  readonly excludePaths?: readonly string[];
  /** Counts of what went in, filled as the stream is read. */
  readonly stats?: TarStats;
}

export class TarPathError extends Error {
  constructor(readonly path: string) {
    super(`path too long for a ustar archive: ${path}`);
  }
}

function octal(value: number, width: number): string {
  return value.toString(8).padStart(width - 1, "0") + "\0";
}

/** Splits a path into ustar's prefix (≤155) and name (≤100) at a slash. */
function splitName(path: string): { prefix: string; name: string } | null {
  if (Buffer.byteLength(path) <= 100) return { prefix: "", name: path };
  for (let i = path.indexOf("/"); i >= 0; i = path.indexOf("/", i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== "")
      return { prefix, name };
  }
  return null;
}

/** One ustar header block. */
export function tarHeader(
  path: string,
  type: "0" | "2" | "5",
  mode: number,
  size: number,
  mtime: number,
  linkname = "",
): Buffer {
  const split = splitName(path);
  if (split === null || Buffer.byteLength(linkname) > 100) throw new TarPathError(path);
  const h = Buffer.alloc(BLOCK);
  h.write(split.name, 0, 100, "utf8");
  h.write(octal(mode & 0o7777, 8), 100, "latin1");
  h.write(octal(0, 8), 108, "latin1");
  h.write(octal(0, 8), 116, "latin1");
  h.write(octal(size, 12), 124, "latin1");
  h.write(octal(Math.max(0, Math.floor(mtime)), 12), 136, "latin1");
  h.write("        ", 148, "latin1");
  h.write(type, 156, "latin1");
  h.write(linkname, 157, 100, "utf8");
  h.write("ustar\0", 257, "latin1");
  h.write("00", 263, "latin1");
  h.write(split.prefix, 345, 155, "utf8");
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, "0") + "\0 ", 148, "latin1");
  return h;
}

/** Streams `root` as a ustar archive (paths relative to root, sorted). */
/** Counts of what a tar stream carried. */
export interface TarStats {
  files: number;
  dirs: number;
  links: number;
  /** File content bytes (without headers and padding). */
  bytes: number;
}

/**
 * The ustar blocks of one entry: a directory's header (its contents are the
 * caller's to walk), a symbolic link, or a file with its data and padding.
 * Sockets, FIFOs and devices yield nothing: they have no place in a tree.
 */
export async function* tarEntry(
  abs: string,
  path: string,
  st: Stats,
  stats?: TarStats,
): AsyncGenerator<Buffer> {
  const mtime = st.mtimeMs / 1000;
  if (st.isDirectory()) {
    if (stats) stats.dirs++;
    yield tarHeader(`${path}/`, "5", st.mode, 0, mtime);
  } else if (st.isSymbolicLink()) {
    if (stats) stats.links++;
    yield tarHeader(path, "2", st.mode, 0, mtime, await readlink(abs));
  } else if (st.isFile()) {
    const data = await readFile(abs);
    if (stats) {
      stats.files++;
      stats.bytes += data.length;
    }
    yield tarHeader(path, "0", st.mode, data.length, mtime);
    yield data;
    const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
    if (pad > 0) yield Buffer.alloc(pad);
  }
}

export async function* tarTree(root: string, opts: TarOptions = {}): AsyncGenerator<Buffer> {
  const names = new Set(opts.excludeNames ?? []);
  const top = new Set(opts.excludeTop ?? []);
  const paths = new Set(opts.excludePaths ?? []);
  const stats = opts.stats;
  async function* walk(rel: string): AsyncGenerator<Buffer> {
    const dir = await opendir(rel === "" ? root : join(root, rel));
    const entries: string[] = [];
    for await (const d of dir) entries.push(d.name);
    entries.sort();
    for (const name of entries) {
      const path = rel === "" ? name : `${rel}/${name}`;
      if (paths.has(path) || (rel === "" && top.has(name))) continue;
      const abs = join(root, path);
      const st = await lstat(abs);
      if (st.isDirectory() && names.has(name)) continue;
      yield* tarEntry(abs, path, st, stats);
      if (st.isDirectory()) yield* walk(path);
      // Sockets, FIFOs and devices have no place in a package tree.
    }
  }
  yield* walk("");
  yield Buffer.alloc(2 * BLOCK);
}
