/**
 * The binary package repository as pbulk publishes it: packages/All/*.tgz,
 * pkg_summary.gz (the `pkg_info -X` records of every package) and SHA512
 * (`cksum -a sha512` lines of every package file).
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { promisify } from "node:util";
import { readdir, readFile, rename, writeFile, stat } from "node:fs/promises";
import { join } from "node:path";
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
}

export interface IndexOptions {
  /** Package files to leave out (RESTRICTED, NO_BIN_ON_FTP). */
  readonly exclude?: ReadonlySet<string>;
  /** A real `pkg_info` on the master: its `pkg_info -X` writes the records instead of herd. */
  readonly pkgInfo?: string;
  /**
   * A file keeping each package file's record and SHA512 by its size and mtime: a
   * full build's 23,000 packages are read, unpacked and hashed again only when
   * they changed (5 s at the end of every build otherwise).
   */
  readonly cache?: string;
}

/** A package file's record and SHA512, valid while its size and mtime stay. */
type CachedEntry = [size: number, mtimeMs: number, sha512: string, record: string];

interface IndexCache {
  readonly via: string;
  readonly files: Record<string, CachedEntry>;
}

async function readCache(file: string | undefined, via: string): Promise<Map<string, CachedEntry>> {
  if (file === undefined) return new Map();
  try {
    const c = JSON.parse(await readFile(file, "utf8")) as IndexCache;
    return c.via === via ? new Map(Object.entries(c.files)) : new Map();
  } catch {
    return new Map();
  }
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
  const via = opts.pkgInfo === undefined || opts.pkgInfo === "" ? "herd" : opts.pkgInfo;
  const cached = await readCache(opts.cache, via);
  const files2: Record<string, CachedEntry> = {};
  for (const f of files) {
    const st = await stat(join(all, f));
    let entry = cached.get(f);
    if (entry === undefined || entry[0] !== st.size || entry[1] !== st.mtimeMs) {
      const data = await readFile(join(all, f));
      const rec = via === "herd" ? summaryRecord(f, data) : await pkgInfoRecord(via, all, f);
      if (!rec.ok) {
        problems.push(rec.message);
        continue;
      }
      const digest = createHash("sha512").update(data).digest("hex");
      entry = [st.size, st.mtimeMs, digest, rec.record];
    }
    files2[f] = entry;
    summary += entry[3];
    sha += `SHA512 (All/${f}) = ${entry[2]}\n`;
  }
  await atomicWrite(join(all, "pkg_summary.gz"), gzipSync(summary));
  await atomicWrite(join(packagesDir, "SHA512"), Buffer.from(sha));
  if (opts.cache !== undefined)
    await atomicWrite(opts.cache, Buffer.from(JSON.stringify({ via, files: files2 })));
  return { packages: files.length - problems.length, problems };
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

async function atomicWrite(path: string, data: Buffer): Promise<void> {
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
