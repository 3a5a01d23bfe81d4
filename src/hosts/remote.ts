/** Transports for hosts-file entries that are not local: ssh and attach. */
import { createHash } from "node:crypto";
import { join, resolve } from "node:path";
import { tmpdir, userInfo } from "node:os";
import { err, ok, type Result } from "../protocol/result.js";
import type { AttachServer } from "./attach.js";
import type { HostEntry } from "./hostsfile.js";
import { shellCommand } from "./local.js";
import { SshTransport } from "./ssh.js";
import type { Transport } from "./transport.js";

export interface RemoteContext {
  /** The master's work directory (ssh control sockets live under it). */
  readonly work: string;
  /** Where attach hosts dial in; without it, attach hosts are refused. */
  readonly attach?: AttachServer;
  /** The ssh client program (tests point it elsewhere); default "ssh". */
  readonly ssh?: string;
}

/**
 * The longest directory a control socket fits in: a unix socket path holds
 * 107 bytes, and ssh binds DIR/%C (a 40-character hash) plus a temporary
 * suffix of 17 (".XXXXXXXXXXXXXXXX") before renaming it into place.
 */
export const CONTROL_DIR_MAX = 107 - 1 - 40 - 17;

/**
 * Where ssh's control sockets go: WORK/ssh, unless that path is too long for
 * a unix socket (CONTROL_DIR_MAX), then a private directory under the
 * temporary directory.
 */
export function controlDirFor(work: string): string {
  const dir = resolve(work, "ssh");
  if (Buffer.byteLength(dir) <= CONTROL_DIR_MAX) return dir;
  const tag = createHash("sha1").update(work).digest("hex").slice(0, 12);
  return join(tmpdir(), `herd-ssh-${userInfo().uid}-${tag}`);
}

/** A factory for FactoryContext.remote. */
export function remoteTransports(
  ctx: RemoteContext,
): (entry: HostEntry) => Result<Transport, string> {
  return (entry) => {
    switch (entry.transport) {
      case "ssh":
        return ok(
          new SshTransport({
            address: entry.address ?? "",
            controlDir: controlDirFor(ctx.work),
            ...(entry.root === null ? {} : { root: entry.root }),
            ...(entry.shell === null ? {} : { shell: shellCommand(entry.shell) }),
            identity: entry.identity,
            knownHosts: entry.knownHosts,
            options: entry.sshOptions,
            ...(ctx.ssh === undefined ? {} : { ssh: ctx.ssh }),
          }),
        );
      case "attach":
        if (ctx.attach === undefined)
          return err("attach hosts need a running master (herd build/scan serve them)");
        return ok(ctx.attach.transportFor(entry.name));
      case "local":
        return err("bug: local hosts are made by the factory");
    }
  };
}
