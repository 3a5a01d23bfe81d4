/**
 * The binary package repository as pbulk publishes it: packages/All/*.tgz,
 * pkg_summary.gz (the `pkg_info -X` records of every package) and SHA512
 * (`cksum -a sha512` lines of every package file).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { readdir, readFile, rename, rm, writeFile, stat } from "node:fs/promises";
import { readFileSync, statSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { gzipSync } from "node:zlib";
import { readTar, unsafeMember } from "../core/tar.js";

const execFileP = promisify(execFile);

/** BUILD_INFO keys that pkg_info -X copies into a summary record. */
const SUMMARY_BUILD_INFO = [
  "BUILD_DATE",
  "CATEGORIES",
  "HOMEPAGE",
  "LICENSE",
  "MACHINE_ARCH",
  "OPSYS",
  "OS_VERSION",
  "PKGPATH",
  "PKGTOOLS_VERSION",
  "PREV_PKGPATH",
  "PROVIDES",
  "REQUIRES",
  "SUPERSEDES",
];

export type SummaryResult = { ok: true; record: string } | { ok: false; message: string };

/** The pkg_summary record of one binary package file. */
export function summaryRecord(fileName: string, archive: Buffer): SummaryResult {
  const tar = readTar(archive);
  if (!tar.ok) return { ok: false, message: `${fileName}: ${tar.message}` };
  const bad = unsafeMember(tar.entries);
  if (bad !== undefined) return { ok: false, message: `${fileName}: ${bad}` };
  const meta = new Map(
    tar.entries
      .filter((e) => e.type === "file" && e.name.startsWith("+"))
      .map((e) => [e.name, e.data.toString("utf8")]),
  );
  const contents = meta.get("+CONTENTS");
  if (contents === undefined)
    return { ok: false, message: `${fileName}: no +CONTENTS (not a pkgsrc binary package)` };
  const lines: string[] = [];
  let pkgname = "";
  const deps: string[] = [];
  const conflicts: string[] = [];
  for (const l of contents.split("\n")) {
    if (l.startsWith("@name ")) pkgname = l.slice(6).trim();
    else if (l.startsWith("@pkgdep ")) deps.push(l.slice(8).trim());
    else if (l.startsWith("@blddep ")) continue;
    else if (l.startsWith("@pkgcfl ")) conflicts.push(l.slice(8).trim());
  }
  if (pkgname === "") return { ok: false, message: `${fileName}: +CONTENTS has no @name` };
  lines.push(`PKGNAME=${pkgname}`);
  for (const d of deps) lines.push(`DEPENDS=${d}`);
  for (const c of conflicts) lines.push(`CONFLICTS=${c}`);
  lines.push(`COMMENT=${(meta.get("+COMMENT") ?? "").split("\n")[0] ?? ""}`);
  const size = meta.get("+SIZE_PKG")?.trim();
  if (size !== undefined && size !== "") lines.push(`SIZE_PKG=${size}`);
  const info = new Map<string, string>();
  for (const l of (meta.get("+BUILD_INFO") ?? "").split("\n")) {
    const eq = l.indexOf("=");
    if (eq > 0 && !info.has(l.slice(0, eq))) info.set(l.slice(0, eq), l.slice(eq + 1));
  }
  for (const k of SUMMARY_BUILD_INFO) {
    const v = info.get(k);
    if (v !== undefined) lines.push(`${k}=${v}`);
  }
  lines.push(`FILE_NAME=${fileName}`);
  lines.push(`FILE_SIZE=${archive.length}`);
  for (const d of (meta.get("+DESC") ?? "").replace(/\n$/, "").split("\n"))
    lines.push(`DESCRIPTION=${d}`);
  return { ok: true, record: lines.join("\n") + "\n\n" };
}

export interface RepositoryIndex {
  readonly packages: number;
  readonly problems: readonly string[];
  /** Package files read, unpacked and hashed (those the cache did not hold). */
  readonly read: number;
}

export interface IndexOptions {
  /** Package files to leave out (RESTRICTED, NO_BIN_ON_FTP). */
  readonly exclude?: ReadonlySet<string>;
  /** A real `pkg_info` on the master: its `pkg_info -X` writes the records instead of herd. */
  readonly pkgInfo?: string;
  /**
   * A file keeping each package file's record and SHA512 by its size and mtime: a
   * full build's 23,000 packages are read, unpacked and hashed again only when
   * they changed (5 s at the end of every build otherwise). What the build
   * indexed as it committed packages (src/report/index-writer.ts) is in the
   * segments beside it (`segmentDir`); they are merged into it here.
   */
  readonly cache?: string;
}

