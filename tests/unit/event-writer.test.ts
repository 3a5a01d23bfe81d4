/**
 * The store's writer, the event bus's recorder: it hears every event first,
 * moves packages through their machine, batches its commits, commits a
 * built package before anyone hears of it, and keeps a failed commit for
 * whoever asks next.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";

import type { PackageState } from "../../src/core/pkgstate.js";
import { EventBus, type BuildEvent } from "../../src/events/types.js";
import { packageRow, Store } from "../../src/store/store.js";
import type { PackageRow } from "../../src/store/types.js";
import { EventWriter } from "../../src/store/writer.js";

function planned(pkgname: string, state: PackageState = "pending"): PackageRow {
  return packageRow(pkgname, `cat/${pkgname.replace(/-[^-]*$/, "")}`, state);
}

/** A store with one build of `names` (pending), its writer recording a bus. */
function setup(names: readonly string[], o: ConstructorParameters<typeof EventWriter>[2] = {}) {
  const store = new Store(":memory:");
  const build = store.startBuild("/tree", "id", 0);
  store.insertPackages(
    build,
    names.map((n) => planned(n)),
  );
  const writer = new EventWriter(store, build, o);
  const bus = new EventBus();
  writer.attach(bus);
  writer.track(names.map((n) => [n, "pending"]));
  const row = (name: string): PackageRow => store.packages(build).find((r) => r.pkgname === name)!;
  return { store, build, writer, bus, row };
}

const start = (pkgname: string, host = "h1"): Extract<BuildEvent, { type: "package-start" }> => ({
  type: "package-start",
  pkgname,
  pkgpath: `cat/${pkgname}`,
  host,
  slot: 1,
  startedMs: 1000,
});

const end = (pkgname: string, result: "built" | "failed" | "lost", more = {}): BuildEvent => ({
  type: "package-end",
  pkgname,
  pkgpath: `cat/${pkgname}`,
  host: "h1",
  result,
  wallMs: 5,
  ...more,
});

