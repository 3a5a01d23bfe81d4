import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  PatternError,
  candidatePrefixes,
  clearPatternCache,
  compilePattern,
  patternError,
  pkgMatch,
} from "../../src/core/pattern.js";
import { fnmatch } from "../../src/core/glob.js";

// [pattern, package name, result]; "error" where pbulk exits with
// "Malformed alternate". Every expectation was produced by pbulk's match.c
// with NetBSD's fnmatch.c 1.26, compiled with gcc, not by this implementation.
const VECTORS: readonly (readonly [string, string, boolean | "error"])[] = [
  ["foo-[0-9]*", "foo-bar-1.0", false],
  ["foo-[0-9]*", "foo-1.0", true],
  ["foo-[0-9]*", "foo-", false],
  ["{a,b}-[0-9]*", "a-1", true],
  ["{a,b}-[0-9]*", "b-2nb1", true],
  ["{a,b}-[0-9]*", "c-1", false],
  ["{a,{b,c}}d>=1", "ad-1", true],
  ["{a,{b,c}}d>=1", "cd-1.1", true],
  ["{a,{b,c}}d>=1", "cd-0.9", false],
  ["{a,{b,c}}d>=1", "d-1", false],
  ["foo>=1.0<2", "foo-1.5", true],
  ["foo>=1.0<2", "foo-2.0", false],
  ["foo>=1.0<2", "foo-1.0", true],
  ["foo>=1.0<2", "foo-0.9", false],
  ["foo>=1.0<2", "foo-2.0alpha", true],
  ["foo>1<=2", "foo-2nb1", false],
  ["foo>1<=2", "foo-1nb1", true],
  ["foo<=2", "foo-2nb1", false],
  ["foo<2", "foo-2alpha", true],
  ["foo>=1.0", "foo-bar-1.0", false],
  ["foo>=1.0", "foo", false],
  ["foo-bar>=1", "foo-bar-1", true],
  ["foo>=1", "Foo-1", false],
  ["foo-[a-c]*", "foo-bar", true],
  ["foo-[!0-9]*", "foo-bar-1", true],
  ["foo-[^0-9]*", "foo-1", false],
  ["foo-1.[0-9]", "foo-1.5", true],
  ["*", "._foo", false],
  ["?foo", ".foo", false],
  ["[.]foo", ".foo", true],
  [".foo", ".foo", true],
  ["*foo", "afoo", true],
  ["*.foo", ".foo", false],
  ["foo\\*", "foo*", true],
  ["foo\\*", "foox", false],
  ["a[]]b", "a]b", true],
  ["a[!]]b", "axb", true],
  ["a[!]]b", "a]b", false],
  ["a[/]b", "a[/]b", true],
  ["a[/]b", "a/b", false],
  ["foo-[0-9", "foo-[0-9", false],
  ["foo]", "foo]", true],
  ["a*\\", "ab", false],
  ["[a-]", "-", true],
  ["[\\]]", "]", true],
  ["[z-a]", "m", false],
  ["foo-1.0", "foo-1.0", true],
  ["foo\\-1", "foo\\-1", true],
  ["fo*>=1", "foo-1", false],
  ["fo*>=1", "fo*-1", true],
  ["ab{c", "xy", false],
  ["ab{c", "abc", "error"],
  ["{a", "zzz", "error"],
  ["{a,b}{c", "ac", "error"],
  ["{a,b}}", "a}", true],
  ["{,foo}bar", "bar", true],
  ["{}", "", true],
  ["a{b,c}d-[0-9]*", "acd-1", true],
  ["foo>=1.0alpha", "foo-1.0alpha1", true],
  ["pkg>=1.0<1.0", "pkg-1.0", false],
  ["foo>=", "foo-0", true],
  ["foo<>1", "foo-0.5", true],
  ["foo>=1>0", "foo-1", true],
  ["foo>1<2<3", "foo-2.1", true],
  ["foo==1", "foo-1", false],
  ["foo<=1.0nb2", "foo-1.0nb2", true],
  ["foo<=1.0nb2", "foo-1.0nb3", false],
  ["py{27,311}-foo>=1", "py311-foo-1", true],
  ["{x,y}-[0-9]*", "y-1.0", true],
  ["*-[0-9]*", "-1", true],
  ["[a-c][!a-c]*", "ab", false],
  ["[a-c][!a-c]*", "ad", true],
  ["a?c", "a.c", true],
  ["???", "ab", false],
  ["foo-[[]", "foo-[", true],
  ["foo-[[]x", "foo-[x", true],
  ["{a,b", "a", "error"],
  ["{a,b}c{d", "acd", "error"],
  ["{a,ab}c{d", "xyz", false],
  ["a{,b}{c,d}", "abd", true],
];