/** A package file's record and SHA512, valid while its size and mtime stay. */
export type CachedEntry = [size: number, mtimeMs: number, sha512: string, record: string];

/**
 * A cache file (the whole cache, or one segment of it): whose records
 * (`via`: "herd" or the pkg_info that made them) of which repository
 * (`repo`: its packages directory, resolved). A file of another repository
 * or another pkg_info is ignored: it costs a read of each package, never a
 * record that is not the file's.
 */
interface IndexCache {
  readonly via: string;
  readonly repo: string;
  readonly files: Record<string, CachedEntry>;
}

/** Who makes the records: herd, or the configured pkg_info. */
export function recordsVia(pkgInfo: string | undefined): string {
  return pkgInfo === undefined || pkgInfo === "" ? "herd" : pkgInfo;
}

/** Where the segments of a cache file are: `repository-index.d` beside `repository-index.json`. */
export function segmentDir(cache: string): string {
  return join(dirname(cache), `${basename(cache, ".json")}.d`);
}

function isEntry(e: unknown): e is CachedEntry {
  return (
    Array.isArray(e) &&
    e.length === 4 &&
    typeof e[0] === "number" &&
    typeof e[1] === "number" &&
    typeof e[2] === "string" &&
    /^[0-9a-f]{128}$/.test(e[2]) &&
    typeof e[3] === "string"
  );
}

/** The entries of one cache file; none when it is unreadable, damaged or another's. */
function parseCache(text: string, via: string, repo: string): [string, CachedEntry][] {
  try {
    const c = JSON.parse(text) as Partial<IndexCache> | null;
    if (c === null || typeof c !== "object" || c.via !== via || c.repo !== repo) return [];
    const files: unknown = c.files;
    if (files === null || typeof files !== "object" || Array.isArray(files)) return [];
    return Object.entries(files as Record<string, unknown>).filter(
      (kv): kv is [string, CachedEntry] => isEntry(kv[1]),
    );
  } catch {
    return [];
  }
}

/** A cache file's text. */
export function cacheText(via: string, repo: string, files: Record<string, CachedEntry>): string {
  const c: IndexCache = { via, repo, files };
  return JSON.stringify(c);
}

/** What the cache and its segments hold: each file's entries, latest last; the segments read. */
async function readCache(
  file: string | undefined,
  via: string,
  repo: string,
): Promise<{ entries: Map<string, CachedEntry[]>; segments: string[] }> {
  const entries = new Map<string, CachedEntry[]>();
  const segments: string[] = [];
  if (file === undefined) return { entries, segments };
  const add = (text: string): void => {
    for (const [name, e] of parseCache(text, via, repo)) {
      const l = entries.get(name);
      if (l === undefined) entries.set(name, [e]);
      else l.push(e);
    }
  };
  add(await readFile(file, "utf8").catch(() => ""));
  const dir = segmentDir(file);
  let names: string[] = [];
  try {
    names = (await readdir(dir)).sort();
  } catch {
    // no segments
  }
  for (const n of names) {
    segments.push(join(dir, n));
    if (n.endsWith(".json")) add(await readFile(join(dir, n), "utf8").catch(() => ""));
  }
  return { entries, segments };
}

/** The cached entry of a file of this size and mtime, if any. */
function lookup(
  l: readonly CachedEntry[] | undefined,
  size: number,
  mtimeMs: number,
): CachedEntry | undefined {
  if (l === undefined) return undefined;
  for (let i = l.length - 1; i >= 0; i--) {
    const e = l[i]!;
    if (e[0] === size && e[1] === mtimeMs) return e;
  }
  return undefined;
}

export type IndexedFile = { ok: true; entry: CachedEntry } | { ok: false; message: string };

/**
 * Reads, unpacks and hashes one package file of `all`: its entry, keyed by
 * the size and mtime it had before it was read (`st`; stat'ed here when not
 * given). With `recheck`, the file is stat'ed again after the read and no
 * entry is made if it changed meanwhile (a host writing into a shared
 * repository). The file is read synchronously: through the thread pool, the
 * full tree's 23,000 small packages took 9.4 CPU s, directly 1.5 s.
 */
