/**
 * Distfiles over herd's own channel (`distfiles: "master"`): the master
 * fetches each distfile once into its DISTDIR cache, verifies it against the
 * package's distinfo, and ships it to the hosts that build the package, so a
 * build host needs no network and no NFS.
 *
 * Which distfiles and which sites is asked of the host that builds the
 * package (`bmake -V`, in its own tree copy, in the slot's sandbox): pkgsrc
 * chooses distfiles per platform (`.if ${OPSYS} == ...`, bootstrap binaries
 * per MACHINE_ARCH), and only the host's make sees the host's platform. What
 * they must be is read from the master's copy of the tree (the host's is the
 * same tree id), so a host cannot vouch for a file itself.
 *
 * A file is trusted only once its size and every digest distinfo lists
 * match. A download in progress is kept as NAME.part and continued with a
 * Range request after a restart; the whole file is verified at the end, so a
 * partial or damaged file never passes.
 */
import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import {
  Digests,
  checkable,
  mismatch,
  parseDistinfo,
  siteUrl,
  type DistinfoEntry,
} from "../core/distinfo.js";
import { err, ok, type Result } from "../protocol/result.js";

/** One distfile of a package, as the host's make names it. */
export interface Distfile {
  /** As `_DISTFILES` spells it: DIST_SUBDIR/file or file. */
  readonly name: string;
  /** Its sites, in pkgsrc's order (SITES.file, then MASTER_SITE_BACKUP). */
  readonly sites: readonly string[];
}

/** What the host's make says about a package's distfiles. */
export interface DistfileQuery {
  /** The host's DISTDIR (absolute, on the host). */
  readonly distdir: string;
  /** The package's distinfo file, on the host. */
  readonly distinfo: string;
  readonly files: readonly Distfile[];
}

// Each -V prints one line. Sites are joined by commas (:ts,), a file from its sites by "|".
const EACH = "@f@${f}|${SITES.${f:T:S/=/--/}:ts,}@";

/** The make arguments that ask a package directory for its distfiles (four lines of output). */
export const DISTFILE_QUERY: readonly string[] = [
  "-V",
  "${DISTDIR}",
  "-V",
  "${DISTINFO_FILE}",
  "-V",
  "${_DISTFILES:" + EACH + "} ${_PATCHFILES:" + EACH + "}",
  "-V",
  "${_MASTER_SITE_BACKUP:ts,}",
];

/** A distfile name that stays inside DISTDIR: plain components, no "..". */
function safeName(name: string): boolean {
  return (
    /^[A-Za-z0-9_.,+~%=-][A-Za-z0-9_.,+~%=@/-]*$/.test(name) &&
    !name.split("/").some((c) => c === "" || c === "." || c === "..")
  );
}

