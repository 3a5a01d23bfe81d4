/** What the live build measures of a host's start costs: link speed from its puts, install time from its Depends stages. */
import assert from "node:assert/strict";
import { test } from "node:test";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  HostCostMeter,
  installSpace,
  RememberedFigures,
  type CostSink,
} from "../../src/bulk/host-costs.js";
import { hostName } from "../../src/core/hostspec.js";
import { LinkRate } from "../../src/hosts/put.js";

test("a link's rate is its puts' bytes over their time, recent puts weighing more", () => {
  const r = new LinkRate();
  const rateOf = (x: LinkRate): number | undefined => x.bytesPerSecond;
  assert.equal(rateOf(r), undefined);
  r.record(1e6, 1);
  assert.equal(rateOf(r), 1e6);
  r.record(1e6, 9);
  // (0.9 MB + 1 MB) / (0.9 s + 9 s)
  assert.equal(Math.round(rateOf(r) ?? 0), Math.round(1.9e6 / 9.9));
  assert.equal(r.totalSeconds, 10);
  r.record(5, 0);
  assert.equal(r.totalSeconds, 10, "a put of no measurable time teaches nothing");
});

test("install time per dependency: the Depends stage less its puts, over its dependencies", () => {
  const told: [string, { link?: number; install?: number }][] = [];
  const bytes: [number, number][] = [];
  const sink: CostSink = {
    setHostCosts: (name, f) => told.push([name, { ...f }]),
    setPackageBytes: (task, b) => bytes.push([task, b]),
  };
  const m = new HostCostMeter(sink);
  const last = (): [string, { link?: number; install?: number }] => told[told.length - 1]!;
  const h = hostName("vax");
  const rate = new LinkRate();
  m.stage(h, 1, rate, "Vars", 1000, 4);
  assert.deepEqual(told, [], "nothing measured yet");
  // Depends: 4 packages, 2 s of puts (2 MB), 10 s in all: 2 s per install.
  rate.record(2e6, 2);
  m.stage(h, 1, rate, "Depends", 10_000, 4);
  const figures: { link?: number; install?: number } = { link: 1e6, install: 2 };
  assert.deepEqual(last(), ["vax", figures]);
  // The next one: 1 s per install; the average keeps most of the past.
  m.stage(h, 1, rate, "Depends", 4000, 4);
  assert.equal(last()[1].install!.toFixed(2), (2 * 0.8 + 1 * 0.2).toFixed(2));
  m.built(7, 12345);
  assert.deepEqual(bytes, [[7, 12345]]);
});

test("install space: the packages to build first, then what they install from outside, sized from the repository", () => {
  const sizes = new Map([["u-1", 300]]);
  const sp = installSpace(
    [
      { pkgname: "a-1", installs: ["u-1"] },
      { pkgname: "b-1", installs: ["u-1", "a-1", "v-1"] },
    ],
    (n) => sizes.get(n),
  );
  assert.deepEqual(
    sp.installs.map((x) => [...x]),
    [[2], [2, 0, 3]],
  );
  assert.deepEqual(sp.bytes, [undefined, undefined, 300, undefined]);
  assert.equal(sp.ids.get("v-1"), 3);
});

test("remembered figures: saved after a Depends stage, read back by the next master; junk is skipped", () => {
  const dir = mkdtempSync(join(tmpdir(), "herd-figures-"));
  const mem = new RememberedFigures(dir);
  const sink: CostSink = { setHostCosts: () => undefined, setPackageBytes: () => undefined };
  const m = new HostCostMeter(sink, (h, f) => {
    mem.save(h, f);
  });
  const rate = new LinkRate();
  rate.record(2e6, 2);
  m.stage(hostName("vax"), 1, rate, "build", 1000, 2);
  assert.deepEqual([...mem.all()], [], "only a Depends stage is remembered");
  m.stage(hostName("vax"), 1, rate, "Depends", 10_000, 4);
  writeFileSync(join(dir, "torn.json"), '{"link": 5');
  writeFileSync(join(dir, "odd.json"), '{"link": -1, "install": "x"}');
  mem.save("../up", { link: 1 });
  assert.deepEqual([...new RememberedFigures(dir).all()].sort(), [
    ["odd", {}],
    ["vax", { link: 1e6, install: 2.5 }],
  ]);
});

test("remembered figures: a host's file is written at its first figures, then at most once a minute; flush writes the rest", () => {
  const dir = mkdtempSync(join(tmpdir(), "herd-figures-"));
  let now = 1_000_000;
  const mem = new RememberedFigures(dir, 60_000, () => now);
  const read = (): unknown => new RememberedFigures(dir).all().get("vax");
  mem.save("vax", { link: 1 });
  assert.deepEqual(read(), { link: 1 }, "the first figures at once");
  now += 10_000;
  mem.save("vax", { link: 2 });
  mem.save("sun3", { link: 7 });
  assert.deepEqual(read(), { link: 1 }, "10 s later: waiting");
  assert.deepEqual(
    new RememberedFigures(dir).all().get("sun3"),
    { link: 7 },
    "another host's first",
  );
  now += 50_000;
  mem.save("vax", { link: 3 });
  assert.deepEqual(read(), { link: 3 }, "a minute after the last write: written");
  now += 1_000;
  mem.save("vax", { link: 4, install: 2 });
  mem.flush();
  assert.deepEqual(read(), { link: 4, install: 2 }, "flushed at the build's end");
});
