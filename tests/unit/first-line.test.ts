import assert from "node:assert/strict";
import { createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { connectMaster, readFirstLine } from "../../src/hosts/socket.js";
import { scratchDir } from "../lib/scratch.js";

/** A unix-socket server whose side of each connection `serve` is given; the client's first line read. */
async function firstLineFrom(
  serve: (s: Socket) => void,
  pauseOnConnect = false,
): Promise<{ line: string | null; rest: string; calls: number }> {
  const path = join(scratchDir("herd-first-line-"), "s");
  const served: Socket[] = [];
  const server: Server = createServer({ pauseOnConnect }, (s) => {
    served.push(s);
    s.on("error", () => undefined);
    serve(s);
  });
  await new Promise<void>((res) => server.listen(path, res));
  try {
    const sock = await connectMaster(path, "attach h1");
    sock.on("error", () => undefined);
    let calls = 0;
    const got = await new Promise<{ line: string | null; rest: string }>((res) => {
      readFirstLine(sock, (line, rest) => {
        calls++;
        res({ line, rest: rest.toString() });
      });
    });
    // Whatever else the connection does afterwards, `then` is not called again.
    await new Promise((r) => setTimeout(r, 50));
    sock.destroy();
    return { ...got, calls };
  } finally {
    for (const s of served) s.destroy();
    await new Promise((r) => server.close(r));
  }
}

test("readFirstLine: the line and what came after it", { timeout: 10_000 }, async () => {
  const r = await firstLineFrom((s) => s.end("ok\nrest of it"));
  assert.deepEqual(r, { line: "ok", rest: "rest of it", calls: 1 });
});

test(
  "readFirstLine: a peer that ends before a whole line gives null",
  { timeout: 10_000 },
  async () => {
    const r = await firstLineFrom((s) => s.end("o"));
    assert.deepEqual(r, { line: null, rest: "", calls: 1 });
  },
);

test(
  "readFirstLine: a connection reset (no end, as from a killed master with data unread) gives null",
  { timeout: 10_000 },
  async () => {
    // The server never reads the client's service line and closes: a unix socket closed
    // with data unread resets its peer, which sees an error and a close but no end.
    const r = await firstLineFrom((s) => setTimeout(() => s.destroy(), 20), true);
    assert.deepEqual(r, { line: null, rest: "", calls: 1 });
  },
);

test("readFirstLine: too long a first line gives null", { timeout: 10_000 }, async () => {
  const r = await firstLineFrom((s) => s.end("x".repeat(2000)));
  assert.deepEqual(r, { line: null, rest: "", calls: 1 });
});
