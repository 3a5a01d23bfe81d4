/**
 * A partial build followed by a full one, as an operator runs them: a full
 * build, then `--pkgs` of two PKGPATHs, then the full build again. The last
 * one builds nothing (every package is up to date from one or the other
 * earlier build) and carries netkit's failure over instead of retrying it.
 * And two partial builds on one host: the second master does not send the
 * host what the first one sent it.
 */
import assert from "node:assert/strict";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, builtPackages, sandbox, type Event } from "../lib/fixture.js";

function plan(events: readonly Event[]): Record<string, number> {
  const p = events.find((e) => e.type === "plan");
  assert.ok(p !== undefined, "a plan event");
  return p.counts as Record<string, number>;
}

describe("a --pkgs build between two full builds", { timeout: 300_000 }, () => {
  it("leaves the next full build nothing to build, the failure carried over", async () => {
    const box = sandbox("pkgs-between");
    const work = join(box.dir, "work");
    const full = await build(box, work, 2);
    assert.equal(full.code, 0, full.stderr);
    assert.ok(plan(full.events).build! > 20);

    const list = join(box.dir, "two.txt");
    writeFileSync(list, "devel/libstr\nsysutils/tick1\n");
    const partial = await build(box, work, 2, list);
    assert.equal(partial.code, 0, partial.stderr);
    assert.equal(plan(partial.events).build, 0, "the two and what they need are up to date");

    const again = await build(box, work, 2);
    assert.equal(again.code, 0, again.stderr);
    const counts = plan(again.events);
    assert.equal(counts.build, 0, JSON.stringify(counts));
    assert.equal(counts["up-to-date"], builtPackages(full.events).length, JSON.stringify(counts));
    assert.equal(counts.failed, 2, "netkit's and broken's failures are carried over");
    assert.ok(!again.events.some((e) => e.type === "package-start"), "nothing ran");
  });

  it("a second partial build on the same host: what the first master sent is not sent again", async () => {
    const box = sandbox("pkgs-held");
    const work = join(box.dir, "work");
    const list = join(box.dir, "one.txt");
    writeFileSync(list, "sysutils/tick2\n");
    const partial = await build(box, work, 1, list);
    assert.equal(partial.code, 0, partial.stderr);
    const record = join(work, "sent", "local1");
    const sentBefore = new Set(
      readFileSync(record, "latin1")
        .split("\n")
        .filter((l) => l !== "")
        .map((l) => l.split(" ")[2]!),
    );
    assert.ok(sentBefore.size > 0, "the first master sent local1 the dependencies of tick2");

    // tick3 installs tick1, which the first master sent for tick2, and tick2, built there but never sent.
    const next = join(box.dir, "next.txt");
    writeFileSync(next, "sysutils/tick3\n");
    const full = await build(box, work, 1, next);
    assert.equal(full.code, 0, full.stderr);
    // Every Depends log of the second master: what it sent, and what pkg_add installed.
    const sentAgain: string[] = [];
    const installedHeld: string[] = [];
    const logs = join(work, "logs");
    for (const pkg of readdirSync(logs)) {
      const f = join(logs, pkg, "Depends.log");
      if (!existsSync(f) || !builtIn(full.events, pkg)) continue;
      const text = readFileSync(f, "latin1");
      for (const m of text.matchAll(/^sent (\S+) \(/gm))
        if (sentBefore.has(m[1]!)) sentAgain.push(`${pkg}: ${m[1]!}`);
      for (const m of text.matchAll(/^pkg_add (.*)$/gm))
        for (const file of m[1]!.split(" "))
          if (sentBefore.has(file.replace(/^.*\//, ""))) installedHeld.push(`${pkg}: ${file}`);
    }
    assert.deepEqual(sentAgain, [], "nothing the host held was sent again");
    assert.ok(installedHeld.length > 0, "the second master installed packages the first had sent");
  });
});

/** Whether the package started in this run (its logs are this run's). */
function builtIn(events: readonly Event[], pkg: string): boolean {
  return events.some((e) => e.type === "package-start" && e.pkgname === pkg);
}
