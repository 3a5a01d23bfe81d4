/**
 * A build host's prefix (LOCALBASE) and how every build starts from a clean
 * one. By default the prefix is the agent's own ROOT/pkg, emptied by Init.
 * A real pkgsrc bootstrap compiles its prefix into bmake and the pkg tools,
 * so the config may name it (`localbase`); Init then empties that directory
 * and, given a bootstrap kit (a tar of the pristine prefix, as pbulk's
 * `bootstrapkit`), unpacks the kit into it again. The kit is shipped to each
 * host once and kept in its cache directory.
 */
import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import type { AgentConnection } from "../hosts/connection.js";
import type { Prepare } from "../hosts/pool.js";
import { err, ok, type Result } from "../protocol/result.js";
import { HOST } from "./layout.js";

export interface PrefixConfig {
  /** Absolute LOCALBASE on the hosts; "" for the agent's ROOT/pkg. */
  readonly localbase: string;
  /** Absolute PKG_DBDIR; "" for the default (see pkgDbDirOf). */
  readonly pkgDbDir: string;
  /** The kit's tar file on the master; "" for none. */
  readonly bootstrapKit: string;
}

/** LOCALBASE as the host sees it. */
export function localbaseOf(c: PrefixConfig, root: string): string {
  return c.localbase === "" ? `${root}/${HOST.prefix}` : c.localbase;
}

/**
 * PKG_DBDIR to pass, or undefined to pass none: with a bootstrap's prefix the
 * bootstrap's mk.conf and its pkg tools already agree on one.
 */
export function pkgDbDirOf(c: PrefixConfig, root: string): string | undefined {
  if (c.pkgDbDir !== "") return c.pkgDbDir;
  return c.localbase === "" ? `${root}/${HOST.pkgdb}` : undefined;
}

export interface Kit {
  /** The tar file on the master. */
  readonly file: string;
  readonly sha256: string;
  /** Where the host keeps it, relative to its agent root. */
  readonly hostFile: string;
}

const kits = new Map<string, Kit>();

/** The bootstrap kit of a config (its digest read once per file version), or null. */
export function kitOf(c: PrefixConfig): Result<Kit | null, string> {
  if (c.bootstrapKit === "") return ok(null);
  let key: string;
  try {
    const st = statSync(c.bootstrapKit);
    key = `${c.bootstrapKit}\0${st.size}\0${st.mtimeMs}`;
  } catch {
    return err(`the bootstrap kit ${c.bootstrapKit} cannot be read`);
  }
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

/** The Init stage's argv: an empty prefix (or the pristine kit), fresh work directories. */
export function initArgv(c: PrefixConfig, kit: Kit | null): readonly string[] {
  if (c.localbase === "")
    return [
      "sh",
      "-c",
      'rm -rf -- "$1" "$4" && mkdir -p -- "$1" "$2" "$3/All" "$4" "$5"',
      "herd-init",
      HOST.prefix,
      HOST.pkgdb,
      HOST.packages,
      HOST.work,
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
    HOST.work,
    `${HOST.packages}/All`,
    HOST.cache,
  ];
}

/** Sends the kit to the host unless `sent` says it has it. */
export async function shipKit(
  conn: AgentConnection,
  kit: Kit,
  sent: Set<string>,
): Promise<Result<string, { lost: boolean; message: string }>> {
  const key = `bootstrap-kit:${kit.sha256}`;
  if (sent.has(key)) return ok("");
  const put = await conn.put(kit.hostFile, { file: kit.file });
  if (!put.ok) return err({ lost: put.error.reason === "lost", message: put.error.message });
  sent.add(key);
  return ok(`sent ${kit.hostFile} (${put.value.size} bytes, cksum ${put.value.crc})\n`);
}

/**
 * The pool's preparation step for a configured prefix: before a host scans
 * or builds anything, its prefix holds the pristine kit (a local host in a
 * sandbox starts with an empty private prefix, without even bmake).
 */
export function prefixPrepare(c: PrefixConfig): Prepare {
  return async (conn) => {
    const k = kitOf(c);
    if (!k.ok) return err(k.error);
    const kit = k.value;
    if (c.localbase === "" || kit === null) return ok("");
    const shipped = await shipKit(conn, kit, new Set());
    if (!shipped.ok) return err(`sending the bootstrap kit failed: ${shipped.error.message}`);
    const r = await conn.run({ argv: initArgv(c, kit) });
    if (!r.ok) return err(`resetting the prefix failed: ${r.error.message}`);
    if (r.value.status !== 0)
      return err(
        `resetting the prefix ${c.localbase} failed (status ${r.value.status}): ${r.value.output.toString().trim().slice(-300)}`,
      );
    return ok(`prefix ${c.localbase} reset from the bootstrap kit`);
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
