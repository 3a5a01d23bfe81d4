import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import { test } from "node:test";
import { Cksum, cksum } from "../../src/protocol/cksum.js";

function systemCksum(data: Buffer): { crc: number; size: number } {
  const out = execFileSync("cksum", { input: data }).toString().trim().split(/\s+/);
  return { crc: Number(out[0]), size: Number(out[1]) };
}

test("cksum matches the known value for a short string", () => {
  assert.deepEqual(cksum(Buffer.from("12 34\n")), { crc: 428042723, size: 6 });
  assert.deepEqual(cksum(Buffer.alloc(0)), { crc: 4294967295, size: 0 });
});

test("cksum matches the system cksum on random data, fed in pieces", () => {
  for (const n of [1, 255, 256, 257, 65536, 100_003]) {
    const data = randomBytes(n);
    const c = new Cksum();
    for (let i = 0; i < n; i += 7919) c.update(data.subarray(i, i + 7919));
    assert.deepEqual({ crc: c.digest(), size: c.size }, systemCksum(data));
  }
});
