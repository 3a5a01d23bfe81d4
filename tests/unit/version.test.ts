import { describe, it } from "node:test";
import assert from "node:assert/strict";
import fc from "fast-check";
import {
  compareBytes,
  compareParsed,
  compareVersionAt,
  compareVersions,
  deweyCmp,
  parseVersion,
  pkgOrder,
} from "../../src/core/version.js";
import type { DeweyOp } from "../../src/core/version.js";
import { pkgMatch } from "../../src/core/pattern.js";

// [a, b, sign of a compared with b]; every expectation was produced by
// pbulk's match.c compiled with gcc (x86_64), not by this implementation.
const VECTORS: readonly (readonly [string, string, -1 | 0 | 1])[] = [
  ["1.0nb1", "1.0", 1],
  ["1.0alpha", "1.0", -1],
  ["1.0pl1", "1.0", 1],
  ["1.0rc1", "1.0beta2", 1],
  ["2.0.1", "2.0_1", 0],
  ["1.2a", "1.2", 1],
  ["1.2a", "1.2.1", 0],
  ["01", "1", 0],
  ["1.0", "1.0.0", 0],
  ["1.0", "1", 0],
  ["1.0pre1", "1.0rc1", 0],
  ["1.0RC1", "1.0rc1", 0],
  ["1.0alpha", "1.0a", -1],
  ["1.0beta", "1.0alpha", 1],
  ["1.0", "1.0nb0", 0],
  ["1.0nb2", "1.0nb10", -1],
  ["1.0nb1nb2", "1.0nb2", 0],
  ["1.1", "1.0nb99", 1],
  ["", "0", 0],
  ["", "0.0.0", 0],
  ["+~", "0", 0],
  ["1.10", "1.9", 1],
  ["1.0z", "1.0.26", 0],
  ["1alpha", "1", -1],
  ["2147483648", "0", -1],
  ["4294967297", "1", 0],
  ["2147483647", "alpha", -1],
  ["1.0p", "1.0.16", 0],
  ["1.0nb", "1.0", 0],
  ["1.0-1", "1.01", -1],
  ["1.0.0.0.1", "1", 1],
  ["1.0PL2", "1.0.2", 0],
  ["1.0ALPHA1", "1.0alpha1", 0],
  ["0.9", "1.0alpha", -1],
  ["1.0alpha1", "1.0alpha", 1],
  ["1.0beta1", "1.0alpha9", 1],
  ["1.0rc", "1.0", -1],
  ["1.0.rc1", "1.0rc1", 1],
  ["1_0", "1.0", 0],
  ["1.0a", "1.0A", 0],
  ["2.0beta", "2", -1],
  ["20230101", "20221231", 1],
  ["1.0pl", "1.0", 0],
  ["1.0nb1", "1.0.0nb1", 0],
  ["1.2.3", "1.2.3nb1", -1],
  ["1.0", "1.0alpha0", 1],
  ["1.0", "1.0.a", -1],
  ["1.0é", "1.0", 0],
];

const OPS: readonly DeweyOp[] = ["<", "<=", ">", ">=", "==", "!="];

function expected(sign: -1 | 0 | 1, op: DeweyOp): boolean {
  switch (op) {
    case "<":
      return sign < 0;
    case "<=":
      return sign <= 0;
    case ">":
      return sign > 0;
    case ">=":
      return sign >= 0;
    case "==":
      return sign === 0;
    case "!=":
      return sign !== 0;
  }
}

void describe("compareVersions (vectors from pbulk's C)", () => {
  for (const [a, b, sign] of VECTORS) {
    void it(`"${a}" vs "${b}" is ${sign}`, () => {
      assert.equal(compareVersions(a, b), sign);
      for (const op of OPS) assert.equal(deweyCmp(a, op, b), expected(sign, op), `${a} ${op} ${b}`);
    });
  }
});

void describe("parseVersion", () => {
  void it("splits letters, modifiers and the nb revision", () => {
    assert.deepEqual(parseVersion("1.2a"), { parts: [1, 0, 2, 0, 1], nb: 0 });
    assert.deepEqual(parseVersion("1.0alpha2nb3"), { parts: [1, 0, 0, -3, 2], nb: 3 });
    assert.deepEqual(parseVersion("3rc1_pl2"), { parts: [3, -1, 1, 0, 0, 2], nb: 0 });
    assert.deepEqual(parseVersion("007"), { parts: [7], nb: 0 });
    assert.deepEqual(parseVersion(""), { parts: [], nb: 0 });
  });
  void it("wraps digit runs modulo 2^32 like C's int", () => {
    assert.deepEqual(parseVersion("4294967296").parts, [0]);
    assert.deepEqual(parseVersion("2147483648").parts, [-2147483648]);
  });
});

