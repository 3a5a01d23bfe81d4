import assert from "node:assert/strict";
import { test } from "node:test";
import {
  initialState,
  isSettled,
  packageTransition,
  type PackageEvent,
  type PackageState,
} from "../../src/core/pkgstate.js";

const STATES: readonly PackageState[] = [
  "pending",
  "building",
  "built",
  "up-to-date",
  "failed",
  "indirect-failed",
  "skipped",
  "indirect-skipped",
  "unresolved",
];
const EVENTS: readonly PackageEvent["type"][] = [
  "start",
  "built",
  "failed",
  "lost",
  "blocked",
  "refused",
  "retry",
];

test("a package's machine allows exactly the drawn moves", () => {
  const legal: Record<string, PackageState> = {
    "pending start": "building",
    "pending blocked": "indirect-failed",
    "pending refused": "failed",
    "building built": "built",
    "building failed": "failed",
    "building lost": "pending",
    "failed retry": "pending",
    "indirect-failed retry": "pending",
  };
  for (const s of STATES)
    for (const type of EVENTS) {
      const r = packageTransition(s, { type });
      const want = legal[`${s} ${type}`];
      if (want === undefined) assert.deepEqual(r, { ok: false, error: { from: s, event: type } });
      else assert.deepEqual(r, { ok: true, value: want }, `${s} ${type}`);
    }
});

test("the plan's states map onto the machine; only pending and building are unsettled", () => {
  assert.equal(initialState("build"), "pending");
  assert.equal(initialState("indirect-skipped"), "indirect-skipped");
  assert.deepEqual(
    STATES.filter((s) => !isSettled(s)),
    ["pending", "building"],
  );
});