describe("event writer", () => {
  it("writes each event's facts: states through the machine, rows, stages", () => {
    const { store, build, writer, bus, row } = setup(["a-1", "b-1", "c-1", "d-1"]);
    bus.emit(start("a-1"), 1001);
    bus.emit(
      {
        type: "stage",
        pkgname: "a-1",
        pkgpath: "cat/a",
        host: "h1",
        stage: "build",
        status: 0,
        wallMs: 30,
        startedMs: 1010,
        log: "/logs/a-1/build.log",
      },
      1040,
    );
    bus.emit(end("a-1", "failed", { stage: "build", reason: "exit 1" }), 1050);
    bus.emit({ type: "indirect-failed", pkgname: "b-1", culprit: "a-1" }, 1051);
    bus.emit(
      end("c-1", "failed", { host: "master", stage: "fetch", reason: "404", refused: true }),
      1052,
    );
    bus.emit(start("d-1", "h2"), 1053);
    bus.emit(end("d-1", "lost", { host: "h2", reason: "host lost" }), 1054);
    writer.flush();
    assert.deepEqual(row("a-1"), {
      ...planned("a-1", "failed"),
      host: "h1",
      startedMs: 1000,
      finishedMs: 1050,
      failedStage: "build",
      reason: "exit 1",
    });
    assert.deepEqual(store.stages(build), [
      {
        pkgname: "a-1",
        pkgpath: "cat/a",
        stage: "build",
        host: "h1",
        startedMs: 1010,
        wallMs: 30,
        status: 0,
        log: "/logs/a-1/build.log",
      },
    ]);
    assert.deepEqual(row("b-1"), {
      ...planned("b-1", "indirect-failed"),
      culprit: "a-1",
      reason: "depends on a-1",
    });
    assert.deepEqual(row("c-1"), {
      ...planned("c-1", "failed"),
      failedStage: "fetch",
      reason: "404",
      finishedMs: 1052,
    });
    assert.deepEqual(row("d-1"), { ...planned("d-1", "pending"), finishedMs: null });
    assert.equal(writer.state("d-1"), "pending");

    bus.emit({ type: "retry", pkgname: "a-1", revived: ["b-1"] }, 1100);
    writer.flush();
    assert.deepEqual(row("a-1"), planned("a-1", "pending"));
    assert.deepEqual(row("b-1"), planned("b-1", "pending"));
    assert.deepEqual(
      store.events(build).map((e) => [e.type, e.timeMs]),
      [
        ["package-start", 1001],
        ["stage", 1040],
        ["package-end", 1050],
        ["indirect-failed", 1051],
        ["package-end", 1052],
        ["package-start", 1053],
        ["package-end", 1054],
        ["retry", 1100],
      ],
    );
    assert.deepEqual(JSON.parse(store.events(build)[0]!.data), start("a-1"));
    writer.close();
  });

  it("leaves a package's record to its first copy", () => {
    const { writer, bus, row } = setup(["a-1"]);
    bus.emit(start("a-1", "slow"), 1);
    bus.emit({ ...start("a-1", "fast"), startedMs: 2, extra: true }, 2);
    bus.emit(end("a-1", "built", { host: "fast", sha256: "ab", size: 3 }), 3);
    assert.deepEqual(row("a-1"), {
      ...planned("a-1", "built"),
      host: "fast",
      startedMs: 1000,
      finishedMs: 3,
      sha256: "ab",
      size: 3,
    });
    writer.close();
  });

  it("refuses a move the machine does not draw, and a package it does not know", () => {
    const { writer, bus } = setup(["a-1"]);
    assert.throws(() => {
      bus.emit(end("a-1", "built"));
    }, /bug: package a-1: built in state pending/);
    assert.throws(() => {
      bus.emit(start("zz-1"));
    }, /bug: package zz-1: start in state unknown/);
    writer.close();
  });

  it("commits in batches: at most maxEvents, or maxDelayMs after the first", async () => {
    const { store, build, writer, bus } = setup([], { maxEvents: 100, maxDelayMs: 20 });
    for (let i = 0; i < 250; i++) bus.emit({ type: "warning", message: `w${i}` }, i);
    assert.equal(writer.commits, 2);
    assert.equal(store.events(build).length, 200, "the rest waits");
    await sleep(100);
    assert.equal(writer.commits, 3);
    assert.deepEqual(
      store.events(build).map((e) => e.timeMs),
      Array.from({ length: 250 }, (_, i) => i),
      "in order",
    );
    bus.emit({ type: "warning", message: "last" });
    writer.flush();
    assert.equal(writer.commits, 4);
    writer.flush();
    assert.equal(writer.commits, 4, "nothing waits: no commit");
    writer.close();
  });

  it("commits a built package before anyone else hears of it", () => {
    const { writer, bus, row } = setup(["a-1"], { maxDelayMs: 60_000 });
    bus.emit(start("a-1"));
    const heard: string[] = [];
    bus.on((e) => {
      if (e.type === "package-end") heard.push(`${e.result}: store says ${row("a-1").state}`);
    });
    bus.emit(end("a-1", "built", { sha256: "ab", size: 3 }), Date.now(), () => {
      heard.push(`recorded: store says ${row("a-1").state} ${row("a-1").sha256 ?? ""}`);
    });
    assert.deepEqual(heard, ["recorded: store says built ab", "built: store says built"]);
    assert.equal(writer.commits, 1, "the start went with it");
    writer.close();
  });

  it("keeps a failed commit: flush throws it, nothing more is written", async () => {
    const full = Object.assign(new Error("database or disk is full"), { code: "SQLITE_FULL" });
    const { store, build, writer, bus } = setup(["a-1"], { maxDelayMs: 5 });
    const tx = store.tx.bind(store);
    let failing = true;
    store.tx = <T>(fn: () => T): T => {
      if (failing) throw full;
      return tx(fn);
    };
    bus.emit(start("a-1"));
    await sleep(50);
    assert.equal(writer.failure?.error, full, "the timer's commit failed, quietly");
    failing = false;
    bus.emit({ type: "warning", message: "after" });
    assert.throws(() => {
      writer.flush();
    }, full);
    const heard: string[] = [];
    bus.on((e) => heard.push(e.type));
    assert.throws(() => {
      bus.emit(end("a-1", "built"), Date.now(), () => {
        writer.flush();
      });
    }, full);
    assert.deepEqual(heard, [], "nobody hears of a package the store could not record");
    writer.close();
    assert.deepEqual(store.events(build), []);
    assert.equal(store.packages(build)[0]?.state, "pending");
  });
});

describe("event bus", () => {
  it("lets its recorder hear each event before the other listeners", () => {
    const bus = new EventBus();
    const order: string[] = [];
    bus.on(() => order.push("listener"));
    const off = bus.record(() => order.push("recorder"));
    assert.throws(() => bus.record(() => undefined), /a recorder already/);
    bus.emit({ type: "warning", message: "x" }, 0, () => order.push("recorded"));
    off();
    bus.emit({ type: "warning", message: "y" });
    assert.deepEqual(order, ["recorder", "recorded", "listener", "listener"]);
  });
});
