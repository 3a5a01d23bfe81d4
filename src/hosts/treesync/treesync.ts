/**
 * Tree sync gated by a uuid (the SyncPkgsrcTree step). The master's tree
 * carries a tree id file, rewritten (`herd tree stamp`) after every update.
 * A host whose copy holds the same id is skipped with no tree data sent. A
 * host with an older copy removes its id, lists the copy (find + cksum) and
 * receives a tar stream of what changed plus a list of what to remove; a
 * host without a copy receives the whole tree, unpacked beside and swapped
 * in. An ssh host where both ends have rsync gets rsync instead, over the
 * same ssh connection. The id file is written last, so an interrupted sync
 * is redone.
 */
import { randomUUID } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { err, ok, type Result } from "../../protocol/result.js";
import type { AgentConnection, RequestFailure, TaskResult } from "../connection.js";
import { getBuffer } from "../get.js";
import type { HostConfig, Prepare } from "../pool.js";
import { tarTree } from "../tar.js";
import {
  formatManifest,
  HOST_MANIFEST,
  isInsidePath,
  parseHostManifest,
  planDelta,
  type DeltaPlan,
  type TreeManifest,
} from "./treedelta.js";
import { masterManifest, tarPaths, type DeltaStats, type TreeFilter } from "./treemanifest.js";
import { masterHasRsync, rsyncArgv, runRsync, type RsyncRoute } from "./rsync.js";
import { SshTransport } from "../ssh.js";

/** The tree id file at the root of a pkgsrc tree: one uuid and a newline. */
export const TREE_ID_FILE = ".herd-tree-id";

/** Left out of every sync: build and output directories, VCS data. */
export const SYNC_EXCLUDE_NAMES: readonly string[] = ["work", ".git", "CVS", ".svn"];
export const SYNC_EXCLUDE_TOP: readonly string[] = ["distfiles", "packages"];

/** Writes a fresh tree id at the root of `tree` and returns it. */
export function stampTree(tree: string): string {
  const id = randomUUID();
  const tmp = join(tree, `${TREE_ID_FILE}.tmp`);
  writeFileSync(tmp, `${id}\n`);
  renameSync(tmp, join(tree, TREE_ID_FILE));
  return id;
}

/** The tree id of a tree on the master, or null when it was never stamped. */
export function readTreeId(tree: string): string | null {
  try {
    const id = readFileSync(join(tree, TREE_ID_FILE), "utf8").trim();
    return id === "" ? null : id;
  } catch {
    return null;
  }
}

export interface SyncReport {
  readonly skipped: boolean;
  /**
   * none: the id matched; full: the whole tree; delta: what changed (tar),
   * from the host's listing; known: the same, from the master's listing of
   * the host's id (the host listed nothing); rsync.
   */
  readonly method: "none" | "full" | "delta" | "known" | "rsync";
  /** Bytes of tree data sent (the tar stream and the deletion list); 0 when skipped. */
  readonly bytes: number;
  /** Bytes received from the host: its listing (tar), or what rsync received. */
  readonly received: number;
  /** Files sent. */
  readonly files: number;
  /** Entries removed from the host's copy (a removed directory counts once). */
  readonly removed: number;
  /** Why rsync was not used although it was asked for. */
  readonly note?: string;
}

export interface SyncOptions {
  /** The master's tree. */
  readonly tree: string;
  /** Its id (readTreeId). */
  readonly id: string;
  /** Where the copy lives on the host; relative to the agent root. */
  readonly dest: string;
  /** Sync by rsync over this route (the tar delta if it fails). */
  readonly rsync?: RsyncRoute;
  /**
   * A directory on the master keeping the listing of the tree as it was at
   * each recent id. A host whose copy holds an older id that is listed there
   * is not asked to list its copy (find + cksum over every file, minutes on a
   * slow host): its copy is that tree, as a matching id already vouches for.
   */
  readonly manifests?: string;
}

/** Tree ids as herd writes them (a host's answer names a file on the master). */
const ID_FORMAT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Listings kept in `manifests`, the newest first: enough for hosts a few updates behind. */
const KEEP_MANIFESTS = 4;

