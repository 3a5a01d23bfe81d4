/** Splitting a scan batch's output into each directory's, byte for byte. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { batchArgv, batchSize, splitBatch } from "../../src/bulk/scan-batch.js";

const N = "herd-batch-0123";

test("a batch's output splits into each directory's bytes and status", () => {
  // The second directory's output has no final newline; the third printed nothing.
  const out = Buffer.from(`A=1\nB=2\n\n${N} 0\nC=3\n${N} 1\n\n${N} 0\n`);
  const err = Buffer.from(`\n${N}\noops\n\n${N}\n\n${N}\n`);
  assert.deepEqual(
    splitBatch(out, err, N, 3).map((p) =>
      p === undefined ? undefined : [p.status, p.output.toString(), p.stderr.toString()],
    ),
    [
      [0, "A=1\nB=2\n", ""],
      [1, "C=3", "oops\n"],
      [0, "", ""],
    ],
  );
});

test("directories after a missing separator have no part", () => {
  const out = Buffer.from(`A=1\n\n${N} 0\nhalf`);
  const err = Buffer.from(`\n${N}\n`);
  const parts = splitBatch(out, err, N, 3);
  assert.equal(parts[0]?.output.toString(), "A=1\n");
  assert.deepEqual(parts.slice(1), [undefined, undefined]);
});

test("batch sizes: a few batches per host, at most the bound", () => {
  assert.equal(batchSize(30, 1), 7);
  assert.equal(batchSize(1000, 4), 8);
  assert.equal(batchSize(1000, 4, 1), 1);
  assert.equal(batchSize(3, 8), 1);
});

test("only PKGPATHs go into a batch", () => {
  assert.throws(() => batchArgv(["a/b", "x y/z"], ["bmake"], N));
  assert.deepEqual(batchArgv(["a/b", "c/d"], ["bmake", "pbulk-index"], N).slice(4), [
    N,
    "a/b c/d",
    "bmake",
    "pbulk-index",
  ]);
});
