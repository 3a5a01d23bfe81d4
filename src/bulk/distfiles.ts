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
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream, existsSync, statSync } from "node:fs";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { Client as FtpClient } from "basic-ftp";
import { Digests, mismatch, parseDistinfo, siteUrl, type DistinfoEntry } from "../core/distinfo.js";
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

// Each expression gives one line. Sites are joined by commas (:ts,), a file from its sites by "|".
const EACH = "@f@${f}|${SITES.${f:T:S/=/--/}:ts,}@";
const LINES: readonly (readonly [string, ...string[]])[] = [
  ["DISTDIR"],
  ["DISTINFO_FILE"],
  ["_DISTFILES:" + EACH, "_PATCHFILES:" + EACH],
  ["_MASTER_SITE_BACKUP:ts,"],
];

/** The make arguments that ask a package directory for its distfiles (four lines of output). */
export const DISTFILE_QUERY: readonly string[] = LINES.flatMap((l) => [
  "-V",
  l.map((e) => "${" + e + "}").join(" "),
]);

/**
 * With `distfiles: "master"` the scan learns each package's distfiles in the
 * same make run as pbulk-index, so the master can fetch them while the scan
 * and the build go on: the scan reads this makefile after the package's
 * Makefile and makes target herd-distfiles after pbulk-index. It prints
 * SCAN_MARK and then the four lines DISTFILE_QUERY gives. It is a printf
 * format (\\n, \\t): an argv word holds no newline.
 */
export const SCAN_MARK = "#herd-distfiles";
export const SCAN_MK =
  "# herd: the package's distfiles and their sites, after pbulk-index (read by the master)\\n" +
  ".PHONY: herd-distfiles\\n" +
  "herd-distfiles:\\n" +
  `\\t@echo '${SCAN_MARK}'; ` +
  LINES.map((l) => "echo " + l.map((e) => "${" + e + ":Q}").join(" ")).join("; ") +
  "\\n";

/** The makefile's name on a host: its content's digest, so an old one is never used. */
export function scanMkName(): string {
  return `herd-distfiles-${createHash("sha256").update(SCAN_MK).digest("hex").slice(0, 12)}.mk`;
}

/**
 * The scan's argv (`distfiles: "master"`): writes the makefile at `mk` (as
 * SCAN_MK, escapes and all, is a printf format) unless it is there, then runs
 * `make -f Makefile -f MK pbulk-index herd-distfiles`.
 */
export function scanArgv(make: string, mk: string): string[] {
  return [
    "sh",
    "-c",
    'f=$1; m=$2; shift 2; [ -f "$f" ] || { printf "$m" >"$f.$$" && mv "$f.$$" "$f"; } || exit 1; exec "$@"',
    "herd-scan",
    mk,
    SCAN_MK,
    make,
    "-f",
    "Makefile",
    "-f",
    mk,
    "pbulk-index",
    "herd-distfiles",
  ];
}

/** Splits a scan's output into the pbulk-index records and the distfile query after SCAN_MARK. */
export function splitScanOutput(out: Buffer): { records: Buffer; query: string | null } {
  const mark = out.lastIndexOf(`${SCAN_MARK}\n`);
  if (mark < 0 || (mark > 0 && out[mark - 1] !== 0x0a)) return { records: out, query: null };
  return {
    records: out.subarray(0, mark),
    query: out.subarray(mark + SCAN_MARK.length + 1).toString("latin1"),
  };
}

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

/**
 * The query with its DISTINFO_FILE said as the master's tree says it (a
 * scan's answer is kept, and used, whichever host gave it).
 */
