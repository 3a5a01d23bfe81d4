/**
 * Slots with a private view of one path (src/hosts/sandbox.ts): the slots
 * of one real agent write to "the same" prefix at once and each sees only
 * its own files; the real directory stays untouched. Driven through the
 * pool's own slot leases, for the built-in kinds and for a `sandbox=` hook
 * read from a hosts file.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { memberFor } from "../../src/hosts/factory.js";
import { parseHostsFile } from "../../src/hosts/hostsfile.js";
import { HostPool } from "../../src/hosts/pool.js";
import type { SandboxKind } from "../../src/hosts/sandbox.js";
import { tempDir, waitState } from "./agent-support.js";

function usable(kind: Exclude<SandboxKind, "none">): string | undefined {
  const probe =
    kind === "unshare"
      ? ["unshare", ...(process.getuid?.() === 0 ? [] : ["--map-root-user"]), "--mount", "true"]
      : ["bwrap", "--dev-bind", "/", "/", "true"];
  const r = spawnSync(probe[0]!, probe.slice(1));
  return r.status === 0 ? undefined : `${kind} cannot make a mount namespace here`;
}

// Each slot writes its number into the shared prefix path, waits for the
// others to have written theirs, and lists what it sees there.
const WRITE_AND_LIST =
  'echo "$1" > "$2/mine"; n=0; while [ ! -e "$3/go" ] && [ $n -lt 100 ]; do sleep 0.1; n=$((n+1)); done; ls -A "$2"; cat "$2/mine"';

async function slotsSeeTheirOwn(line: (dir: string, prefix: string) => string): Promise<void> {
  const tmp = tempDir("sandbox");
  const prefix = join(tmp.path, "opt/pkg");
  mkdirSync(prefix, { recursive: true });
  writeFileSync(join(prefix, "pristine"), "kit\n");
  const root = join(tmp.path, "big");
  const file = join(tmp.path, "hosts.txt");
  writeFileSync(file, `${line(root, prefix)}\n`);
  const entries = parseHostsFile(readFileSync(file, "utf8"), file);
  assert.ok(entries.ok, entries.ok ? "" : entries.error.message);
  const m = memberFor(entries.value[0]!, {
    work: tmp.path,
    tree: tmp.path,
    sandbox: { kind: "none", localbase: prefix },
  });
  assert.ok(m.ok, m.ok ? "" : m.error);
  const pool = new HostPool();
  try {
    assert.ok(pool.add(m.value.config).ok);
    await waitState(pool, "big", "idle");
    const runs = [1, 2, 3].map(() =>
      pool.task(m.value.config.name, "probe", (lease) =>
        lease.run({
          argv: ["sh", "-c", WRITE_AND_LIST, "x", `slot${lease.slot}`, prefix, tmp.path],
        }),
      ),
    );
    // All three slots are busy at once, and the pool says so.
    const snap = pool.get(m.value.config.name)!;
    assert.equal(snap.state.kind, "busy");
    assert.deepEqual(
      snap.tasks.map((t) => t.slot),
      [1, 2, 3],
    );
    assert.equal(snap.free, 0);
    writeFileSync(join(tmp.path, "go"), "");
    const outs = await Promise.all(runs);
    for (const [i, r] of outs.entries()) {
      assert.ok(r.ok && r.value.ok, JSON.stringify(r));
      const text = r.value.value.output.toString();
      assert.equal(r.value.value.status, 0, text);
      // The slot's prefix starts empty (the pristine file is not visible) and holds only its own file.
      assert.deepEqual(text.trim().split("\n"), ["mine", `slot${i + 1}`]);
    }
    assert.deepEqual(readdirSync(prefix), ["pristine"], "the real directory is untouched");
    for (const k of [1, 2, 3]) {
      const mine = join(root, "slots", String(k), "pkg", "mine");
      assert.ok(existsSync(mine), `slot ${k} wrote into its own directory`);
      assert.equal(readFileSync(mine, "utf8"), `slot${k}\n`);
    }
    assert.equal(pool.get(m.value.config.name)!.state.kind, "idle");
  } finally {
    await pool.close();
    tmp.remove();
  }
}

for (const kind of ["unshare", "bwrap"] as const) {
  describe(`slots in a ${kind} sandbox`, { skip: usable(kind) }, () => {
    it(
      "give each slot of one host its own copy of the shared prefix path",
      {
        timeout: 60_000,
      },
      async () => {
        await slotsSeeTheirOwn((dir) => `big local ${dir} slots=3 sandbox=${kind}`);
      },
    );
  });
}

describe("a sandbox= hook from the hosts file", { skip: usable("unshare") }, () => {
  it(
    "enters slot K's sandbox through the operator's own command",
    { timeout: 60_000 },
    async () => {
      // The operator's script: a mount namespace where ROOT/slots/K/pkg covers the prefix
      // (on NetBSD the same place holds a chroot over null mounts).
      const tmp = tempDir("sandbox-hook");
      const enter = join(tmp.path, "enter-slot");
      writeFileSync(
        enter,
        [
          "#!/bin/sh",
          "slot=$1; root=$2; prefix=$3; shift 3",
          'mkdir -p "$root/slots/$slot/pkg"',
          `exec unshare --mount --propagation private -- sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' herd-mount "$root/slots/$slot/pkg" "$prefix" "$@"`,
          "",
        ].join("\n"),
      );
      chmodSync(enter, 0o755);
      try {
        await slotsSeeTheirOwn(
          (dir, prefix) => `big local ${dir} slots=3 sandbox="${enter} {slot} {root} ${prefix}"`,
        );
      } finally {
        tmp.remove();
      }
    },
  );
});
