/**
 * The attach transport (host-initiated, for hosts behind NAT): the host runs
 * the agent bootstrap with its stdin/stdout joined to `ssh master herd attach
 * NAME`, which relays them to the running master over its unix socket. The
 * master never connects to such a host; its pool entry stays "connecting"
 * until the host dials in. See attachHostCommand for the host's command.
 */
import type { Socket } from "node:net";
import { PassThrough } from "node:stream";
import { bootstrapProgram, shQuote } from "../agent/agent.js";
import { ok, type Result } from "../protocol/result.js";
import type { ServiceHandler } from "./socket.js";
import type { Channel, LinkEnd, Transport, TransportError } from "./transport.js";

export class AttachServer {
  readonly #expect = new Map<string, AttachTransport>();
  /** How the master reaches a host of that name otherwise (its transport), if it has one. */
  readonly #other: (name: string) => string | undefined;

  constructor(other: (name: string) => string | undefined = () => undefined) {
    this.#other = other;
  }

  /** The transport of host `name`: its connections are accepted from now on. */
  transportFor(name: string): AttachTransport {
    let t = this.#expect.get(name);
    if (t === undefined) {
      t = new AttachTransport(name);
      this.#expect.set(name, t);
    }
    return t;
  }

  /** Host `name` is no longer welcome. */
  forget(name: string): void {
    this.#expect.get(name)?.refuseAll();
    this.#expect.delete(name);
  }

  /** The `attach NAME` service of the master socket. */
  readonly service: ServiceHandler = (socket, args, rest) => {
    const name = args[0] ?? "";
    const t = this.#expect.get(name);
    if (t === undefined || args.length !== 1) {
      const other = args.length === 1 ? this.#other(name) : undefined;
      socket.end(
        other === undefined
          ? `refused unknown host ${JSON.stringify(name)}: it is not in this master's host list (herd hosts add)\n`
          : `refused host ${JSON.stringify(name)}: it is not an attach host (the master reaches it as ${other}); list it as "${name} attach" in the hosts file to let it dial in\n`,
      );
      return;
    }
    t.offer(socket, rest);
  };
}

interface Offer {
  readonly socket: Socket;
  readonly rest: Buffer;
}

export class AttachTransport implements Transport {
  readonly kind = "attach";
  readonly description: string;
  readonly name: string;
  #pending: Offer | null = null;
  #waiter: ((o: Offer) => void) | null = null;
  #live: Socket | null = null;

  constructor(name: string) {
    this.name = name;
    this.description = `attach ${name}`;
  }

  /** A host dialled in as this name. */
  offer(socket: Socket, rest: Buffer): void {
    if (this.#live !== null || this.#pending !== null) {
      socket.end(`refused host ${this.name} is already attached\n`);
      return;
    }
    const offer = { socket, rest };
    const w = this.#waiter;
    if (w !== null) {
      this.#waiter = null;
      w(offer);
      return;
    }
    this.#pending = offer;
    socket.once("close", () => {
      if (this.#pending === offer) this.#pending = null;
    });
  }

  refuseAll(): void {
    this.#pending?.socket.end(`refused host ${this.name} was removed\n`);
    this.#pending = null;
    this.#live?.destroy();
  }

  /** Waits until the host dials in, then hands over the link. */
  async open(): Promise<Result<Channel, TransportError>> {
    let offer = this.#pending;
    this.#pending = null;
    offer ??= await new Promise<Offer>((res) => {
      this.#waiter = res;
    });
    return ok(this.#accept(offer));
  }

  #accept({ socket, rest }: Offer): Channel {
    this.#live = socket;
    socket.write("ok\n");
    const output = new PassThrough();
    if (rest.length > 0) output.write(rest);
    socket.pipe(output);
    const ended = new Promise<LinkEnd>((res) => {
      socket.once("close", () => {
        if (this.#live === socket) this.#live = null;
        res({ reason: `attached host ${this.name} hung up` });
      });
    });
    return {
      input: socket,
      output,
      ended,
      diagnostics: () => "",
      destroy: () => {
        socket.destroy();
      },
    };
  }
}

export interface HostCommandOptions {
  readonly name: string;
  /** How the host reaches the master's `herd attach`: e.g. ["ssh", "herd@master"]; empty for a local test. */
  readonly via: readonly string[];
  /** The herd command on the master, e.g. ["herd"] or ["node", "/opt/herd/dist/src/cli/main.js"]. */
  readonly herd: readonly string[];
  /** The master's work directory (absolute). */
  readonly work: string;
  /** The agent's directory on the host. */
  readonly root: string;
  readonly shell?: readonly string[];
}

/**
 * The one command a NAT'd host runs (as its build user) to join: a FIFO joins
 * the agent's stdout to the relay's stdin, since a pipeline only goes one way.
 */
export function attachHostCommand(o: HostCommandOptions): string {
  const shell = o.shell ?? ["/bin/sh"];
  const root = shQuote(o.root);
  const fifo = `${root}/.herd-link`;
  const remote = [...o.herd, "attach", "--work", o.work, o.name].map(shQuote).join(" ");
  const relay = o.via.length === 0 ? remote : `${o.via.map(shQuote).join(" ")} ${shQuote(remote)}`;
  const agent = `${shell.map(shQuote).join(" ")} -c ${shQuote(bootstrapProgram(shell))} herd-agent ${root}`;
  return `mkdir -p ${root} && rm -f ${fifo} && mkfifo ${fifo} && ${relay} <${fifo} | ${agent} >${fifo}`;
}
