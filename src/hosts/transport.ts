/**
 * A transport carries the herd protocol to one host: it starts the agent
 * bootstrap there (or, for attach, waits for the host to start it) and hands
 * back the byte stream. Everything above it is the same for every transport.
 */
import type { Readable, Writable } from "node:stream";
import type { Result } from "../protocol/result.js";

export type TransportKind = "local" | "ssh" | "attach" | "fake";

/** Why a link ended, in words for the operator. */
export interface LinkEnd {
  readonly reason: string;
}

/** A live byte stream to an agent bootstrap. */
export interface Channel {
  /** Bytes to the agent. */
  readonly input: Writable;
  /** Bytes from the agent. */
  readonly output: Readable;
  /** Settles once when the link is down for good. */
  readonly ended: Promise<LinkEnd>;
  /** The last lines the transport itself printed (ssh errors, shell errors). */
  diagnostics(): string;
  /** Cuts the link at once (kills the process, closes the socket). */
  destroy(): void;
}

export interface TransportError {
  readonly reason: "unreachable" | "refused" | "timeout" | "cancelled";
  readonly message: string;
}

export interface Transport {
  readonly kind: TransportKind;
  /** Words for logs, e.g. "ssh root@vax1". */
  readonly description: string;
  /** Starts the agent bootstrap on the host and returns the stream to it. */
  open(signal?: AbortSignal): Promise<Result<Channel, TransportError>>;
  /** Releases what outlives a channel (e.g. ssh's shared connection). */
  dispose?(): Promise<void>;
}

/** Keeps the last `max` bytes of a stream's text, for error messages. */
export class TailBuffer {
  #text = "";
  readonly #max: number;
  constructor(max = 4096) {
    this.#max = max;
  }
  push(chunk: Buffer | string): void {
    this.#text = (this.#text + chunk.toString()).slice(-this.#max);
  }
  toString(): string {
    return this.#text;
  }
}