/** pkgMatch as a value: true, false or "error". */
function outcome(pattern: string, name: string): boolean | "error" {
  try {
    return pkgMatch(pattern, name);
  } catch (e) {
    if (e instanceof PatternError) return "error";
    throw e;
  }
}

void describe("pkgMatch (vectors from pbulk's C)", () => {
  for (const [pattern, name, result] of VECTORS) {
    void it(`${JSON.stringify(pattern)} on ${JSON.stringify(name)} is ${String(result)}`, () => {
      assert.equal(outcome(pattern, name), result);
      if (result !== "error") assert.equal(compilePattern(pattern)(name), result);
      if (result !== false) {
        const prefixes = candidatePrefixes(pattern);
        assert.ok(
          prefixes.some((p) => name.startsWith(p)),
          `${name} lacks all of ${JSON.stringify(prefixes)}`,
        );
      }
    });
  }
});

void describe("fnmatch details", () => {
  void it("makes a trailing backslash match the end of the name (C reads past the NUL there)", () => {
    assert.equal(fnmatch("a\\", "a"), true);
    assert.equal(fnmatch("a\\", "a\\"), false);
    assert.equal(fnmatch("a*\\", "ab"), false);
  });
  void it("gives up after 64 nested stars, as NetBSD does", () => {
    assert.equal(fnmatch("*a".repeat(63), "a".repeat(63)), true);
    assert.equal(fnmatch("*a".repeat(64), "a".repeat(64)), false);
    assert.equal(fnmatch("x*".repeat(64), "x".repeat(64)), true);
  });
  void it("matches '?' and brackets against single UTF-8 bytes", () => {
    assert.equal(fnmatch("??", "é"), true);
    assert.equal(fnmatch("?", "é"), false);
    assert.equal(fnmatch("[!a][!a]", "é"), true);
    assert.equal(fnmatch("[é]", "é"), false);
    assert.equal(fnmatch("*?x", "éx"), true);
    assert.equal(fnmatch("é-[0-9]*", "é-1"), true);
  });
});

void describe("PatternError", () => {
  void it("is thrown only when a malformed expansion passes the quick check", () => {
    assert.equal(pkgMatch("ab{c", "xyz"), false);
    assert.throws(
      () => pkgMatch("ab{c", "abc"),
      (e: unknown) => e instanceof PatternError && e.pattern === "ab{c" && e.fragment === "ab{c",
    );
  });
  void it("names the pattern and the malformed expansion", () => {
    // "b{c" is malformed too, but pbulk's quick check skips it for "ac".
    assert.throws(
      () => pkgMatch("{a,b}{c", "ac"),
      (e: unknown) =>
        e instanceof PatternError &&
        e.pattern === "{a,b}{c" &&
        e.fragment === "a{c" &&
        e.message.includes("{a,b}{c"),
    );
  });
  void it("is still thrown when an earlier alternative matched, as pbulk tries them all", () => {
    assert.throws(() => pkgMatch("{a,{b}c{d}", "a"), PatternError);
  });
  void it("can be found without a package name", () => {
    assert.ok(patternError("foo-{1,2") instanceof PatternError);
    assert.ok(patternError("{a,b}{c") instanceof PatternError);
    assert.equal(patternError("{a,b}-[0-9]*"), undefined);
    assert.equal(patternError("foo>=1"), undefined);
  });
  void it("does not stop compiling", () => {
    const m = compilePattern("x{");
    assert.equal(m("abc"), false);
    assert.throws(() => m("x"), PatternError);
  });
});