void describe("pkgOrder", () => {
  void it("prefers the higher version", () => {
    assert.equal(pkgOrder("foo-1.0", "foo-1.0nb1"), "foo-1.0nb1");
    assert.equal(pkgOrder("foo-2.0", "foo-1.9"), "foo-2.0");
    assert.equal(pkgOrder("foo-1.0rc1", "foo-1.0"), "foo-1.0");
  });
  void it("splits at the last '-'", () => {
    assert.equal(pkgOrder("foo-bar-1.0", "foo-2.0"), "foo-2.0");
    assert.equal(pkgOrder("py-foo-3", "py-foo-10"), "py-foo-10");
  });
  void it("breaks ties by byte comparison of the whole names", () => {
    assert.equal(pkgOrder("foo-1.0", "foo-1"), "foo-1.0");
    assert.equal(pkgOrder("bar-1.0", "foo-1.0"), "foo-1.0");
    assert.equal(pkgOrder("foo-1.0", "bar-1.0"), "foo-1.0");
    assert.equal(pkgOrder("foo-01", "foo-1"), "foo-1");
  });
  void it("compares by UTF-8 bytes, not UTF-16 units", () => {
    assert.equal(pkgOrder("x-1\uE000", "x-1\u{10000}"), "x-1\u{10000}");
    assert.equal(compareBytes("\uE000", "\u{10000}"), -1);
    assert.equal(compareBytes("ab", "abc"), -1);
    assert.equal(compareBytes("abc", "abc"), 0);
  });
  void it("throws when a name has no version", () => {
    assert.throws(() => pkgOrder("foo", "foo-1"), Error);
    assert.throws(() => pkgOrder("foo-1", "foo"), Error);
  });
});

// Versions whose numbers stay below 2^30, where C's int arithmetic cannot wrap.
const atom = fc.oneof(
  fc.nat({ max: 999_999_999 }).map(String),
  fc.nat({ max: 99 }).map((n) => `0${n}`),
  fc.constantFrom(
    ".",
    "_",
    "-",
    "+",
    "alpha",
    "beta",
    "pre",
    "rc",
    "pl",
    "RC",
    "a",
    "b",
    "z",
    "Q",
    "p",
    "n",
    "é",
  ),
  fc.nat({ max: 20 }).map((n) => `nb${n}`),
);
const version = fc
  .array(atom, { maxLength: 8 })
  .map((parts) => parts.join(""))
  .filter((v) => !/\d{10}/.test(v));

void describe("compareVersions properties", () => {
  void it("is antisymmetric and reflexive", () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        assert.equal(compareVersions(a, a), 0);
        assert.equal(compareVersions(a, b), -compareVersions(b, a) || 0);
      }),
      { numRuns: 2000 },
    );
  });
  void it("is transitive", () => {
    fc.assert(
      fc.property(version, version, version, (a, b, c) => {
        const sorted = [a, b, c].sort(compareVersions);
        const [x, y, z] = sorted as [string, string, string];
        assert.ok(compareVersions(x, y) <= 0 && compareVersions(y, z) <= 0);
        assert.ok(compareVersions(x, z) <= 0);
        if (compareVersions(x, y) === 0 && compareVersions(y, z) === 0)
          assert.equal(compareVersions(x, z), 0);
      }),
      { numRuns: 2000 },
    );
  });
  void it("agrees with deweyCmp, compareParsed and compareVersionAt", () => {
    fc.assert(
      fc.property(version, version, (a, b) => {
        const sign = compareVersions(a, b);
        for (const op of OPS) assert.equal(deweyCmp(a, op, b), expected(sign, op));
        assert.equal(compareParsed(parseVersion(a), parseVersion(b)), sign);
        assert.equal(compareVersionAt(`pkg-${a}`, 4, parseVersion(b)), sign);
      }),
      { numRuns: 2000 },
    );
  });
  void it("agrees with dewey patterns", () => {
    // The pattern's version must not hold '<' or '>', and the package's no '-'.
    const plain = version.map((v) => v.replaceAll("-", ""));
    fc.assert(
      fc.property(plain, plain, plain, (v, w, u) => {
        const sv = compareVersions(w, v);
        const su = compareVersions(w, u);
        assert.equal(pkgMatch(`x>=${v}`, `x-${w}`), sv >= 0);
        assert.equal(pkgMatch(`x>${v}`, `x-${w}`), sv > 0);
        assert.equal(pkgMatch(`x<${v}`, `x-${w}`), sv < 0);
        assert.equal(pkgMatch(`x<=${v}`, `x-${w}`), sv <= 0);
        assert.equal(pkgMatch(`x>=${v}<${u}`, `x-${w}`), sv >= 0 && su < 0);
        assert.equal(pkgMatch(`x>${v}<=${u}`, `x-${w}`), sv > 0 && su <= 0);
        assert.equal(pkgMatch(`y>=${v}`, `x-${w}`), false);
      }),
      { numRuns: 1000 },
    );
  });
  void it("orders like pkgOrder", () => {
    const plain = version.map((v) => v.replaceAll("-", ""));
    fc.assert(
      fc.property(plain, plain, (v, w) => {
        const a = `foo-${v}`;
        const b = `foo-${w}`;
        const sign = compareVersions(v, w);
        const winner = sign > 0 ? a : sign < 0 ? b : compareBytes(a, b) > 0 ? a : b;
        assert.equal(pkgOrder(a, b), winner);
      }),
      { numRuns: 1000 },
    );
  });
});
