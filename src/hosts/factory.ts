/**
 * Hosts-file entries (or `--local N`) to pool members: the transport for
 * each, and where its tree lives.
 */
import { existsSync, lstatSync, mkdirSync, symlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { hostName } from "../core/hostspec.js";
import { err, ok, type Result } from "../protocol/result.js";
import type { HostEntry } from "./hostsfile.js";
import { LocalTransport, shellCommand } from "./local.js";
import type { HostConfig } from "./pool.js";
import { slotSandbox, type SandboxKind } from "./sandbox.js";
import type { Transport } from "./transport.js";

/** Where a host's tree copy lives, relative to its agent root (as the build expects it). */
export const HOST_TREE = "pkgsrc";

export interface FactoryContext {
  /** The master's work directory (local hosts live in WORK/hosts/NAME). */
  readonly work: string;
  /** The master's tree (a local host with sync=no links to it). */
  readonly tree: string;
  /** Builds the transports this module does not know itself (ssh, attach). */
  readonly remote?: (entry: HostEntry) => Result<Transport, string>;
  /**
   * The config's sandbox kind and prefix: each slot of a host sees its own
   * `localbase` (src/hosts/sandbox.ts), unless its line names its own `sandbox=`.
   */
  readonly sandbox?: { readonly kind: SandboxKind; readonly localbase: string };
}

export interface PoolMember {
  readonly config: HostConfig;
  /** False: the host's tree is the master's (shared), never synced. */
  readonly sync: boolean;
}

/** `--local N [--slots K]`: N local hosts named local1..localN. */
export function localEntries(n: number, shell: string | null, slots = 1): HostEntry[] {
  return Array.from({ length: n }, (_, i) => ({
    name: `local${i + 1}`,
    transport: "local" as const,
    address: null,
    slots,
    sandbox: null,
    speed: 1,
    tags: [],
    root: null,
    shell,
    sync: true,
    identity: null,
    knownHosts: null,
    sshOptions: [],
    line: 0,
  }));
}

/** The pool member for one entry, or why it cannot be made. */
export function memberFor(entry: HostEntry, ctx: FactoryContext): Result<PoolMember, string> {
  const sandbox = slotSandbox({
    name: entry.name,
    slots: entry.slots,
    hook: entry.sandbox,
    kind: ctx.sandbox?.kind ?? "none",
    localbase: ctx.sandbox?.localbase ?? "",
  });
  if (!sandbox.ok) return sandbox;
  let transport: Transport;
  if (entry.transport === "local") {
    const root = resolve(entry.address ?? join(ctx.work, "hosts", entry.name));
    if (!entry.sync) {
      const r = linkTree(root, ctx.tree);
      if (!r.ok) return r;
    }
    const shell = shellCommand(entry.shell ?? undefined);
    transport = new LocalTransport({ root, shell });
  } else {
    if (ctx.remote === undefined) return err(`${entry.transport} hosts are not available here`);
    const t = ctx.remote(entry);
    if (!t.ok) return t;
    transport = t.value;
  }
  return ok({
    config: {
      name: hostName(entry.name),
      transport,
      slots: entry.slots,
      speed: entry.speed,
      tags: entry.tags,
      sandbox: sandbox.value,
    },
    sync: entry.sync,
  });
}

/** A local host sharing the master's tree gets ROOT/pkgsrc as a symlink to it. */
function linkTree(root: string, tree: string): Result<null, string> {
  const link = join(root, HOST_TREE);
  mkdirSync(root, { recursive: true });
  if (existsSync(link) || isLink(link)) {
    if (!lstatSync(link).isSymbolicLink())
      return err(`${link} exists and is not a symlink to the tree`);
    return ok(null);
  }
  symlinkSync(resolve(tree), link);
  return ok(null);
}

function isLink(p: string): boolean {
  try {
    return lstatSync(p).isSymbolicLink();
  } catch {
    return false;
  }
}
