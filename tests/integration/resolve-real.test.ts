import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { describe, it } from "node:test";
import { join } from "node:path";
import { CLI, DATA_2026 } from "../lib/paths.js";

/** Runs a command, hashing its stdout and collecting stderr. */
function run(
  argv: string[],
): Promise<{ code: number | null; sha: string; bytes: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0]!, argv.slice(1), { stdio: ["ignore", "pipe", "pipe"] });
    const hash = createHash("sha256");
    let bytes = 0;
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => {
      hash.update(d);
      bytes += d.length;
    });
    child.stderr.on("data", (d: Buffer) => {
      stderr += d.toString();
    });
    child.on("error", reject);
    child.on("close", (code) => {
      resolve({ code, sha: hash.digest("hex"), bytes, stderr });
    });
  });
}

describe("herd resolve on the real 2026 scan", () => {
  it("reproduces presolve.zst byte for byte, reports the 6 unresolved and the summary", async () => {
    const [herd, ref] = await Promise.all([
      run(["node", CLI, "resolve", join(DATA_2026, "pscan.zst")]),
      run(["zstd", "-dcq", join(DATA_2026, "presolve.zst")]),
    ]);
    assert.equal(ref.code, 0);
    assert.equal(herd.code, 0, herd.stderr);
    assert.equal(herd.bytes, ref.bytes, "output size differs from presolve");
    assert.equal(herd.sha, ref.sha, "output differs from presolve");
    const lines = herd.stderr.trim().split("\n");
    assert.deepEqual(lines.filter((l) => l.startsWith("No match found")).sort(), [
      "No match found for dependency py311-buildbot-[0-9]* of package py311-buildbot-badges-2.6.0nb1",
      "No match found for dependency py311-buildbot-[0-9]* of package py311-buildbot-waterfall-view-2.6.0nb1",
      "No match found for dependency py311-stevedore>=1.20.0 of package py311-e3-core-22.10.0nb3",
      "No match found for dependency py312-daemon>=2.3.0 of package py312-libagent-0.15.0",
      "No match found for dependency py313-daemon>=2.3.0 of package py313-libagent-0.15.0",
      "No match found for dependency py314-daemon>=2.3.0 of package py314-libagent-0.15.0",
    ]);
    assert.equal(
      lines.at(-1),
      "29022 packages: 27370 buildable, 1148 skipped, 175 failed, 277 indirectly skipped, 40 indirectly failed, 6 unresolved",
    );
  });
});
