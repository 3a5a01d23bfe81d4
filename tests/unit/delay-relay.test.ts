/**
 * The delaying relay of the slow-host rig (tests/lib/delay-relay.ts), on
 * loopback: what goes in comes out, in order and intact, both ways, past
 * the point where it pauses its source; its count is the bytes it passed
 * on; a connection it cannot make on is closed; it exits on SIGTERM and
 * when its stdin closes.
 */
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect, createServer, type AddressInfo, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const RELAY = fileURLToPath(new URL("../lib/delay-relay.js", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "herd-relay-"));
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

/** A server that sends back what it reads and ends when its client does. */
async function echoServer(): Promise<Server> {
  const server = createServer({ allowHalfOpen: true }, (s) => s.pipe(s));
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return server;
}

/** Starts the relay in front of `port`; resolves with it and the port it listens on. */
async function startRelay(
  port: number,
  delayMs: number,
  counter: string,
): Promise<{ child: ChildProcess; port: number }> {
  const child = spawn(
    process.execPath,
    [RELAY, "127.0.0.1", "0", "127.0.0.1", String(port), String(delayMs), counter],
    { stdio: ["pipe", "pipe", "inherit"] },
  );
  const listening = await new Promise<number>((resolve, reject) => {
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /^listening (\d+)$/m.exec(out);
      if (m !== null) resolve(Number(m[1]));
    });
    child.once("exit", (code) => {
      reject(new Error(`the relay exited ${String(code)}`));
    });
  });
  return { child, port: listening };
}

/** Sends `data` through the relay, ends, and resolves with all that came back. */
function roundTrip(port: number, data: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: "127.0.0.1", port, allowHalfOpen: true });
    const got: Buffer[] = [];
    s.on("data", (d: Buffer) => {
      got.push(d);
    });
    s.on("end", () => {
      s.end();
      resolve(Buffer.concat(got));
    });
    s.on("error", reject);
    s.end(data);
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((r) => {
    if (child.exitCode !== null) r(child.exitCode);
    else
      child.once("exit", (code) => {
        r(code);
      });
  });
}

describe("the delaying relay", () => {
  it("passes on every byte both ways, in order, and counts them", async () => {
    const echo = await echoServer();
    const counter = join(dir, "count-a");
    const relay = await startRelay((echo.address() as AddressInfo).port, 300, counter);
    try {
      // More than the 4 MiB it holds before it pauses its source.
      const big = randomBytes(9 * 1024 * 1024);
      const small = randomBytes(1000);
      const [a, b] = await Promise.all([roundTrip(relay.port, big), roundTrip(relay.port, small)]);
      assert.ok(a.equals(big), "the large stream came back intact");
      assert.ok(b.equals(small), "the small stream came back intact");
      relay.child.kill("SIGTERM");
      assert.equal(await exited(relay.child), 0);
      assert.equal(
        Number(readFileSync(counter, "utf8")),
        2 * (big.length + small.length),
        "the count is every byte passed on, both ways",
      );
    } finally {
      relay.child.kill("SIGKILL");
      echo.close();
    }
  });

  it("closes a connection it cannot make on, and exits when its stdin closes", async () => {
    // A port that was just free: nothing listens there.
    const gone = await echoServer();
    const port = (gone.address() as AddressInfo).port;
    await new Promise((r) => gone.close(r));
    const relay = await startRelay(port, 5, join(dir, "count-b"));
    try {
      const back = await new Promise<number>((resolve) => {
        const s = connect({ host: "127.0.0.1", port: relay.port });
        let n = 0;
        s.on("data", (d: Buffer) => (n += d.length));
        // Closed by the relay, with a FIN or a reset.
        s.on("error", () => undefined);
        s.on("close", () => {
          resolve(n);
        });
        s.write("hello");
      });
      assert.equal(back, 0, "nothing came back");
      relay.child.stdin?.end();
      assert.equal(await exited(relay.child), 0);
      assert.equal(Number(readFileSync(join(dir, "count-b"), "utf8")), 0);
    } finally {
      relay.child.kill("SIGKILL");
    }
  });
});
