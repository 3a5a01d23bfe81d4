/** Transports for hosts-file entries that are not local: ssh and attach. */
import { createHash } from "node:crypto";
import { join } from "node:path";
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
 * Where ssh's control sockets go: WORK/ssh, unless that path is too long for
 * a unix socket (ControlPath adds a 40-character hash), then a private
 * directory under the temporary directory.
 */
export function controlDirFor(work: string): string {
  const dir = join(work, "ssh");
  if (Buffer.byteLength(dir) + 42 <= 100) return dir;
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
