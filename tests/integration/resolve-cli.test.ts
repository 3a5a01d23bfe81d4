import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { readFileSync, writeFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { CLI } from "../lib/paths.js";
import { scratchDir } from "../lib/scratch.js";

const dir = scratchDir("herd-resolve-cli-");
const GOOD =
  "PKGNAME=app-1.0\nPKG_LOCATION=misc/app\nALL_DEPENDS=lib>=1:../../devel/lib\nPKGNAME=lib-1.5\nPKG_LOCATION=devel/lib\nALL_DEPENDS=\n";

function herd(
  args: string[],
  input?: string,
): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync("node", [CLI, ...args], {
    input: input ?? "",
    encoding: "latin1",
    timeout: 30_000,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function file(name: string, content: string | Buffer): string {
  const p = join(dir, name);
  writeFileSync(p, content);
  return p;
}

describe("herd resolve (CLI)", () => {
  it("reads a plain file, a .zst file and stdin alike", () => {
    const plain = file("good.txt", GOOD);
    execFileSync("zstd", ["-q", "-f", plain, "-o", join(dir, "good.txt.zst")]);
    const expected = GOOD.replace("devel/lib\n", "devel/lib\nDEPENDS=lib-1.5\n");
    assert.equal(herd(["resolve", plain]).stdout, expected);
    assert.equal(herd(["resolve", join(dir, "good.txt.zst")]).stdout, expected);
    assert.equal(herd(["resolve", "-"], GOOD).stdout, expected);
    const r = herd(["resolve", plain]);
    assert.equal(
      r.stderr,
      "2 packages: 2 buildable, 0 skipped, 0 failed, 0 indirectly skipped, 0 indirectly failed, 0 unresolved\n",
    );
  });

  it("writes -o atomically and gives NDJSON with --json", () => {
    const out = join(dir, "out.txt");
    const r = herd(["resolve", file("good2.txt", GOOD), "-o", out, "--json"]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      readFileSync(out, "latin1"),
      GOOD.replace("devel/lib\n", "devel/lib\nDEPENDS=lib-1.5\n"),
    );
    const events = r.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { type: string; buildable?: number });
    assert.equal(events.at(-1)?.type, "resolve-summary");
    assert.equal(events.at(-1)?.buildable, 2);
  });

  const bad: [string, string | Buffer, RegExp][] = [
    [
      "no-pkgname.txt",
      "PKG_LOCATION=misc/app\n",
      /no-pkgname\.txt:1: PKG_LOCATION= before any PKGNAME= line/,
    ],
    [
      "no-equals.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=misc/app\nhello\n",
      /no-equals\.txt:3: app-1\.0: line without KEY=value: "hello"/,
    ],
    [
      "dup.txt",
      GOOD + "PKGNAME=app-1.0\nPKG_LOCATION=misc/app2\nALL_DEPENDS=\n",
      /dup\.txt:7: app-1\.0: duplicate PKGNAME app-1\.0 \(first at line 1\)/,
    ],
    [
      "garbage.bin",
      Buffer.from([0x7f, 0x45, 0x4c, 0x46, 0, 1, 2, 3, 10]),
      /garbage\.bin:1: line without KEY=value/,
    ],
    [
      "crlf.txt",
      GOOD.replace(/\n/g, "\r\n"),
      /crlf\.txt:1: invalid PKGNAME "app-1\.0\\x0d": ends with CR/,
    ],
    [
      "truncated.txt",
      GOOD.slice(0, -5),
      /truncated\.txt:6: lib-1\.5: last line has no newline: the input looks truncated/,
    ],
    [
      "baddep.txt",
      GOOD.replace("../../devel/lib", "devel/lib"),
      /baddep\.txt:1: incorrect dependency "lib>=1:devel\/lib" in ALL_DEPENDS of app-1\.0/,
    ],
    [
      "hostile.txt",
      GOOD.replace("misc/app", "../../../etc"),
      /hostile\.txt:1: app-1\.0: record app-1\.0 has an unsafe PKG_LOCATION/,
    ],
  ];
  for (const [name, content, expected] of bad) {
    it(`rejects ${name} with file, line, package and a hint`, () => {
      const out = join(dir, `${name}.out`);
      writeFileSync(out, "previous good output\n");
      const r = herd(["resolve", file(name, content), "-o", out]);
      assert.equal(r.code, 2);
      const lines = r.stderr.trim().split("\n");
      assert.match(lines[0]!, /^herd: error: /);
      assert.match(lines[0]!, expected);
      assert.match(lines[1]!, /^hint: ./);
      assert.equal(lines.length, 2, "one error line and one hint, no stack trace");
      assert.equal(readFileSync(out, "utf8"), "previous good output\n", "existing output is kept");
    });
  }

  it("reports a missing input file and a corrupt .zst clearly", () => {
    const r = herd(["resolve", join(dir, "nope.txt")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /herd: error: cannot read .*nope\.txt: no such file/);
    const z = herd(["resolve", file("corrupt.zst", "not zstd at all\n")]);
    assert.equal(z.code, 2);
    assert.match(z.stderr, /herd: error: cannot decompress .*corrupt\.zst/);
    assert.ok(!existsSync(join(dir, "nope.txt")));
  });
});
