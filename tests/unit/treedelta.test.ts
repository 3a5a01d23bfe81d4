import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import {
  isInsidePath,
  parseHostManifest,
  planDelta,
  type TreeEntry,
  type TreeManifest,
} from "../../src/hosts/treesync/treedelta.js";

const file = (crc: number, size = 1, exec = false): TreeEntry => ({
  kind: "file",
  crc,
  size,
  exec,
});
const dir: TreeEntry = { kind: "dir" };
const link: TreeEntry = { kind: "link" };

describe("tree delta", () => {
  it("accepts only plain relative paths inside the tree", () => {
    for (const p of ["a", "a/b", "-x", "a b/c", "$(touch x)", "...", "a/.b"])
      assert.ok(isInsidePath(p), p);
    for (const p of ["", "/a", "a/", "a//b", ".", "..", "../a", "a/../b", "a/.", "a\nb", "a\0"])
      assert.ok(!isInsidePath(p), JSON.stringify(p));
  });

  it("reads find + cksum output, with the x bit from its own lines", () => {
    const text = [
      "d .",
      "d ./devel",
      "x ./devel/s.sh",
      "123 4 ./devel/s.sh",
      "5 0 ./devel/a b",
      "l ./devel/link",
      "o ./devel/fifo",
      "7 1 ./-dash",
      "",
    ].join("\n");
    const m = parseHostManifest(text);
    assert.ok(m.ok);
    assert.deepEqual(
      [...m.value].sort(),
      [
        ["-dash", file(7, 1)],
        ["devel", dir],
        ["devel/a b", file(5, 0)],
        ["devel/fifo", { kind: "other" }],
        ["devel/link", link],
        ["devel/s.sh", file(123, 4, true)],
      ].sort(),
    );
  });

  it("refuses a listing it cannot account for", () => {
    for (const bad of [
      "d /etc",
      "1 2 ../x",
      "1 2 ./a/../../x",
      "what is this",
      "1 2",
      "d ./bad\uFFFDname",
      "d a",
    ]) {
      const r = parseHostManifest(`d .\n${bad}\n`);
      assert.ok(!r.ok, bad);
    }
  });

  it("removes what differs, topmost only, and sends what the host lacks", () => {
    const master: TreeManifest = new Map<string, TreeEntry>([
      ["a", dir],
      ["a/same", file(1)],
      ["a/changed", file(2)],
      ["a/mode", file(3, 1, true)],
      ["a/new", file(4)],
      ["a/link", link],
      ["b", file(5)],
      ["c", dir],
      ["c/d", dir],
    ]);
    const host: TreeManifest = new Map<string, TreeEntry>([
      ["a", dir],
      ["a/same", file(1)],
      ["a/changed", file(9)],
      ["a/mode", file(3)],
      ["a/link", link],
      ["a/gone", file(6)],
      ["b", dir],
      ["b/x", file(7)],
      ["b/y", dir],
      ["b/y/z", file(8)],
      ["c", link],
    ]);
    assert.deepEqual(planDelta(master, host), {
      remove: ["a/changed", "a/gone", "a/link", "a/mode", "b", "c"],
      send: ["a/changed", "a/link", "a/mode", "a/new", "b", "c", "c/d"],
    });
    assert.deepEqual(planDelta(master, master), { remove: ["a/link"], send: ["a/link"] });
    assert.deepEqual(planDelta(master, new Map()).send, [...master.keys()].sort());
  });

  it("turns any copy into the master's tree (property)", () => {
    const names = ["a", "b", "c"];
    const kinds = ["dir", "file", "link"] as const;
    const entry = fc.record({
      path: fc.array(fc.constantFrom(...names), { minLength: 1, maxLength: 3 }),
      kind: fc.constantFrom(...kinds),
      crc: fc.integer({ min: 0, max: 2 }),
      exec: fc.boolean(),
    });
    // Keeps a listing consistent: every ancestor of an entry is a directory.
    const tree = fc.array(entry, { maxLength: 25 }).map((es) => {
      const m = new Map<string, TreeEntry>();
      for (const e of es) {
        let okParents = true;
        for (let i = 1; i < e.path.length && okParents; i++) {
          const anc = e.path.slice(0, i).join("/");
          const have = m.get(anc);
          if (have === undefined) m.set(anc, dir);
          else if (have.kind !== "dir") okParents = false;
        }
        const path = e.path.join("/");
        if (!okParents || m.has(path)) continue;
        m.set(path, e.kind === "file" ? file(e.crc, 1, e.exec) : e.kind === "dir" ? dir : link);
      }
      return m;
    });
    fc.assert(
      fc.property(tree, tree, (master, host) => {
        const plan = planDelta(master, host);
        const result = new Map(host);
        for (const r of plan.remove) {
          assert.ok(isInsidePath(r));
          assert.ok(result.has(r), `removes ${r}, which is already gone`);
          for (const k of [...result.keys()])
            if (k === r || k.startsWith(`${r}/`)) result.delete(k);
        }
        for (const s of plan.send) {
          const parent = s.includes("/") ? s.slice(0, s.lastIndexOf("/")) : null;
          assert.ok(parent === null || result.get(parent)?.kind === "dir", `${s} has no parent`);
          assert.ok(!result.has(s), `${s} is sent over an entry that is still there`);
          result.set(s, master.get(s)!);
        }
        assert.deepEqual(
          [...result].sort(([a], [b]) => (a < b ? -1 : 1)),
          [...master].sort(([a], [b]) => (a < b ? -1 : 1)),
        );
        // Nothing identical is sent again (links aside: they are always renewed).
        for (const s of plan.send) {
          const was = host.get(s);
          const kept =
            was !== undefined && !plan.remove.some((r) => s === r || s.startsWith(`${r}/`));
          assert.ok(!kept, `${s} sent although the host kept it`);
        }
      }),
      { numRuns: 500 },
    );
  });
});
