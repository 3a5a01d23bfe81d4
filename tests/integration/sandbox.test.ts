/**
 * Local hosts with a private view of one path (src/hosts/sandbox.ts): two
 * agents write to "the same" prefix and each sees only its own files, the
 * real directory stays untouched, and the agent's own re-exec does not nest
 * a second namespace.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { sandboxShell, type SandboxKind } from "../../src/hosts/sandbox.js";
import { startAgent, tempDir } from "./agent-support.js";

function usable(kind: SandboxKind): string | undefined {
  const probe =
    kind === "unshare"
      ? ["unshare", ...(process.getuid?.() === 0 ? [] : ["--map-root-user"]), "--mount", "true"]
      : ["bwrap", "--dev-bind", "/", "/", "true"];
  const r = spawnSync(probe[0]!, probe.slice(1));
  return r.status === 0 ? undefined : `${kind} cannot make a mount namespace here`;
}

for (const kind of ["unshare", "bwrap"] as const) {
  describe(`local hosts in a ${kind} sandbox`, { skip: usable(kind) }, () => {
    it("gives each host its own copy of the shared prefix path", { timeout: 60_000 }, async () => {
      const tmp = tempDir(`sandbox-${kind}`);
      const prefix = join(tmp.path, "opt/pkg");
      mkdirSync(prefix, { recursive: true });
      writeFileSync(join(prefix, "pristine"), "kit\n");
      const agents = [];
      try {
        for (const name of ["a", "b"]) {
          const root = join(tmp.path, name);
          const shell = sandboxShell({
            kind,
            mounts: [{ source: join(root, "pkg"), target: prefix }],
            shell: ["sh"],
            root: process.getuid?.() === 0,
          });
          agents.push(await startAgent(root, shell));
        }
        for (const [i, a] of agents.entries()) {
          const r = await a.conn.run({
            argv: [
              "sh",
              "-c",
              'echo "$1" > "$2/mine" && ls "$2" && grep -c . /proc/self/mountinfo',
              "x",
              String(i),
              prefix,
            ],
          });
          assert.ok(r.ok);
          assert.equal(r.value.status, 0, r.value.output.toString());
          // The host's prefix starts empty: the pristine file is not visible through the mount.
          assert.deepEqual(r.value.output.toString().split("\n").slice(0, 1), ["mine"]);
        }
        assert.deepEqual(readdirSync(prefix), ["pristine"], "the real directory is untouched");
        for (const [i, name] of ["a", "b"].entries()) {
          const mine = join(tmp.path, name, "pkg", "mine");
          assert.ok(existsSync(mine), `${name} wrote into its own directory`);
          assert.equal(spawnSync("cat", [mine]).stdout.toString(), `${i}\n`);
        }
        // One namespace level only: the mark is set, and the prefix is mounted once.
        const r = await agents[0]!.conn.run({
          argv: [
            "sh",
            "-c",
            'echo "$HERD_SANDBOXED"; grep -c " $1 " /proc/self/mountinfo',
            "x",
            prefix,
          ],
        });
        assert.ok(r.ok);
        assert.deepEqual(r.value.output.toString().trim().split("\n"), ["1", "1"]);
      } finally {
        for (const a of agents) await a.conn.close();
        tmp.remove();
      }
    });
  });
}
