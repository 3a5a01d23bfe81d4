/**
 * A build slot's prefix (LOCALBASE) and how every build starts from a clean
 * one. By default the prefix is the slot's own ROOT/slots/K/pkg, emptied by
 * Init.
 * A real pkgsrc bootstrap compiles its prefix into bmake and the pkg tools,
 * so the config may name it (`localbase`); Init then empties that directory
 * and, given a bootstrap kit (a tar of the pristine prefix, as pbulk's
 * `bootstrapkit`), unpacks the kit into it again; each slot sees its own
 * copy of that directory through its sandbox (src/hosts/sandbox.ts). The kit
 * is shipped to each host once and kept in its cache directory.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { AgentConnection } from "../hosts/connection.js";
import type { Prepare } from "../hosts/pool.js";
import { inSlot, NO_SANDBOX, slotPaths } from "../hosts/sandbox.js";
import { err, ok, type Result } from "../protocol/result.js";
import type { HostCache } from "./host-cache.js";
import { HOST } from "./layout.js";

export interface PrefixConfig {
  /** Absolute LOCALBASE on the hosts; "" for each slot's ROOT/slots/K/pkg. */
  readonly localbase: string;
  /** Absolute PKG_DBDIR; "" for the default (see pkgDbDirOf). */
  readonly pkgDbDir: string;
  /** The kit's tar file on the master; "" for none. */
  readonly bootstrapKit: string;
}

/** LOCALBASE as slot `slot` of the host sees it. */
export function localbaseOf(c: PrefixConfig, root: string, slot: number): string {
  return c.localbase === "" ? `${root}/${slotPaths(slot).prefix}` : c.localbase;
}

/**
 * PKG_DBDIR to pass, or undefined to pass none: with a bootstrap's prefix the
 * bootstrap's mk.conf and its pkg tools already agree on one.
 */
export function pkgDbDirOf(c: PrefixConfig, root: string, slot: number): string | undefined {
  if (c.pkgDbDir !== "") return c.pkgDbDir;
  return c.localbase === "" ? `${root}/${slotPaths(slot).pkgdb}` : undefined;
}

export interface Kit {
  /** The tar file on the master. */
  readonly file: string;
  readonly sha256: string;
  /** Where the host keeps it, relative to its agent root. */
  readonly hostFile: string;
}

const kits = new Map<string, Kit>();

/**
 * The kit file's version (path, size, mtime; null when it cannot be read),
 * stat'ed once per turn of the event loop: each start asks for the kit twice
 * as its first task is made, and a dispatch round starts hundreds of packages
 * in one turn. A kit replaced during a build is seen from the next turn on.
 */
let statted: { readonly file: string; readonly key: string | null } | undefined;
function kitVersion(file: string): string | null {
  if (statted?.file === file) return statted.key;
  let key: string | null;
  try {
    const st = statSync(file);
    key = `${file}\0${st.size}\0${st.mtimeMs}`;
  } catch {
    key = null;
  }
  statted = { file, key };
  setImmediate(() => {
    statted = undefined;
  }).unref();
  return key;
}

/** The bootstrap kit of a config (its digest read once per file version), or null. */
export function kitOf(c: PrefixConfig): Result<Kit | null, string> {
  if (c.bootstrapKit === "") return ok(null);
  const key = kitVersion(c.bootstrapKit);
  if (key === null) return err(`the bootstrap kit ${c.bootstrapKit} cannot be read`);
  let kit = kits.get(key);
  if (kit === undefined) {
    const sha256 = createHash("sha256").update(readFileSync(c.bootstrapKit)).digest("hex");
    kit = {
      file: c.bootstrapKit,
      sha256,
      hostFile: `${HOST.cache}/bootstrap-kit-${sha256.slice(0, 16)}.tar`,
    };
    kits.set(key, kit);
  }
  return ok(kit);
}

// Init with a configured prefix: LOCALBASE may be a mount point (a local
// host's private view), so it is emptied, never removed.
const RESET = [
  "set -e",
  'lb=$1; db=$2; kit=$3; work=$4; shift 4; rm -rf -- "$work"; mkdir -p -- "$lb" "$work" "$@"',
  '(cd "$lb" && rm -rf -- * .[!.]* ..?*)',
  'if [ -n "$db" ]; then rm -rf -- "$db"; mkdir -p -- "$db"; fi',
  'if [ -n "$kit" ]; then tar -xf "$kit" -C "$lb"; fi',
].join("; ");

