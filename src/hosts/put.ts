/**
 * Master → host file transfer: acknowledged chunks, so the agent's POSIX dd
 * never reads past a chunk, then the size and cksum CRC for the agent to check.
 */
import { createReadStream, readFileSync, statSync } from "node:fs";
import { Cksum } from "../protocol/cksum.js";
import {
  encodeChunkHeader,
  encodePutAbort,
  encodePutEnd,
  encodePutStart,
} from "../protocol/messages.js";
import { err, ok, type Result } from "../protocol/result.js";
import type { RequestFailure } from "./connection.js";
import type { LinkEnd } from "./transport.js";

/** What to put: bytes in memory, a local file, or a stream (e.g. a tar writer). */
export type PutSource = Uint8Array | { readonly file: string } | AsyncIterable<Uint8Array>;

export interface PendingPut {
  ack: ((acked: boolean) => void) | null;
  readonly settle: (r: Result<null, RequestFailure>) => void;
}

/** The connection's side of a put, kept narrow so this module stays about transfer. */
export interface PutWire {
  closed(): LinkEnd | null;
  line(s: string): void;
  register(id: number, p: PendingPut): void;
  forget(id: number): void;
  /** Sends one chunk and resolves true once the agent acknowledged it. */
  chunk(id: number, header: string, bytes: Uint8Array): Promise<boolean>;
}

/** How much of the past a LinkRate keeps at each new put (an exponential running average). */
const RATE_DECAY = 0.9;

/**
 * What a host's link delivers to puts, in bytes per second: a running
 * average over its puts, each weighted by the time it took, so the
 * per-put latency of many small packages counts as it costs.
 */
export class LinkRate {
  #bytes = 0;
  #seconds = 0;
  #total = 0;

  /** A put of `bytes` took `seconds`, from its start to the host's check. */
  record(bytes: number, seconds: number): void {
    if (!(seconds > 0) || !(bytes >= 0)) return;
    this.#bytes = this.#bytes * RATE_DECAY + bytes;
    this.#seconds = this.#seconds * RATE_DECAY + seconds;
    this.#total += seconds;
  }

  /** Bytes per second, undefined before the first put. */
  get bytesPerSecond(): number | undefined {
    return this.#seconds > 0 && this.#bytes > 0 ? this.#bytes / this.#seconds : undefined;
  }

  /** Seconds spent in puts so far (a stage's share is the difference over it). */
  get totalSeconds(): number {
    return this.#total;
  }
}

/** Files up to this size are read at once (bytes). */
const SMALL_FILE = 1 << 20;

async function* rechunk(source: PutSource, size: number): AsyncGenerator<Uint8Array> {
  if (source instanceof Uint8Array) {
    for (let i = 0; i < source.length; i += size) yield source.subarray(i, i + size);
    return;
  }
  if ("file" in source && statSync(source.file).size <= SMALL_FILE) {
    // A dependency package of a few KB: one read, not a stream and its buffer per file.
    yield* rechunk(readFileSync(source.file), size);
    return;
  }
  const stream: AsyncIterable<Uint8Array> =
    "file" in source ? createReadStream(source.file, { highWaterMark: size }) : source;
  let parts: Uint8Array[] = [];
  let have = 0;
  for await (const piece of stream) {
    let p = piece;
    while (p.length > 0) {
      const take = Math.min(size - have, p.length);
      parts.push(p.subarray(0, take));
      have += take;
      p = p.subarray(take);
      if (have === size) {
        yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        parts = [];
        have = 0;
      }
    }
  }
  if (have > 0) yield Buffer.concat(parts);
}

/** Runs one put to completion; the result says whether the host installed the file intact. */
export async function sendPut(
  wire: PutWire,
  id: number,
  path: string,
  source: PutSource,
  mode: number,
  chunkSize: number,
): Promise<Result<{ size: number; crc: number }, RequestFailure>> {
  const start = encodePutStart(id, path, mode);
  if (!start.ok) return err({ reason: "local", message: start.error.message });
  const closed = wire.closed();
  if (closed !== null) return err({ reason: "lost", message: closed.reason });
  let settle: (r: Result<null, RequestFailure>) => void = () => undefined;
  const done = new Promise<Result<null, RequestFailure>>((res) => {
    settle = res;
  });
  wire.register(id, { ack: null, settle });
  wire.line(start.value);
  const ck = new Cksum();
  try {
    for await (const piece of rechunk(source, chunkSize)) {
      ck.update(piece);
      if (!(await wire.chunk(id, encodeChunkHeader(id, piece.length), piece))) break;
    }
  } catch (e) {
    wire.line(encodePutAbort(id));
    await done;
    wire.forget(id);
    return err({
      reason: "local",
      message: `cannot read what to send: ${e instanceof Error ? e.message : String(e)}`,
    });
  }
  const size = ck.size;
  const crc = ck.digest();
  wire.line(encodePutEnd(id, size, crc));
  const r = await done;
  return r.ok ? ok({ size, crc }) : r;
}
