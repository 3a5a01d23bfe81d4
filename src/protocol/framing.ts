/**
 * Splits the agent's byte stream into header lines and payloads, checking each
 * payload's size and cksum CRC as it streams past.
 */
import { Cksum } from "./cksum.js";
import { parseAgentHeader, type AgentHeader, type PayloadSpec } from "./messages.js";

/** Longest header line accepted; a longer one means the stream is out of step. */
const MAX_LINE = 16 * 1024;

export interface PayloadCheck {
  readonly index: number;
  /** True when the bytes received match the announced size and CRC. */
  readonly intact: boolean;
  readonly crc: number;
}

export interface FrameHandler {
  /** A header line; its payloads (if any) follow as data/payloadEnd calls. */
  header(h: AgentHeader): void;
  data(chunk: Buffer, index: number): void;
  payloadEnd(check: PayloadCheck): void;
  /** All payloads of the last header were delivered. */
  messageEnd(): void;
  /** The stream broke the protocol; nothing after this is delivered. */
  violation(message: string): void;
}

export class AgentStreamParser {
  readonly #h: FrameHandler;
  #line: Buffer[] = [];
  #lineLen = 0;
  #payloads: readonly PayloadSpec[] = [];
  #index = 0;
  #remaining = 0;
  #ck = new Cksum();
  #inPayload = false;
  #broken = false;
  /** Bytes received in total, for accounting (e.g. tree-sync measurements). */
  bytesIn = 0;

  constructor(handler: FrameHandler) {
    this.#h = handler;
  }

  push(chunk: Buffer): void {
    this.bytesIn += chunk.length;
    let rest = chunk;
    while (rest.length > 0 && !this.#broken) {
      if (this.#inPayload) {
        const take = Math.min(this.#remaining, rest.length);
        const part = rest.subarray(0, take);
        rest = rest.subarray(take);
        this.#ck.update(part);
        this.#remaining -= take;
        this.#h.data(part, this.#index);
        if (this.#remaining === 0) this.#finishPayload();
        continue;
      }
      const nl = rest.indexOf(10);
      if (nl < 0) {
        this.#line.push(rest);
        this.#lineLen += rest.length;
        if (this.#lineLen > MAX_LINE) this.#break("header line too long");
        return;
      }
      this.#line.push(rest.subarray(0, nl));
      rest = rest.subarray(nl + 1);
      const line = Buffer.concat(this.#line).toString("latin1");
      this.#line = [];
      this.#lineLen = 0;
      this.#onLine(line);
    }
  }

  #break(message: string): void {
    this.#broken = true;
    this.#h.violation(message);
  }

  #onLine(line: string): void {
    const h = parseAgentHeader(line);
    if (h === null) {
      this.#break(`malformed message from agent: ${JSON.stringify(line.slice(0, 200))}`);
      return;
    }
    this.#h.header(h);
    this.#payloads = "payloads" in h ? h.payloads : [];
    this.#index = -1;
    this.#nextPayload();
  }

  #nextPayload(): void {
    for (;;) {
      this.#index++;
      const p = this.#payloads[this.#index];
      if (p === undefined) {
        this.#inPayload = false;
        this.#payloads = [];
        this.#h.messageEnd();
        return;
      }
      this.#ck = new Cksum();
      this.#remaining = p.size;
      if (p.size > 0) {
        this.#inPayload = true;
        return;
      }
      this.#finishPayload(false);
    }
  }

  #finishPayload(advance = true): void {
    const p = this.#payloads[this.#index]!;
    const crc = this.#ck.digest();
    this.#h.payloadEnd({
      index: this.#index,
      intact: crc === p.crc && this.#ck.size === p.size,
      crc,
    });
    if (advance) this.#nextPayload();
  }
}