function savedManifest(dir: string, id: string): TreeManifest | null {
  if (!ID_FORMAT.test(id)) return null;
  let text: string;
  try {
    text = readFileSync(join(dir, id), "utf8");
  } catch {
    return null;
  }
  const m = parseHostManifest(text);
  return m.ok ? m.value : null;
}

function saveManifest(dir: string, id: string, m: TreeManifest): void {
  if (!ID_FORMAT.test(id)) return;
  try {
    mkdirSync(dir, { recursive: true });
    const tmp = join(dir, `${id}.tmp`);
    writeFileSync(tmp, formatManifest(m));
    renameSync(tmp, join(dir, id));
    const old = readdirSync(dir)
      .filter((f) => ID_FORMAT.test(f))
      .map((f) => ({ f, t: statSync(join(dir, f)).mtimeMs }))
      .sort((a, b) => b.t - a.t)
      .slice(KEEP_MANIFESTS);
    for (const { f } of old) rmSync(join(dir, f), { force: true });
  } catch {
    // Only a shortcut for the next sync: without it the host lists its copy.
  }
}

/**
 * Lists the tree once per id, however many hosts find their copy current at
 * once: a hundred hosts dialling in together each walked the whole tree.
 */
const remembering = new Map<string, Promise<void>>();
function rememberManifest(dir: string, id: string, tree: string): Promise<void> {
  const key = `${dir}\0${id}`;
  let p = remembering.get(key);
  if (p === undefined) {
    p = masterManifest(tree, FILTER).then(
      (m) => {
        saveManifest(dir, id, m);
      },
      () => undefined,
    );
    remembering.set(key, p);
    void p.then(() => remembering.delete(key));
  }
  return p;
}

const FILTER: TreeFilter = {
  excludeNames: SYNC_EXCLUDE_NAMES,
  excludeTop: SYNC_EXCLUDE_TOP,
  excludePaths: [TREE_ID_FILE, `${TREE_ID_FILE}.tmp`],
};

// The unpack step as the host runs it: argv words only, nothing evaluated.
const UNPACK = [
  "set -e",
  'd=$1; t=$2; case $t in /*) ;; *) t=$PWD/$t ;; esac; rm -rf "$d.herd-new" "$d.herd-old"; mkdir -p "$d.herd-new"',
  '(cd "$d.herd-new" && tar xf "$t")',
  'if [ -d "$d" ]; then mv "$d" "$d.herd-old"; fi',
  'mv "$d.herd-new" "$d"; rm -rf "$d.herd-old" "$t"',
].join("; ");

// The delta step: remove the listed paths (checked again here: relative, no
// "." or ".." component), in batches, then unpack what changed over the copy.
const APPLY = [
  "set -e",
  "d=$1; t=$2; l=$3",
  "case $t in /*) ;; *) t=$PWD/$t ;; esac",
  "case $l in /*) ;; *) l=$PWD/$l ;; esac",
  'cd "$d"; rm -f .herd-tree-id; set --',
  'while IFS= read -r p; do case /$p/ in //|*/../*|*/./*|*//*) echo "refusing to remove $p" >&2; exit 1 ;; esac; set -- "$@" "./$p"; if [ $# -ge 64 ]; then rm -rf "$@"; set --; fi; done <"$l"',
  'if [ $# -gt 0 ]; then rm -rf "$@"; fi',
  'tar xf "$t"; rm -f "$t" "$l"',
].join("; ");

function failed(what: string, r: Result<TaskResult, RequestFailure>): string | null {
  if (!r.ok) return `${what} failed: ${r.error.message}`;
  if (r.value.status === 0) return null;
  const out = Buffer.concat([r.value.output, r.value.stderr]).toString().trim();
  return `${what} failed (status ${r.value.status}): ${out.slice(-2000)}`;
}