/** keepDepends' Init after a build on the slot: fresh work directories, the prefix left as it is. */
export function keptInitArgv(slot: number): readonly string[] {
  const dirs = slotPaths(slot);
  return [
    "sh",
    "-c",
    'rm -rf -- "$1" "$2" && mkdir -p -- "$1" "$2/All" "$3"',
    "herd-init",
    dirs.work,
    dirs.packages,
    HOST.cache,
  ];
}

/** The Init stage's argv for a slot: an empty prefix (or the pristine kit), fresh work directories. */
export function initArgv(c: PrefixConfig, kit: Kit | null, slot: number): readonly string[] {
  const dirs = slotPaths(slot);
  if (c.localbase === "")
    return [
      "sh",
      "-c",
      'rm -rf -- "$1" "$4" && mkdir -p -- "$1" "$2" "$3/All" "$4" "$5"',
      "herd-init",
      dirs.prefix,
      dirs.pkgdb,
      dirs.packages,
      dirs.work,
      HOST.cache,
    ];
  return [
    "sh",
    "-c",
    RESET,
    "herd-init",
    c.localbase,
    c.pkgDbDir,
    kit?.hostFile ?? "",
    dirs.work,
    `${dirs.packages}/All`,
    HOST.cache,
  ];
}

/** Why sending something to a host failed; `lost`: the link went. */
export interface SendFailure {
  readonly lost: boolean;
  readonly message: string;
}

/** The kit's key in a host's cache (HostCache). */
export function kitKey(kit: Kit): string {
  return `bootstrap-kit:${kit.sha256}`;
}

/** Sends the kit to the host unless its cache says it has it. */
export async function shipKit(
  conn: AgentConnection,
  kit: Kit,
  cache: HostCache<SendFailure> | null,
): Promise<Result<string, SendFailure>> {
  const send = (): Promise<Result<string, SendFailure>> =>
    sendFile(conn, kit.file, kit.hostFile, kit.hostFile);
  return cache === null ? send() : cache.ensure(kitKey(kit), send);
}

/** Puts a master file on the host (cksum-checked in transit); "sent LABEL (N bytes, cksum C)". */
export async function sendFile(
  conn: AgentConnection,
  from: string,
  to: string,
  label: string,
): Promise<Result<string, SendFailure>> {
  const put = await conn.put(to, { file: from });
  if (!put.ok) return err({ lost: put.error.reason === "lost", message: put.error.message });
  return ok(`sent ${label} (${put.value.size} bytes, cksum ${put.value.crc})\n`);
}

/**
 * The pool's preparation step for a configured prefix: before a host scans
 * or builds anything, the prefix of each of its slots holds the pristine kit
 * (a slot in a sandbox starts with an empty private prefix, without even
 * bmake).
 */
export function prefixPrepare(c: PrefixConfig): Prepare {
  return async (conn, host) => {
    const k = kitOf(c);
    if (!k.ok) return err(k.error);
    const kit = k.value;
    if (c.localbase === "" || kit === null) return ok("");
    const shipped = await shipKit(conn, kit, null);
    if (!shipped.ok) return err(`sending the bootstrap kit failed: ${shipped.error.message}`);
    for (let slot = 1; slot <= host.slots; slot++) {
      const spec = inSlot(host.sandbox ?? NO_SANDBOX, slot, conn.info.root, {
        argv: initArgv(c, kit, slot),
      });
      const r = await conn.run(spec);
      if (!r.ok) return err(`resetting the prefix of slot ${slot} failed: ${r.error.message}`);
      if (r.value.status !== 0)
        return err(
          `resetting the prefix ${c.localbase} of slot ${slot} failed (status ${r.value.status}): ${r.value.output.toString().trim().slice(-300)}`,
        );
    }
    return ok(
      `prefix ${c.localbase} reset from the bootstrap kit${host.slots > 1 ? ` in ${host.slots} slots` : ""}`,
    );
  };
}

/** Runs preparation steps in order; the first failure stops. */
export function allOf(...steps: readonly Prepare[]): Prepare {
  return async (conn, host) => {
    const notes: string[] = [];
    for (const step of steps) {
      const r = await step(conn, host);
      if (!r.ok) return r;
      if (r.value !== "") notes.push(r.value);
    }
    return ok(notes.join("; "));
  };
}