export async function indexFile(
  all: string,
  name: string,
  via: string,
  st?: { readonly size: number; readonly mtimeMs: number },
  recheck = false,
): Promise<IndexedFile> {
  const path = join(all, name);
  const before = st ?? statSync(path);
  const data = readFileSync(path);
  if (recheck) {
    const after = statSync(path);
    if (
      after.size !== before.size ||
      after.mtimeMs !== before.mtimeMs ||
      data.length !== before.size
    )
      return { ok: false, message: `${name}: changed while it was read` };
  }
  const rec = via === "herd" ? summaryRecord(name, data) : await pkgInfoRecord(via, all, name);
  if (!rec.ok) return rec;
  const digest = createHash("sha512").update(data).digest("hex");
  return { ok: true, entry: [before.size, before.mtimeMs, digest, rec.record] };
}

/** Writes pkg_summary.gz and SHA512 for every package in packagesDir/All (atomically). */
export async function indexRepository(
  packagesDir: string,
  opts: IndexOptions = {},
): Promise<RepositoryIndex> {
  const exclude = opts.exclude ?? new Set<string>();
  const all = join(packagesDir, "All");
  const files = (await readdir(all)).filter((f) => f.endsWith(".tgz") && !exclude.has(f)).sort();
  let summary = "";
  let sha = "";
  const problems: string[] = [];
  const via = recordsVia(opts.pkgInfo);
  const { entries: cached, segments } = await readCache(opts.cache, via, resolve(packagesDir));
  const files2: Record<string, CachedEntry> = {};
  let read = 0;
  // Synchronously: 23,000 stats through the thread pool took 0.8 s, directly 0.13 s. The
  // loop lets others in (a dashboard) every 2,000 stats or 200 reads.
  let work = 0;
  for (const f of files) {
    if (work >= 2000) {
      work = 0;
      await new Promise((r) => setImmediate(r));
    }
    work++;
    const st = statSync(join(all, f));
    let entry = lookup(cached.get(f), st.size, st.mtimeMs);
    if (entry === undefined) {
      read++;
      work += 9;
      const r = await indexFile(all, f, via, st);
      if (!r.ok) {
        problems.push(r.message);
        continue;
      }
      entry = r.entry;
    }
    files2[f] = entry;
    summary += entry[3];
    sha += `SHA512 (All/${f}) = ${entry[2]}\n`;
  }
  await atomicWrite(join(all, "pkg_summary.gz"), gzipSync(summary));
  await atomicWrite(join(packagesDir, "SHA512"), Buffer.from(sha));
  if (opts.cache !== undefined) {
    await atomicWrite(opts.cache, Buffer.from(cacheText(via, resolve(packagesDir), files2)));
    // Merged into the cache (and any a killed writer left half-written): no longer needed.
    for (const s of segments) await rm(s, { force: true });
  }
  return { packages: files.length - problems.length, problems, read };
}

/** The record `pkg_info -X FILE` prints, run in the package's directory. */
async function pkgInfoRecord(pkgInfo: string, dir: string, file: string): Promise<SummaryResult> {
  try {
    const { stdout } = await execFileP(pkgInfo, ["-X", file], {
      cwd: dir,
      encoding: "utf8",
      maxBuffer: 16 * 1024 * 1024,
    });
    const body = stdout.replace(/\n+$/, "");
    if (!body.startsWith("PKGNAME=") && !/\nPKGNAME=/.test(body))
      return { ok: false, message: `${file}: pkg_info -X printed no PKGNAME` };
    return { ok: true, record: `${body}\n\n` };
  } catch (e) {
    const why = (e as { stderr?: string }).stderr?.trim() ?? (e as Error).message;
    return { ok: false, message: `${file}: ${pkgInfo} -X failed: ${why.slice(0, 300)}` };
  }
}

/** Writes a file whole or not at all: into a temporary file, then renamed over it. */
export async function atomicWrite(path: string, data: Buffer): Promise<void> {
  await writeFile(`${path}.tmp`, data);
  await rename(`${path}.tmp`, path);
}

/** Size of a file, or undefined if it does not exist. */
export async function fileSize(path: string): Promise<number | undefined> {
  try {
    return (await stat(path)).size;
  } catch {
    return undefined;
  }
}
