/** What each host was sent, remembered across masters: held only while both sides still have the same file. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { HostHoldings, parseListing, parseSent } from "../../src/bulk/host-holdings.js";

const LISTING = `total 12
-rw-r--r-- 1 0 0 5 Dec  6 01:00 a-1.0.tgz
-rw-r--r-- 1 0 0 7 Dec  6 01:00 b-1.0.tgz
drwxr-xr-x 2 0 0 4096 Dec  6 01:00 sub
-rw-r--r-- 1 0 0 3 Dec  6 01:00 c-1.0.tgz
`;

test("an ls -ln listing: plain files and their sizes", () => {
  assert.deepEqual(
    [...parseListing(LISTING)],
    [
      ["a-1.0.tgz", 5],
      ["b-1.0.tgz", 7],
      ["c-1.0.tgz", 3],
    ],
  );
});

test("a record: the last line of a file wins, torn and hostile lines are skipped", () => {
  const m = parseSent("5 100 a-1.0.tgz\n5 1\n7 200.5 a-1.0.tgz\n3 9 ../x.tgz\n3 9 c d\n");
  assert.deepEqual([...m], [["a-1.0.tgz", { size: 7, mtimeMs: 200.5 }]]);
});

test("held: the host has a file of that size and the master's is as it was sent", () => {
  const dir = mkdtempSync(join(tmpdir(), "herd-holdings-"));
  const repo = join(dir, "All");
  const hosts = join(dir, "hosts");
  mkdirSync(repo);
  for (const [f, body] of [
    ["a-1.0.tgz", "aaaaa"],
    ["b-1.0.tgz", "bbbbbbb"],
    ["c-1.0.tgz", "ccc"],
    ["d-1.0.tgz", "dd"],
  ] as const)
    writeFileSync(join(repo, f), body);
  const h = new HostHoldings(hosts, repo);
  assert.equal(h.known("vax"), false);
  for (const f of ["a-1.0.tgz", "b-1.0.tgz", "c-1.0.tgz", "d-1.0.tgz"]) h.sent("vax", f);
  assert.equal(h.known("vax"), true);
  // b was built again since (a new mtime); c has another size on the host; d is not there at all.
  utimesSync(join(repo, "b-1.0.tgz"), new Date(), new Date(Date.now() + 5000));
  const listing = LISTING.replace(" 3 Dec", " 4 Dec");
  assert.deepEqual(h.held("vax", listing), ["a-1.0.tgz"]);
  // The record keeps only what is held.
  assert.deepEqual(
    [...parseSent(readFileSync(join(hosts, "vax"), "latin1")).keys()],
    ["a-1.0.tgz"],
  );
  // Another host was sent nothing; a name that cannot be a file is never used as one.
  assert.deepEqual(h.held("m68k", LISTING), []);
  h.sent("../evil", "a-1.0.tgz");
  assert.equal(h.known("../evil"), false);
});

test("known: the records in the directory when made, then what it writes itself", () => {
  const dir = mkdtempSync(join(tmpdir(), "herd-holdings-"));
  const repo = join(dir, "All");
  const hosts = join(dir, "hosts");
  mkdirSync(repo);
  writeFileSync(join(repo, "a-1.0.tgz"), "aaaaa");
  // No directory at all yet.
  assert.equal(new HostHoldings(hosts, repo).known("vax"), false);
  mkdirSync(hosts);
  writeFileSync(join(hosts, "vax"), `5 1 a-1.0.tgz\n`);
  // An empty record (every file found gone at the last check) holds nothing.
  writeFileSync(join(hosts, "m68k"), "");
  const h = new HostHoldings(hosts, repo);
  assert.equal(h.known("vax"), true);
  assert.equal(h.known("m68k"), false);
  assert.equal(h.known("sparc"), false);
  // What this master sends is known at once.
  h.sent("sparc", "a-1.0.tgz");
  assert.equal(h.known("sparc"), true);
  h.sent("m68k", "a-1.0.tgz");
  assert.equal(h.known("m68k"), true);
  // A check that finds nothing held empties the record: nothing to look at next time.
  assert.deepEqual(h.held("vax", ""), []);
  assert.equal(readFileSync(join(hosts, "vax"), "latin1"), "");
  assert.equal(h.known("vax"), false);
  // A file that is not a package sent (a directory) is no record.
  mkdirSync(join(hosts, "hppa"));
  assert.equal(new HostHoldings(hosts, repo).known("hppa"), false);
  // A package that cannot be stat'ed in the repository is not recorded.
  h.sent("alpha", "missing-1.0.tgz");
  assert.equal(h.known("alpha"), false);
});
