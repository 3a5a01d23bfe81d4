import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { describe, it } from "node:test";
import { createDisplay, formatDuration } from "../../src/cli/progress.js";

function sink(columns?: number): { stream: Writable & { columns?: number }; text: () => string } {
  let out = "";
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      out += chunk.toString();
      cb();
    },
  }) as Writable & { columns?: number };
  if (columns !== undefined) stream.columns = columns;
  return { stream, text: () => out };
}

const T = Date.parse("2026-11-25T10:00:00Z");

describe("terminal display", () => {
  it("prints plain timestamped lines off a terminal, with control characters made visible", () => {
    const s = sink();
    const d = createDisplay("plain", s.stream);
    d.onEvent({ type: "phase", phase: "build", detail: "3 packages to build" }, T);
    d.onEvent(
      {
        type: "package-end",
        pkgname: "a\x1b[2Jb-1.0",
        pkgpath: "x/a",
        host: "h1",
        result: "failed",
        stage: "build",
        reason: "boom",
        wallMs: 5,
      },
      T + 1000,
    );
    d.close();
    assert.equal(
      s.text(),
      "10:00:00 == build: 3 packages to build\n10:00:01 FAILED a\\x1b[2Jb-1.0 on h1: boom\n",
    );
  });

  it("gives NDJSON with --json", () => {
    const s = sink();
    const d = createDisplay("json", s.stream);
    d.onEvent({ type: "warning", message: "x" }, T);
    assert.deepEqual(JSON.parse(s.text()), {
      time: "2026-11-25T10:00:00.000Z",
      type: "warning",
      message: "x",
    });
    d.close();
  });

  it("writes a turn's first NDJSON line at once and the rest in one write when the turn ends", async () => {
    const writes: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        writes.push(chunk.toString());
        cb();
      },
    });
    const d = createDisplay("json", stream);
    for (let i = 0; i < 5; i++) d.onEvent({ type: "warning", message: `m${String(i)}` }, T);
    assert.equal(writes.length, 1, "the first line went out at once, the others wait");
    await new Promise((r) => setImmediate(r));
    assert.equal(writes.length, 2, "the turn's other lines went out in one write");
    const got = writes.join("").trimEnd().split("\n");
    assert.deepEqual(
      got.map((l) => (JSON.parse(l) as { message: string }).message),
      ["m0", "m1", "m2", "m3", "m4"],
    );
    // A later turn's first line goes out at once again; close() writes what waits.
    d.onEvent({ type: "warning", message: "m5" }, T);
    d.onEvent({ type: "warning", message: "m6" }, T);
    assert.equal(writes.length, 3);
    d.close();
    assert.equal(writes.length, 4);
    assert.match(writes[3]!, /"m6"/);
  });

  it("redraws a status area below the log lines on a terminal, erasing it before each log line", () => {
    const s = sink(80);
    const d = createDisplay("tty", s.stream);
    d.onEvent({ type: "host", host: "h1", state: "idle" }, T);
    d.onEvent({ type: "progress", done: 1, total: 4, running: 1, etaSeconds: 125 }, T);
    d.onEvent(
      {
        type: "package-end",
        pkgname: "a-1.0",
        pkgpath: "x/a",
        host: "h1",
        result: "built",
        wallMs: 5,
      },
      T,
    );
    d.close();
    const out = s.text();
    // The status area (host line + progress line) is erased (cursor up 2, clear) before the log line.
    assert.match(out, /\[#{8}\.{22}\] 1\/4 {2}ETA 2m05s {2}running 1/);
    assert.ok(out.includes("\x1b[2A\x1b[J10:00:00 built a-1.0 on h1\n"), JSON.stringify(out));
    assert.ok(out.endsWith("\x1b[2A\x1b[J"), "close() leaves no status area behind");
  });

  it("is silent but for the status with --quiet", () => {
    const s = sink();
    const d = createDisplay("plain", s.stream, { quiet: true });
    d.onEvent({ type: "phase", phase: "scan" }, T);
    assert.equal(s.text(), "");
    assert.equal(formatDuration(3725), "1h02m");
    assert.equal(formatDuration(59), "59s");
  });
});