async function sendFull(
  conn: AgentConnection,
  opts: SyncOptions,
  dest: string,
): Promise<Result<SyncReport, string>> {
  const stats = { files: 0, dirs: 0, links: 0, bytes: 0 };
  const tarFile = `${dest}.herd-sync.tar`;
  const put = await conn.put(tarFile, tarTree(opts.tree, { ...FILTER, stats }));
  if (!put.ok) return err(`sending the tree failed: ${put.error.message}`);
  const unpack = await conn.run({ argv: ["sh", "-c", UNPACK, "herd-sync", dest, tarFile] });
  const why = failed("unpacking the tree", unpack);
  if (why !== null) return err(why);
  return ok({
    skipped: false,
    method: "full",
    bytes: put.value.size,
    received: 0,
    files: stats.files,
    removed: 0,
  });
}

async function sendDelta(
  conn: AgentConnection,
  opts: SyncOptions,
  dest: string,
  plan: DeltaPlan,
): Promise<Result<SyncReport, string>> {
  if (!plan.remove.every(isInsidePath)) throw new Error("bug: a path to remove escapes the tree");
  const listFile = `${dest}.herd-sync.del`;
  const tarFile = `${dest}.herd-sync.tar`;
  const list = await conn.put(listFile, Buffer.from(plan.remove.map((p) => `${p}\n`).join("")));
  if (!list.ok) return err(`sending the deletion list failed: ${list.error.message}`);
  const stats: DeltaStats = { files: 0, dirs: 0, links: 0, bytes: 0 };
  const put = await conn.put(tarFile, tarPaths(opts.tree, plan.send, stats));
  if (!put.ok) return err(`sending the changes failed: ${put.error.message}`);
  const apply = await conn.run({
    argv: ["sh", "-c", APPLY, "herd-sync", dest, tarFile, listFile],
  });
  const why = failed("applying the changes", apply);
  if (why !== null) return err(why);
  return ok({
    skipped: false,
    method: "delta",
    bytes: list.value.size + put.value.size,
    received: 0,
    files: stats.files,
    removed: plan.remove.length,
  });
}

/**
 * Brings the host's copy of the tree up to date, unless its id already
 * matches: a host with a copy lists it and gets what changed, any other
 * host the whole tree. The id is written last.
 */
export async function syncTree(
  conn: AgentConnection,
  opts: SyncOptions,
): Promise<Result<SyncReport, string>> {
  const dest = opts.dest.replace(/\/+$/, "");
  const theirs = await getBuffer(conn, `${dest}/${TREE_ID_FILE}`);
  if (theirs.ok && theirs.value.toString().trim() === opts.id) {
    // Remember this tree's listing for when it changes (once per id; the master's CRCs are memoized).
    if (opts.manifests !== undefined && !existsSync(join(opts.manifests, opts.id)))
      await rememberManifest(opts.manifests, opts.id, opts.tree);
    return ok({ skipped: true, method: "none", bytes: 0, received: 0, files: 0, removed: 0 });
  }
  if (!theirs.ok && theirs.error.reason !== "rejected") return err(theirs.error.message);
  const hostId = theirs.ok ? theirs.value.toString().trim() : null;

  let sent: Result<SyncReport, string> | undefined;
  let note: string | undefined;
  if (opts.rsync !== undefined) {
    const r = await sendRsync(conn, opts, dest, opts.rsync);
    if (r.ok) sent = r;
    else note = `rsync failed, sent by tar: ${r.error}`;
  }
  sent ??= await sendTar(conn, opts, dest, hostId);
  if (!sent.ok) return sent;
  const idPut = await conn.put(`${dest}/${TREE_ID_FILE}`, Buffer.from(`${opts.id}\n`));
  if (!idPut.ok) return err(`writing the tree id failed: ${idPut.error.message}`);
  return ok(note === undefined ? sent.value : { ...sent.value, note });
}