export function rebaseQuery(query: string, hostTree: string, masterTree: string): string {
  const lines = query.split("\n");
  const from = hostTree.replace(/\/+$/, "") + "/";
  const d = lines[1];
  if (d !== undefined && d.startsWith(from))
    lines[1] = masterTree.replace(/\/+$/, "") + "/" + d.slice(from.length);
  return lines.join("\n");
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
  readonly #inflight = new Map<string, Promise<Result<string, string>>>();
  readonly #failed = new Map<string, string>();
  readonly #distinfo = new Map<string, Result<Map<string, DistinfoEntry>, string>>();
  readonly #abort = new AbortController();
  /** Bytes received from the sites by this process. */
  bytesFetched = 0;
  /** Seconds during which at least one download ran (for the fetch rate). */
  #busySince: number | null = null;
  #busySeconds = 0;
  #active = 0;

  constructor(o: DistCacheOptions) {
    this.#o = o;
    this.#gate = new Gate(o.jobs);
  }

  /** Bytes per second over the time something was downloading; null before any download. */
  rate(): number | null {
    const busy =
      this.#busySeconds +
      (this.#busySince === null ? 0 : performance.now() / 1000 - this.#busySince);
    return busy > 0.5 && this.bytesFetched > 0 ? this.bytesFetched / busy : null;
  }

  /** Stops every download in flight (the build is over or stopped). */
  close(): void {
    this.#abort.abort();
  }

  /** What distinfo says of a file (for sizes ahead of a download), or undefined. */
  async expected(name: string, distinfo: string): Promise<DistinfoEntry | undefined> {
    const e = await this.#entries(distinfo);
    return e.ok ? e.value.get(name) : undefined;
  }

  /** Whether a file is known good, or at least present, in the cache. */
  present(name: string): boolean {
    return this.#good.has(name) || existsSync(join(this.#o.dir, name));
  }

  async #download(url: string, part: string): Promise<Result<number, string>> {
    if (this.#active++ === 0) this.#busySince = performance.now() / 1000;
    try {
      return await download(url, part, this.#o.timeoutSeconds ?? 3600, this.#abort.signal, (n) => {
        this.bytesFetched += n;
      });
    } finally {
      if (--this.#active === 0 && this.#busySince !== null) {
        this.#busySeconds += performance.now() / 1000 - this.#busySince;
        this.#busySince = null;
      }
    }
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
  async ensure(file: Distfile, distinfo: string): Promise<Result<string, string>> {
    const got = this.#good.get(file.name);
    if (got !== undefined) return ok(got);
    const entries = await this.#entries(distinfo);
    if (!entries.ok) return entries;
    const want = entries.value.get(file.name);
    // (parseDistinfo refuses algorithms herd cannot compute: any digest listed is checked.)
    if (want === undefined || want.digests.size === 0)
      return err(`${distinfo} lists no checksum for ${file.name} (run make makesum)`);
    // A file no site served is not fetched again by this master (the sites were all tried).
    const failed = this.#failed.get(file.name);
    if (failed !== undefined) return err(failed);
    let p = this.#inflight.get(file.name);
    if (p === undefined) {
      p = this.#obtain(file, want);
      this.#inflight.set(file.name, p);
      void p.then((r) => {
        this.#inflight.delete(file.name);
        if (!r.ok && !this.#abort.signal.aborted) this.#failed.set(file.name, r.error);
      });
    }
    return p;
  }

  async #obtain(file: Distfile, want: DistinfoEntry): Promise<Result<string, string>> {
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
      if (this.#abort.signal.aborted) return err("the build stopped before it was fetched");
      // A part left by an earlier master is continued, not trusted: if the whole fails
      // verification it is fetched once more from the start before the site counts as bad.
      const resumed = existsSync(part) && statSync(part).size > 0;
      let r = await this.#gate.run(() => this.#download(url, part));
      let bad = r.ok ? await verify(part, want) : null;
      // (A site that does not serve the file leaves the part for the next site to continue.)
      if (resumed && bad !== null) {
        this.#o.onNote?.(
          `distfile ${file.name}: the partial download continued from an earlier run was wrong (${bad}); fetched again from the start`,
        );
        await rm(part, { force: true });
        r = await this.#gate.run(() => this.#download(url, part));
        bad = r.ok ? await verify(part, want) : null;
      }
      if (!r.ok) {
        tried.push(`${url}: ${r.error}`);
        continue;
      }
      if (bad !== null) {
        await rm(part, { force: true });
        tried.push(`${url}: ${bad}`);
        // A damaged file is deleted and the next site tried once (as distbb does), then it fails.
        if (++mismatches >= 2) break;
        continue;
      }
      await rename(part, dest);
      this.#good.set(file.name, dest);
      return ok(dest);
    }
    if (file.sites.length === 0)
      return err(
        `no site for ${file.name} (MASTER_SITES is empty) and it is not in ${this.#o.dir}`,
      );
    return err(`could not fetch ${file.name}: ${tried.join("; ")}`);
  }
}

/** Downloads `url` into `part`, continuing a partial file; the bytes received. */
async function download(
  url: string,
  part: string,
  timeoutSeconds: number,
  stop: AbortSignal,
  got: (bytes: number) => void,
): Promise<Result<number, string>> {
  const have = existsSync(part) ? statSync(part).size : 0;
  if (url.startsWith("ftp://")) return downloadFtp(url, part, have, timeoutSeconds, stop, got);
  let res: Response;
  try {
    res = await fetch(url, {
      headers: have > 0 ? { Range: `bytes=${have}-` } : {},
      redirect: "follow",
      signal: AbortSignal.any([AbortSignal.timeout(timeoutSeconds * 1000), stop]),
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
  body.on("data", (d: Buffer) => {
    n += d.length;
    got(d.length);
  });
  try {
    await pipeline(body, createWriteStream(part, { flags: append ? "a" : "w" }));
  } catch (e) {
    return err(`transfer broke after ${n} bytes: ${(e as Error).message}`);
  }
  return ok(n);
}

/**
 * Downloads an ftp:// URL (anonymous unless the URL names a user) into
 * `part`, continuing from byte `have` with REST; the bytes received.
 */
async function downloadFtp(
  url: string,
  part: string,
  have: number,
  timeoutSeconds: number,
  stop: AbortSignal,
  got: (bytes: number) => void,
): Promise<Result<number, string>> {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return err(`not a URL: ${url}`);
  }
  // basic-ftp's timeout is per reply; the whole download is bounded here.
  const client = new FtpClient(60_000);
  const end = (): void => {
    client.close();
  };
  const timer = setTimeout(end, timeoutSeconds * 1000);
  stop.addEventListener("abort", end, { once: true });
  let n = 0;
  let last = 0;
  try {
    await client.access({
      host: u.hostname.replace(/^\[|\]$/g, ""),
      port: u.port === "" ? 21 : Number(u.port),
      user: u.username === "" ? "anonymous" : decodeURIComponent(u.username),
      password: u.password === "" ? "herd@" : decodeURIComponent(u.password),
    });
    client.trackProgress((info) => {
      const d = info.bytes - last;
      last = info.bytes;
      if (d > 0) {
        n += d;
        got(d);
      }
    });
    await client.downloadTo(part, decodeURIComponent(u.pathname), have);
    return ok(n);
  } catch (e) {
    if (stop.aborted) return err("the build stopped");
    const code = (e as { code?: unknown }).code;
    const msg = (e as Error).message.split("\n")[0] ?? "";
    return err(
      n > 0
        ? `transfer broke after ${n} bytes: ${msg}`
        : typeof code === "number"
          ? `FTP ${msg}`
          : msg,
    );
  } finally {
    clearTimeout(timer);
    stop.removeEventListener("abort", end);
    client.close();
  }
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
