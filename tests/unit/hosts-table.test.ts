import assert from "node:assert/strict";
import { test } from "node:test";
import { hostsTable } from "../../src/cli/hosts.js";

test("herd hosts list keeps one line per host: CR/LF in a reason are escaped as the log does", () => {
  const out = hostsTable([
    {
      name: "vax1",
      state: "lost",
      detail: "lost: ssh said\r\nConnection reset\tby peer",
      slots: 2,
      free: 0,
      speed: 0.05,
      transport: "ssh herd@vax1",
      tags: ["vax"],
      failures: 1,
      uname: null,
      tasks: [{ slot: 1, label: "tick1-1.0" }],
    },
  ]);
  const lines = out.trimEnd().split("\n");
  assert.equal(lines.length, 2, out);
  assert.match(
    lines[1]!,
    /^vax1 +lost: ssh said\\r\\nConnection reset\\tby peer +2 +0 +0\.05 +ssh herd@vax1 +vax +1:tick1-1\.0$/,
  );
});