/** Parses the query's output; errors say what the host said. */
export function parseDistfileQuery(output: string): Result<DistfileQuery, string> {
  const lines = output.replace(/\n$/, "").split("\n");
  if (lines.length !== 4)
    return err(
      `expected 4 lines from make -V (DISTDIR, DISTINFO_FILE, files, backup sites), got ${lines.length}`,
    );
  const [distdir, distinfo, list, backup] = lines as [string, string, string, string];
  if (!distdir.startsWith("/")) return err(`DISTDIR is not an absolute path: "${distdir}"`);
  const backups = backup.split(",").filter((s) => s !== "");
  const files: Distfile[] = [];
  const seen = new Set<string>();
  for (const word of list.split(/\s+/)) {
    if (word === "") continue;
    const bar = word.indexOf("|");
    const name = bar < 0 ? word : word.slice(0, bar);
    if (!safeName(name)) return err(`unsafe distfile name "${name.slice(0, 100)}"`);
    if (seen.has(name)) continue;
    seen.add(name);
    const subdir = name.includes("/") ? name.slice(0, name.lastIndexOf("/") + 1) : "";
    const sites = [
      ...(bar < 0 ? [] : word.slice(bar + 1).split(",")),
      ...backups.map((b) => b + subdir),
    ].filter((s) => /^(https?|ftp):\/\//.test(s));
    files.push({ name, sites });
  }
  return ok({ distdir, distinfo, files });
}

export interface FetchFailure {
  readonly name: string;
  /** One line: the sites tried and what each said. */
  readonly message: string;
}

export interface DistCacheOptions {
  /** The master's DISTDIR cache. */
  readonly dir: string;
  /** The master's pkgsrc tree (distinfo files are read from it). */
  readonly tree: string;
  /** Downloads at once. */
  readonly jobs: number;
  /** Seconds one download may take. */
  readonly timeoutSeconds?: number;
  /** Called with one line per download event (for the log). */
  readonly onNote?: (line: string) => void;
}

/** A bound on concurrent work: `run` waits for a free place. */
class Gate {
  #free: number;
  readonly #waiting: (() => void)[] = [];
  constructor(n: number) {
    this.#free = Math.max(1, n);
  }
  async run<T>(f: () => Promise<T>): Promise<T> {
    if (this.#free === 0) await new Promise<void>((r) => this.#waiting.push(r));
    else this.#free--;
    try {
      return await f();
    } finally {
      const next = this.#waiting.shift();
      if (next !== undefined) next();
      else this.#free++;
    }
  }
}

/** The master's distfile cache: fetch once, verify, hand out the verified path. */
export class DistCache {
  readonly #o: DistCacheOptions;
  readonly #gate: Gate;
  /** Verified in this process: name → path. */
  readonly #good = new Map<string, string>();
  readonly #inflight = new Map<string, Promise<Result<string, FetchFailure>>>();
  readonly #distinfo = new Map<string, Result<Map<string, DistinfoEntry>, string>>();
  /** Bytes fetched from sites, per name (what the bench reports). */
  readonly fetched = new Map<string, number>();

  constructor(o: DistCacheOptions) {
    this.#o = o;
    this.#gate = new Gate(o.jobs);
  }

  /** The master's copy of a host's distinfo path (same tree id); null when outside the tree. */
  masterDistinfo(hostDistinfo: string, hostTree: string): string | null {
    const prefix = hostTree.endsWith("/") ? hostTree : `${hostTree}/`;
    if (!hostDistinfo.startsWith(prefix)) return null;
    const rel = hostDistinfo.slice(prefix.length);
    if (rel.split("/").some((c) => c === ".." || c === "")) return null;
    return join(this.#o.tree, rel);
  }

  async #entries(file: string): Promise<Result<Map<string, DistinfoEntry>, string>> {
    let r = this.#distinfo.get(file);
    if (r === undefined) {
      let text: string;
      try {
        text = await readFile(file, "utf8");
      } catch {
        return err(`no distinfo ${file} on the master`);
      }
      r = parseDistinfo(text, file);
      this.#distinfo.set(file, r);
    }
    return r;
  }

  /** Makes sure a verified copy of `file` is in the cache; its path there. */
  async ensure(file: Distfile, distinfo: string): Promise<Result<string, FetchFailure>> {
    const fail = (message: string): Result<string, FetchFailure> =>
      err({ name: file.name, message });
    const got = this.#good.get(file.name);
    if (got !== undefined) return ok(got);
    const entries = await this.#entries(distinfo);
    if (!entries.ok) return fail(entries.error);
    const want = entries.value.get(file.name);
    if (want === undefined || !checkable(want))
      return fail(`${distinfo} lists no checksum for ${file.name} (run make makesum)`);
    let p = this.#inflight.get(file.name);
    if (p === undefined) {
      p = this.#obtain(file, want);
      this.#inflight.set(file.name, p);
      void p.finally(() => this.#inflight.delete(file.name));
    }
    return p;
  }

  async #obtain(file: Distfile, want: DistinfoEntry): Promise<Result<string, FetchFailure>> {
    const dest = join(this.#o.dir, file.name);
    // Already in the cache (an earlier build, or an operator's offline copy): verified, not fetched.
    if (existsSync(dest)) {
      const bad = await verify(dest, want);
      if (bad === null) {
        this.#good.set(file.name, dest);
        return ok(dest);
      }
      this.#o.onNote?.(`distfile ${file.name} in the cache is wrong (${bad}): fetched again`);
      await rm(dest, { force: true });
    }
    await mkdir(dirname(dest), { recursive: true });
    const part = `${dest}.part`;
    const tried: string[] = [];
    let mismatches = 0;
    for (const site of file.sites) {
      const url = siteUrl(site, file.name);
      const r = await this.#gate.run(() => download(url, part, this.#o.timeoutSeconds ?? 3600));
      if (!r.ok) {
        tried.push(`${url}: ${r.error}`);
        continue;
      }
      const bad = await verify(part, want);
      if (bad !== null) {
        await rm(part, { force: true });
        tried.push(`${url}: ${bad}`);
        // A damaged file is deleted and the next site tried once (as distbb does), then it fails.
        if (++mismatches >= 2) break;
        continue;
      }
      await rename(part, dest);
      this.fetched.set(file.name, (this.fetched.get(file.name) ?? 0) + r.value);
      this.#good.set(file.name, dest);
      return ok(dest);
    }
    if (file.sites.length === 0)
      return err({
        name: file.name,
        message: `no site for ${file.name} (MASTER_SITES is empty) and it is not in ${this.#o.dir}`,
      });
    return err({ name: file.name, message: `could not fetch ${file.name}: ${tried.join("; ")}` });
  }
}

/** Downloads `url` into `part`, continuing a partial file; the bytes received. */
async function download(
  url: string,
  part: string,
  timeoutSeconds: number,
): Promise<Result<number, string>> {
  if (url.startsWith("ftp://"))
    return err("ftp is not fetched by the master (no ftp client in Node)");
  const have = existsSync(part) ? statSync(part).size : 0;
  let res: Response;
  try {
    res = await fetch(url, {
      headers: have > 0 ? { Range: `bytes=${have}-` } : {},
      redirect: "follow",
      signal: AbortSignal.timeout(timeoutSeconds * 1000),
    });
  } catch (e) {
    const cause = (e as { cause?: { code?: string; message?: string } }).cause;
    return err(cause?.code ?? cause?.message ?? (e as Error).message);
  }
  if (res.status === 416 && have > 0) {
    // The part is already whole (or longer than the file): verification decides.
    await res.body?.cancel();
    return ok(0);
  }
  if (res.status !== 200 && res.status !== 206) {
    await res.body?.cancel();
    return err(`HTTP ${res.status}`);
  }
  if (res.body === null) return err("no body");
  const append = res.status === 206 && have > 0;
  let n = 0;
  const body = Readable.fromWeb(res.body as import("node:stream/web").ReadableStream<Uint8Array>);
  body.on("data", (d: Buffer) => (n += d.length));
  try {
    await pipeline(body, createWriteStream(part, { flags: append ? "a" : "w" }));
  } catch (e) {
    return err(`transfer broke after ${n} bytes: ${(e as Error).message}`);
  }
  return ok(n);
}

/** null when the file is what distinfo says, else what is wrong. */
async function verify(file: string, want: DistinfoEntry): Promise<string | null> {
  const d = new Digests(want.digests.keys());
  try {
    for await (const chunk of createReadStream(file)) d.update(chunk as Buffer);
  } catch (e) {
    return `unreadable: ${(e as Error).message}`;
  }
  return mismatch(want, d.digest());
}
