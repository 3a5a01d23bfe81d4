/**
 * What a running master offers its hosts and its operator: the unix socket
 * (attach + control services) and the watched hosts file. A host that
 * appears in the file joins; one that disappears is drained (finishes its
 * task, then leaves); one whose line changed is drained and rejoins.
 */
import { readFileSync, unwatchFile, watchFile } from "node:fs";
import { hostName } from "../core/hostspec.js";
import { err, ok, type Result } from "../protocol/result.js";
import { AttachServer } from "./attach.js";
import { controlService } from "./control.js";
import { memberFor, type FactoryContext } from "./factory.js";
import { formatHostEntry, parseHostsFile, type HostEntry } from "./hostsfile.js";
import type { HostPool } from "./pool.js";
import { remoteTransports } from "./remote.js";
import { MasterSocket } from "./socket.js";

export interface ServeOptions {
  readonly pool: HostPool;
  /** The master's work directory. */
  readonly work: string;
  /** The master's tree (for local hosts that share it). */
  readonly tree: string;
  /** The socket path (WORK/control.sock). */
  readonly socketPath: string;
  /** A hosts file to watch; its hosts join at once. */
  readonly hostsFile?: string;
  readonly watchIntervalMs?: number;
  /** Per host: false when its tree is shared (never synced); filled as hosts join. */
  readonly syncs: Map<string, boolean>;
  /** Problems worth telling the operator (a hosts file that no longer parses). */
  readonly warn?: (message: string) => void;
  /** The config's sandbox kind and prefix (see FactoryContext.sandbox). */
  readonly sandbox?: FactoryContext["sandbox"];
  /** The ssh client (tests); default "ssh". */
  readonly ssh?: string;
}

export interface Served {
  readonly attach: AttachServer;
  /** Adds one host (as from a hosts-file line). */
  add(entry: HostEntry): Result<void, string>;
  close(): Promise<void>;
}

/** Starts the socket, adds the hosts file's hosts and watches the file. */
export async function serveHosts(o: ServeOptions): Promise<Served> {
  const attach = new AttachServer((name) => {
    const h = o.pool.list().find((x) => x.name === name && x.state.kind !== "gone");
    return h?.transport;
  });
  const remote = remoteTransports({
    work: o.work,
    attach,
    ...(o.ssh === undefined ? {} : { ssh: o.ssh }),
  });
  const add = (entry: HostEntry): Result<void, string> => {
    const m = memberFor(entry, {
      work: o.work,
      tree: o.tree,
      remote,
      ...(o.sandbox === undefined ? {} : { sandbox: o.sandbox }),
    });
    if (!m.ok) return err(`host ${entry.name}: ${m.error}`);
    o.syncs.set(entry.name, m.value.sync);
    const r = o.pool.add(m.value.config);
    return r.ok ? ok(undefined) : err(r.error.message);
  };
  const socket = await MasterSocket.listen(o.socketPath, {
    attach: attach.service,
    control: controlService({ pool: o.pool, add }),
  });
  const fromFile = new Map<string, string>();
  const rejoin = new Map<string, HostEntry>();
  const unsubscribe = o.pool.subscribe((e) => {
    const next = rejoin.get(e.host);
    if (e.type === "state" && e.to.kind === "gone" && next !== undefined) {
      rejoin.delete(e.host);
      const r = add(next);
      if (!r.ok) o.warn?.(r.error);
    }
  });
  const apply = (entries: readonly HostEntry[]): void => {
    const seen = new Set<string>();
    for (const e of entries) {
      seen.add(e.name);
      const line = formatHostEntry(e);
      const old = fromFile.get(e.name);
      fromFile.set(e.name, line);
      if (old === line) continue;
      const live = o.pool.get(hostName(e.name));
      if (live === undefined || live.state.kind === "gone") {
        const r = add(e);
        if (!r.ok) o.warn?.(r.error);
      } else if (old !== undefined) {
        rejoin.set(e.name, e);
        o.pool.drain(hostName(e.name));
      }
    }
    for (const name of [...fromFile.keys()]) {
      if (seen.has(name)) continue;
      fromFile.delete(name);
      rejoin.delete(name);
      attach.forget(name);
      o.pool.drain(hostName(name));
    }
  };
  const load = (): Result<HostEntry[], string> => {
    const file = o.hostsFile!;
    let text: string;
    try {
      text = readFileSync(file, "utf8");
    } catch (e) {
      return err(`cannot read ${file}: ${(e as Error).message}`);
    }
    const p = parseHostsFile(text, file);
    return p.ok ? p : err(p.error.message);
  };
  if (o.hostsFile !== undefined) {
    const first = load();
    if (!first.ok) {
      await socket.close();
      return Promise.reject(new Error(first.error));
    }
    apply(first.value);
    watchFile(o.hostsFile, { interval: o.watchIntervalMs ?? 1000 }, () => {
      const r = load();
      if (r.ok) apply(r.value);
      else o.warn?.(`hosts file not applied: ${r.error}`);
    });
  }
  return {
    attach,
    add,
    close: async () => {
      if (o.hostsFile !== undefined) unwatchFile(o.hostsFile);
      unsubscribe();
      await socket.close();
    },
  };
}
