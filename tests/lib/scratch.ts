/**
 * Scratch directories of a test file, removed when its process exits
 * (node:test runs each file in a process of its own), so the suite leaves
 * no herd-* directories in /tmp, whatever a test's own clean-up did.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const made: string[] = [];
process.once("exit", () => {
  for (const d of made) rmSync(d, { recursive: true, force: true });
});

/** mkdtemp under the system's temporary directory, e.g. scratchDir("herd-x-"). */
export function scratchDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), prefix));
  made.push(d);
  return d;
}
