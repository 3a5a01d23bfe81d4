/**
 * Folding a large build (3,000 packages, 40 hosts, ~55,000 events): read
 * from the store a page at a time it gives the state folded event by
 * event; a page that merges the updates holds what a new page's snapshot
 * holds; and what a page gets stays bounded however long the build.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BusHub, StoreHub, PAGE } from "../../src/dashboard/hub.js";
import { EventBus } from "../../src/events/types.js";
import { applyEvent, emptyState, newDelta, type DashState } from "../../src/dashboard/state.js";
import { MAX_RUNS, type RunView } from "../../src/dashboard/timeline.js";
import {
  LIST_PAGE,
  runsSnapshot,
  runsUpdate,
  stateView,
  updateView,
  type HostWire,
  type StateView,
} from "../../src/dashboard/view.js";
import { Store } from "../../src/store/store.js";
import {
  appendEvents,
  cutAtSettled,
  prng,
  simulateBuild,
  syntheticTree,
  type TimedEvent,
} from "../lib/bigbuild.js";

const BASE = 1_700_000_000_000;
const sim = simulateBuild(syntheticTree(3000), {
  buildId: 1,
  hosts: 40,
  failRate: 0.08,
  seed: 5,
});

function fold(events: readonly TimedEvent[]): DashState {
  const s = emptyState();
  for (const { t, e } of events) applyEvent(s, e, BASE + t);
  return s;
}

/** What a page shows, as plain data (JSON round trip: what goes over the wire). */
function shown(s: DashState): unknown {
  return JSON.parse(JSON.stringify({ state: stateView(s), ...runsSnapshot(s) }));
}

describe("folding a large build", () => {
  it("gives the same state from the store, a page at a time, as event by event", () => {
    assert.ok(sim.events.length > 5 * PAGE, `${sim.events.length} events`);
    assert.ok(sim.failed > 2 * LIST_PAGE, `${sim.failed} failures`);
    const { head, tail } = cutAtSettled(sim.events, 2000);
    const store = new Store(":memory:");
    const id = store.startBuild("/usr/pkgsrc", "bench", BASE);
    assert.equal(id, 1);
    appendEvents(store, id, head, BASE);
    const hub = new StoreHub(store, "/nonexistent/herd.lock", 0);
    assert.deepEqual(shown(hub.state()), shown(fold(head)));
    // The rest arrives; each poll folds at most 1,000 and says whether more waits.
    appendEvents(store, id, tail, BASE);
    let polls = 0;
    while (hub.poll(1000)) polls++;
    assert.equal(polls, Math.floor(tail.length / 1000));
    assert.deepEqual(shown(hub.state()), shown(fold(sim.events)));
    assert.equal(hub.state().finished, null, "no build-end in a made-up build");
    hub.close();
  });

  it("a master resuming the build replays what the earlier one stored, a page at a time", () => {
    const { head, tail } = cutAtSettled(sim.events, 2000);
    const store = new Store(":memory:");
    const id = store.startBuild("/usr/pkgsrc", "bench", BASE);
    appendEvents(store, id, head, BASE);
    const bus = new EventBus();
    const hub = new BusHub(bus, () => store);
    const resume = {
      ...(head[0]!.e as Extract<TimedEvent["e"], { type: "build-start" }>),
      resumed: true,
    };
    const t = BASE + head.at(-1)!.t + 1;
    bus.emit(resume, t);
    const expected = fold(head);
    applyEvent(expected, resume, t);
    assert.deepEqual(shown(hub.state()), shown(expected));
    assert.equal(hub.state().build?.resumed, true);
    assert.equal(hub.state().timeline.open.size, 0, "what the old master ran is lost");
    // The new master goes on where the old one stopped (its runs start again).
    const changes: string[] = [];
    hub.subscribe((c) => changes.push(c.kind));
    for (const { t: at, e } of tail.slice(0, 500)) {
      bus.emit(e, BASE + at);
      applyEvent(expected, e, BASE + at);
    }
    assert.deepEqual(shown(hub.state()), shown(expected));
    assert.deepEqual(new Set(changes), new Set(["delta"]));
    hub.close();
  });

  it("a page that merges the updates holds what a new page's snapshot holds", () => {
    const rnd = prng(9);
    const s = emptyState();
    let i = 0;
    const step = (n: number): ReturnType<typeof newDelta> => {
      const d = newDelta();
      for (const end = Math.min(sim.events.length, i + n); i < end; i++) {
        const { t, e } = sim.events[i]!;
        applyEvent(s, e, BASE + t, d);
      }
      return d;
    };
    step(5000);
    // The page: its copy of the snapshot, then every update merged as client.ts merges it.
    const first = JSON.parse(JSON.stringify({ state: stateView(s), ...runsSnapshot(s) })) as {
      state: StateView;
      runs: RunView[];
    };
    let state = first.state;
    const hosts = new Map(state.hosts.map((h) => [h.name, h]));
    const runs = new Map(first.runs.map((r) => [r.id, r]));
    let updates = 0;
    while (i < sim.events.length) {
      const d = step(1 + Math.floor(rnd() * 400));
      const u = JSON.parse(JSON.stringify({ state: updateView(s, d), ...runsUpdate(s, d) })) as {
        state: StateView;
        runs: RunView[];
        gone: number[];
      };
      updates++;
      const lists = u.state.failures === undefined ? state : u.state;
      state = { ...u.state, failures: lists.failures ?? [], recent: lists.recent ?? [] };
      for (const h of u.state.hosts) hosts.set(h.name, h);
      for (const r of u.runs) runs.set(r.id, r);
      for (const id of u.gone) runs.delete(id);
      // An update holds the hosts and runs that changed, never all of a big build's runs.
      assert.ok(u.runs.length + u.gone.length <= 3 * 400, `${u.runs.length} runs`);
    }
    assert.ok(updates > 100);
    const merged = {
      state: { ...state, hosts: [...hosts.values()].sort((a, b) => (a.name < b.name ? -1 : 1)) },
      runs: [...runs.values()].sort((a, b) => a.id - b.id),
    };
    const fresh = shown(s) as { state: StateView & { hosts: HostWire[] }; runs: RunView[] };
    assert.deepEqual(merged.state, fresh.state);
    assert.deepEqual(merged.runs, fresh.runs);
  });

  it("keeps what a page gets bounded: the open runs and MAX_RUNS closed ones, a page of each list", () => {
    const s = fold(sim.events);
    const v = stateView(s);
    const r = runsSnapshot(s);
    const open = [...s.timeline.open.values()].flat().length;
    assert.equal(r.runs.length, MAX_RUNS + open);
    assert.equal(r.runsTotal, s.timeline.next);
    assert.equal(
      r.runsTotal,
      3000 - sim.indirect,
      "every package ran once but those failed indirectly",
    );
    assert.equal(v.failures?.length, LIST_PAGE);
    assert.equal(v.recent?.length, LIST_PAGE);
    assert.equal(v.hosts.length, 40);
    // Every settled package is still there to page through, in the order it settled.
    assert.equal(s.settled.all.length, s.counts.built + s.counts.failed + s.counts.indirect);
    assert.equal(s.counts.failed, sim.failed);
    assert.equal(s.counts.indirect, sim.indirect);
    // The timeline's bookkeeping does not grow with the build either.
    assert.equal(s.timeline.closed.length - s.timeline.head, MAX_RUNS);
    assert.ok(s.timeline.closed.length <= MAX_RUNS + 4097, `${s.timeline.closed.length}`);
  });
});
