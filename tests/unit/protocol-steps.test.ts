/** The wire form of a task of steps: its run message's argv and the agent's step header. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { encodeRun, parseAgentHeader, stepsArgv } from "../../src/protocol/messages.js";

describe("tasks of steps on the wire", () => {
  it("each step goes as its word count, its cwd, then its words", () => {
    const argv = stepsArgv([
      { argv: ["sh", "-c", "rm -rf w"], cwd: "." },
      { argv: ["bmake", "clean"], cwd: "herd/tree/devel/a b" },
    ]);
    assert.deepEqual(argv, [
      "3",
      ".",
      "sh",
      "-c",
      "rm -rf w",
      "2",
      "herd/tree/devel/a b",
      "bmake",
      "clean",
    ]);
    const msg = encodeRun({ id: 7, argv, cwd: ".", env: [["A", "1"]], output: "steps" });
    assert.ok(msg.ok);
    assert.equal(msg.value, `run 7 9 1 steps\n.\nA=1\n${argv.join("\n")}\n`);
    assert.throws(() => stepsArgv([{ argv: [], cwd: "." }]));
  });

  it("a step header gives the task, the step, its status and its output's size and CRC", () => {
    assert.deepEqual(parseAgentHeader("step 12 3 2 40 1234567"), {
      verb: "step",
      id: 12,
      step: 3,
      status: 2,
      payloads: [{ size: 40, crc: 1234567 }],
    });
    for (const bad of ["step 12 3 2 40", "step 12 3 x 40 1", "step 12 3 2 40 1 9", "step"])
      assert.equal(parseAgentHeader(bad), null, bad);
  });
});
