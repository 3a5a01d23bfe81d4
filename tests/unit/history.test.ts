import assert from "node:assert/strict";
import { test } from "node:test";
import { latestByPackage, parseHistory } from "../../src/core/history.js";

const HEADER =
  "timestamp,pkgpath,pkgname,outcome,stage,make_jobs,duration,disk_usage,pre-clean,depends,build,cpu:pre-clean,cpu:build";

test("rows carry total wall time and measured stages; '-' is not measured", () => {
  const r = parseHistory(
    `${HEADER}\n1772302376,mail/tb,tb-1,success,-,1,89267,87286310,451,45313,1109,361,-\n` +
      `1772277728,devel/hdf5,hdf5-1.14.6,failed,configure,4,50859,200,446,4862,-,308,-\r\n`,
  );
  assert.ok(r.ok);
  assert.equal(r.rows.length, 2);
  const [tb, hdf5] = r.rows;
  assert.equal(tb!.pkgname, "tb-1");
  assert.equal(tb!.pkgpath, "mail/tb");
  assert.equal(tb!.durationMs, 89267);
  assert.equal(tb!.stage, undefined);
  assert.equal(tb!.makeJobs, 1);
  assert.deepEqual(
    [...tb!.stages],
    [
      ["pre-clean", 451],
      ["depends", 45313],
      ["build", 1109],
      ["cpu:pre-clean", 361],
    ],
  );
  assert.equal(hdf5!.outcome, "failed");
  assert.equal(hdf5!.stage, "configure");
  assert.equal(hdf5!.line, 3);
});

test("quoted fields may hold commas", () => {
  const r = parseHistory(`pkgname,outcome,duration,note\n"a,1",success,5,"say ""hi"""\n`);
  assert.ok(r.ok);
  assert.equal(r.rows[0]!.pkgname, "a,1");
});

test("errors name the line", () => {
  const cases: [string, number, RegExp][] = [
    ["", 1, /no header/],
    ["pkgname,duration\n", 1, /lacks the column "outcome"/],
    [`${HEADER}\n1,a/b,a-1,success,-,1,100,0,1,2,3,4\n`, 2, /expected 13 fields/],
    [
      `${HEADER}\n1,a/b,a-1,success,-,1,100,0,1,2,3,4,5\n2,a/b,b-1,ok,-,1,100,0,1,2,3,4,5\n`,
      3,
      /outcome must be/,
    ],
    [`${HEADER}\n1,a/b,a-1,success,-,1,fast,0,1,2,3,4,5\n`, 2, /duration must be a number/],
    [`${HEADER}\n1,a/b,a-1,success,-,1,100,0,1,x,3,4,5\n`, 2, /column depends/],
    [`${HEADER}\n1,a/b,,success,-,1,100,0,1,2,3,4,5\n`, 2, /empty pkgname/],
    [`pkgname,outcome,duration\n"a,success,1\n`, 2, /unterminated/],
  ];
  for (const [text, line, message] of cases) {
    const r = parseHistory(text);
    assert.ok(!r.ok, text);
    assert.equal(r.error.line, line, text);
    assert.match(r.error.message, message);
  }
});

test("the latest build of a package wins", () => {
  const r = parseHistory(
    `${HEADER}\n5,a/b,a-1,failed,build,1,2000,0,1,2,3,4,5\n9,a/b,a-1,success,-,1,3000,700,1,2,3,4,5\n7,a/b,a-1,success,-,1,9000,0,1,2,3,4,5\n`,
  );
  assert.ok(r.ok);
  assert.deepEqual(latestByPackage(r.rows).get("a-1"), {
    seconds: 3,
    ok: true,
    pkgpath: "a/b",
    diskUsage: 700,
  });
});
