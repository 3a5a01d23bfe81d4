import assert from "node:assert/strict";
import { test } from "node:test";
import {
  acceptsTasks,
  describeState,
  transition,
  type HostEvent,
  type HostState,
} from "../../src/hosts/state.js";

const STATES: readonly HostState[] = [
  { kind: "connecting" },
  { kind: "syncing" },
  { kind: "idle" },
  { kind: "busy", running: 2 },
  { kind: "draining", running: 1 },
  { kind: "gone", reason: "drained" },
  { kind: "lost", reason: "x", quarantine: null },
  { kind: "lost", reason: "x", quarantine: "failed 3 times" },
];

const EVENTS: readonly HostEvent[] = [
  { type: "connected" },
  { type: "synced" },
  { type: "resync" },
  { type: "taskStarted" },
  { type: "taskEnded" },
  { type: "drain" },
  { type: "remove", reason: "operator" },
  { type: "linkLost", reason: "cut", quarantine: null },
  { type: "retry" },
];

/** The legal moves, as "state+event → state" (kinds only). */
const LEGAL = new Set([
  "connecting+connected>syncing",
  "connecting+drain>gone",
  "connecting+remove>gone",
  "connecting+linkLost>lost",
  "syncing+synced>idle",
  "syncing+drain>gone",
  "syncing+remove>gone",
  "syncing+linkLost>lost",
  "idle+taskStarted>busy",
  "idle+resync>syncing",
  "idle+drain>gone",
  "idle+remove>gone",
  "idle+linkLost>lost",
  "busy+taskStarted>busy",
  "busy+taskEnded>busy",
  "busy+taskEnded>idle",
  "busy+drain>draining",
  "busy+remove>gone",
  "busy+linkLost>lost",
  "draining+taskEnded>draining",
  "draining+taskEnded>gone",
  "draining+drain>draining",
  "draining+remove>gone",
  "draining+linkLost>gone",
  "lost+retry>connecting",
  "lost+drain>gone",
  "lost+remove>gone",
  "lost+linkLost>lost",
]);

test("the transition table is exactly the drawn machine; gone is terminal", () => {
  for (const s of STATES) {
    for (const e of EVENTS) {
      const r = transition(s, e);
      const quarantined = s.kind === "lost" && s.quarantine !== null;
      if (r.ok) {
        const key = `${s.kind}+${e.type}>${r.value.kind}`;
        assert.ok(LEGAL.has(key), `unexpected legal move ${key}`);
      } else {
        assert.deepEqual(r.error, { from: s.kind, event: e.type });
        const legalFromHere = [...LEGAL].some((k) => k.startsWith(`${s.kind}+${e.type}>`));
        assert.ok(
          !legalFromHere || (quarantined && e.type === "retry"),
          `${s.kind}+${e.type} refused`,
        );
      }
    }
  }
});

test("slot counting: busy counts up and down, draining ends in gone", () => {
  let s: HostState = { kind: "idle" };
  const step = (e: HostEvent): void => {
    const r = transition(s, e);
    assert.ok(r.ok);
    s = r.value;
  };
  step({ type: "taskStarted" });
  step({ type: "taskStarted" });
  assert.deepEqual(s, { kind: "busy", running: 2 });
  step({ type: "taskEnded" });
  assert.deepEqual(s, { kind: "busy", running: 1 });
  step({ type: "taskStarted" });
  step({ type: "drain" });
  assert.deepEqual(s, { kind: "draining", running: 2 });
  assert.equal(acceptsTasks(s), false);
  step({ type: "taskEnded" });
  step({ type: "taskEnded" });
  assert.deepEqual(s, { kind: "gone", reason: "drained" });
});

test("a quarantined host is not retried and says why", () => {
  const q: HostState = { kind: "lost", reason: "cut", quarantine: "failed 3 times in a row" };
  assert.equal(transition(q, { type: "retry" }).ok, false);
  assert.equal(describeState(q), "quarantined: failed 3 times in a row");
  const r = transition(q, { type: "remove", reason: "operator" });
  assert.ok(r.ok && r.value.kind === "gone");
});
