import assert from "node:assert/strict";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import { kitOf } from "../../src/bulk/prefix.js";

const config = (bootstrapKit: string) => ({ localbase: "/usr/pkg", pkgDbDir: "", bootstrapKit });

test("kitOf: the kit file is looked at once a turn; a kit replaced is seen from the next turn", async () => {
  const dir = mkdtempSync(join(tmpdir(), "herd-kit-"));
  const file = join(dir, "kit.tar");
  writeFileSync(file, "first kit");
  const a = kitOf(config(file));
  assert.ok(a.ok && a.value !== null);
  // Replaced within the turn (a round of starts): the turn keeps the version it saw.
  writeFileSync(file, "the second kit, longer");
  utimesSync(file, new Date(), new Date(Date.now() + 5000));
  const b = kitOf(config(file));
  assert.ok(b.ok && b.value !== null);
  assert.equal(b.value.sha256, a.value.sha256);
  await turn();
  const c = kitOf(config(file));
  assert.ok(c.ok && c.value !== null);
  assert.notEqual(c.value.sha256, a.value.sha256);
  assert.equal(c.value.file, file);
  // Gone: an error naming the file, from the next turn on.
  rmSync(file);
  await turn();
  const d = kitOf(config(file));
  assert.ok(!d.ok);
  assert.match(d.error, /kit\.tar cannot be read/);
  // No kit configured: none, whatever the turn.
  const e = kitOf(config(""));
  assert.ok(e.ok && e.value === null);
});