void describe("candidatePrefixes", () => {
  void it("expands alternates and stops at glob characters", () => {
    assert.deepEqual(candidatePrefixes("{a,b}-[0-9]*"), ["a-", "b-"]);
    assert.deepEqual(candidatePrefixes("py{27,311}-foo>=1"), ["py27-foo-", "py311-foo-"]);
    assert.deepEqual(candidatePrefixes("foo>=1.0<2"), ["foo-"]);
    assert.deepEqual(candidatePrefixes("foo-[0-9]*"), ["foo-"]);
    assert.deepEqual(candidatePrefixes("foo\\*bar"), ["foo*bar"]);
    assert.deepEqual(candidatePrefixes("foo-1.0"), ["foo-1.0"]);
    assert.deepEqual(candidatePrefixes("*foo"), [""]);
  });
  void it("drops prefixes implied by shorter ones", () => {
    assert.deepEqual(candidatePrefixes("{foo,foo-bar,fo}-[0-9]*"), ["fo-", "foo-"]);
    assert.deepEqual(candidatePrefixes("{x,*}"), [""]);
  });
  void it("is empty when nothing can match", () => {
    assert.deepEqual(candidatePrefixes("foo-[0-9"), []);
  });
  void it("covers names that make the matcher throw", () => {
    assert.deepEqual(candidatePrefixes("ab{c"), ["ab"]);
  });
});

// Small alphabets make matches, near misses and malformed patterns common.
const patternChar = fc.constantFrom(
  ..."ab1-.*?[]!^\\/{},<>=".split(""),
  "é",
  "[0-9]",
  "{a,b}",
  ">=1",
  "<2",
  "foo",
);
const nameChar = fc.constantFrom(..."ab1-.[]!\\/{},é".split(""), "foo", "-1.0", "-2nb1");
const patternArb = fc.array(patternChar, { maxLength: 8 }).map((a) => a.join(""));
const nameArb = fc.array(nameChar, { maxLength: 7 }).map((a) => a.join(""));

void describe("pattern properties", () => {
  void it("candidatePrefixes never misses a match or an error", () => {
    fc.assert(
      fc.property(patternArb, nameArb, (pattern, name) => {
        const result = outcome(pattern, name);
        if (result === false) return;
        assert.ok(candidatePrefixes(pattern).some((p) => name.startsWith(p)));
      }),
      { numRuns: 20000 },
    );
  });
  void it("candidatePrefixes never misses names built to match", () => {
    // Names made from the pattern by filling in its metacharacters often match.
    const fill = fc.array(fc.constantFrom("", "a", "1", "-", "."), {
      minLength: 16,
      maxLength: 16,
    });
    fc.assert(
      fc.property(patternArb, fill, (pattern, fills) => {
        let k = 0;
        const name = pattern.replace(/[*?[\]{}\\,<>=]/g, () => fills[k++ % fills.length] ?? "");
        if (outcome(pattern, name) === false) return;
        assert.ok(candidatePrefixes(pattern).some((p) => name.startsWith(p)));
      }),
      { numRuns: 20000 },
    );
  });
  void it("an alternate matches when one of its expansions does", () => {
    const simple = fc.array(fc.constantFrom("a", "b", "1", "-", "*", "?", "[a-b]", ">=1", "<2"), {
      maxLength: 4,
    });
    fc.assert(
      fc.property(simple, simple, nameArb, (x, y, name) => {
        const a = x.join("");
        const b = y.join("");
        assert.equal(pkgMatch(`{${a},${b}}`, name), pkgMatch(a, name) || pkgMatch(b, name));
      }),
      { numRuns: 5000 },
    );
  });
  void it("compiled matchers survive a cache flush unchanged", () => {
    fc.assert(
      fc.property(patternArb, nameArb, (pattern, name) => {
        const before = outcome(pattern, name);
        clearPatternCache();
        assert.equal(outcome(pattern, name), before);
      }),
      { numRuns: 2000 },
    );
  });
});