/** The tar way: the host lists its copy and gets what changed, or the whole tree. */
async function sendTar(
  conn: AgentConnection,
  opts: SyncOptions,
  dest: string,
  hostId: string | null,
): Promise<Result<SyncReport, string>> {
  // The master lists its tree while the host lists its copy.
  const mine = masterManifest(opts.tree, FILTER).then(
    (m) => {
      if (opts.manifests !== undefined) saveManifest(opts.manifests, opts.id, m);
      return ok(m);
    },
    (e: unknown) => err(e instanceof Error ? e.message : String(e)),
  );
  // The host's copy is the tree of an id whose listing the master kept: no listing asked.
  const known =
    opts.manifests === undefined || hostId === null ? null : savedManifest(opts.manifests, hostId);
  if (known !== null) {
    const master = await mine;
    if (!master.ok) return err(`listing the tree ${opts.tree} failed: ${master.error}`);
    const sent = await sendDelta(conn, opts, dest, planDelta(master.value, known));
    return sent.ok ? ok({ ...sent.value, method: "known" }) : sent;
  }
  const listing = await conn.run({
    argv: ["sh", "-c", HOST_MANIFEST, "herd-manifest", dest],
    output: "split",
  });
  if (!listing.ok) {
    await mine;
    return err(`listing the host's copy failed: ${listing.error.message}`);
  }
  // No copy, or one that cannot be listed exactly: the whole tree replaces it.
  const host =
    listing.value.status === 0
      ? parseHostManifest(listing.value.output.toString())
      : err(`status ${listing.value.status}`);
  const master = await mine;
  if (!master.ok) return err(`listing the tree ${opts.tree} failed: ${master.error}`);
  const sent = host.ok
    ? await sendDelta(conn, opts, dest, planDelta(master.value, host.value))
    : await sendFull(conn, opts, dest);
  return sent.ok ? ok({ ...sent.value, received: listing.value.output.length }) : sent;
}

async function sendRsync(
  conn: AgentConnection,
  opts: SyncOptions,
  dest: string,
  route: RsyncRoute,
): Promise<Result<SyncReport, string>> {
  const argv = rsyncArgv(opts.tree, dest, route, FILTER);
  if (argv === null) return err("the ssh options cannot be passed to rsync -e");
  const prep = await conn.run({
    argv: ["sh", "-c", 'rm -f "$1/$2" && mkdir -p "$1"', "herd-sync", dest, TREE_ID_FILE],
  });
  const why = failed("preparing the copy", prep);
  if (why !== null) return err(why);
  const r = await runRsync(argv);
  if (!r.ok) return r;
  return ok({ skipped: false, method: "rsync", ...r.value });
}

/** rsync over a host's own ssh connection, when the host is reached by ssh and both ends have it. */
export function rsyncRouteFor(conn: AgentConnection, host: HostConfig): RsyncRoute | undefined {
  const remote = conn.info.tools.get("rsync");
  if (!(host.transport instanceof SshTransport) || remote === undefined || !masterHasRsync())
    return undefined;
  const { argv, destination } = host.transport.sshCommand();
  return { ssh: argv, destination, remoteRsync: remote, root: conn.info.root };
}

/** Where a host keeps its tree, and whether herd syncs it (no: it is shared, e.g. over NFS). */
export interface HostTree {
  readonly dest: string;
  readonly sync: boolean;
  /** false: never rsync, always the tar stream (default: rsync where possible). */
  readonly rsync?: boolean;
}

/**
 * The pool's "syncing" step for a master tree: `id()` is read at every sync,
 * so a restamped tree reaches hosts after HostPool.resync().
 */
export function treeSyncPrepare(
  tree: string,
  hostTree: (host: HostConfig) => HostTree,
  manifests?: string,
): Prepare {
  return async (conn, host) => {
    const where = hostTree(host);
    if (!where.sync) return ok("");
    const id = readTreeId(tree);
    if (id === null)
      return err(`the tree ${tree} has no ${TREE_ID_FILE}; run herd tree stamp --tree ${tree}`);
    const rsync = where.rsync === false ? undefined : rsyncRouteFor(conn, host);
    const r = await syncTree(conn, {
      tree,
      id,
      dest: where.dest,
      ...(rsync ? { rsync } : {}),
      ...(manifests === undefined ? {} : { manifests }),
    });
    if (!r.ok) return r;
    const v = r.value;
    return ok(
      v.skipped
        ? `tree ${id} already there, not synced`
        : `tree ${id} synced: ${v.method}, ${v.files} files, ${v.bytes} bytes, ${v.removed} removed${v.note === undefined ? "" : ` (${v.note})`}`,
    );
  };
}
