/**
 * Server-sent events framing (WHATWG HTML, "event stream"): `event:` names
 * the message, every line of the payload gets its own `data:` line, a blank
 * line ends the message, and a line starting with ':' is a comment that
 * only keeps the connection alive.
 */

/** One message; `data` may hold any line breaks (\n, \r\n or \r). */
export function sseMessage(event: string, data: string, id?: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(event)) throw new Error(`bad SSE event name ${event}`);
  if (id !== undefined && /[\r\n\0]/.test(id)) throw new Error("bad SSE id");
  const lines = data.split(/\r\n|\r|\n/).map((l) => `data: ${l}\n`);
  return `${id === undefined ? "" : `id: ${id}\n`}event: ${event}\n${lines.join("")}\n`;
}

/** A comment line, ignored by EventSource; sent to keep idle connections open. */
export function sseComment(text: string): string {
  return `: ${text.replace(/[\r\n]+/g, " ")}\n\n`;
}

/** How long EventSource waits before reconnecting. */
export function sseRetry(ms: number): string {
  return `retry: ${Math.max(0, Math.round(ms))}\n\n`;
}

export interface ParsedMessage {
  readonly event: string;
  readonly data: string;
  readonly id: string | undefined;
}

/** Parses an event stream the way EventSource does (for tests and tools). */
export function parseSse(stream: string): ParsedMessage[] {
  const out: ParsedMessage[] = [];
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  for (const line of stream.split(/\r\n|\r|\n/)) {
    if (line === "") {
      if (data.length > 0)
        out.push({ event: event === "" ? "message" : event, data: data.join("\n"), id });
      event = "";
      data = [];
      continue;
    }
    if (line.startsWith(":")) continue;
    const i = line.indexOf(":");
    const field = i < 0 ? line : line.slice(0, i);
    let value = i < 0 ? "" : line.slice(i + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "event") event = value;
    else if (field === "data") data.push(value);
    else if (field === "id") id = value;
  }
  return out;
}
