/**
 * All state of a work directory in one SQLite database (WAL mode): builds,
 * per-package states, per-stage timings (history for the scheduler and for
 * ETAs), events, and the scan cache for incremental rescans. Every write is
 * a transaction (the event writer, src/store/writer.ts, commits a batch of
 * events and their rows in one), so killing the master at any moment leaves
 * a consistent database to resume from.
 */
import Database from "better-sqlite3";
import { Checkpointer } from "./checkpoint.js";
import type {
  BuildRow,
  BuildStore,
  EventRow,
  PackagePatch,
  PackageRow,
  PkgState,
  StageRow,
} from "./types.js";

export type * from "./types.js";

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS builds (
  id INTEGER PRIMARY KEY, started_ms INTEGER NOT NULL, finished_ms INTEGER,
  tree TEXT NOT NULL, tree_id TEXT NOT NULL, status TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS packages (
  build_id INTEGER NOT NULL, pkgname TEXT NOT NULL, pkgpath TEXT NOT NULL,
  state TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', culprit TEXT, failed_stage TEXT,
  host TEXT, started_ms INTEGER, finished_ms INTEGER, sha256 TEXT, size INTEGER,
  inputs TEXT NOT NULL DEFAULT '', maintainer TEXT NOT NULL DEFAULT '', dependents INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (build_id, pkgname));
CREATE TABLE IF NOT EXISTS stages (
  build_id INTEGER NOT NULL, pkgname TEXT NOT NULL, pkgpath TEXT NOT NULL, stage TEXT NOT NULL,
  host TEXT NOT NULL, started_ms INTEGER NOT NULL, wall_ms INTEGER NOT NULL, status INTEGER NOT NULL,
  log TEXT, PRIMARY KEY (build_id, pkgname, stage));
CREATE INDEX IF NOT EXISTS stages_pkgpath ON stages (pkgpath);
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT, build_id INTEGER, time_ms INTEGER NOT NULL,
  type TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS scans (
  pkgpath TEXT PRIMARY KEY, digest TEXT NOT NULL, records BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS scan_distfiles (
  pkgpath TEXT PRIMARY KEY, digest TEXT NOT NULL, query TEXT NOT NULL);
`;

/** The packages columns as PackageRow fields, optionally qualified by a table alias. */
function pkgColumns(alias = ""): string {
  const a = alias === "" ? "" : `${alias}.`;
  return [
    "pkgname",
    "pkgpath",
    "state",
    "reason",
    "culprit",
    "failed_stage AS failedStage",
    "host",
    "started_ms AS startedMs",
    "finished_ms AS finishedMs",
    "sha256",
    "size",
    "inputs",
    "maintainer",
    "dependents",
  ]
    .map((c) => a + c)
    .join(", ");
}
const PKG_COLUMNS = pkgColumns();

const STAGE_COLUMNS =
  "pkgname, pkgpath, stage, host, started_ms AS startedMs, wall_ms AS wallMs, status, log";

/** The columns setPackage may change, by PackagePatch field. */
const PATCH_COLUMNS: Readonly<Record<string, string>> = {
  state: "state",
  reason: "reason",
  culprit: "culprit",
  failedStage: "failed_stage",
  host: "host",
  startedMs: "started_ms",
  finishedMs: "finished_ms",
  sha256: "sha256",
  size: "size",
  inputs: "inputs",
};

/** A plan's row of a package: nothing done yet; `more` sets any other column. */
export function packageRow(
  pkgname: string,
  pkgpath: string,
  state: PkgState,
  more: Partial<PackageRow> = {},
): PackageRow {
  return {
    pkgname,
    pkgpath,
    state,
    reason: "",
    culprit: null,
    failedStage: null,
    host: null,
    startedMs: null,
    finishedMs: null,
    sha256: null,
    size: null,
    inputs: "",
    maintainer: "",
    dependents: 0,
    ...more,
  };
}

/** The SQLite store of one work directory (":memory:" for tests). */
export class Store implements BuildStore {
  readonly db: Database.Database;
  // Compiled once: a build writes some 800,000 rows, and compiling the SQL cost more than the write.
  readonly #statements = new Map<string, Database.Statement>();

  #checkpointer: Checkpointer | undefined;

  constructor(private readonly path: string) {
    this.db = new Database(path);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
  }

  /**
   * Hands the WAL checkpoints to a thread (src/store/checkpoint.ts): for the
   * master's store, whose commits would otherwise stop its event loop for
   * them. Nothing for a store in memory.
   */
  checkpointInThread(everyMs?: number, netPages?: number): Checkpointer | undefined {
    if (this.path === ":memory:" || this.path === "") return undefined;
    this.#checkpointer ??= new Checkpointer(this.db, this.path, everyMs, netPages);
    return this.#checkpointer;
  }

  close(): void {
    this.#checkpointer?.stop();
    this.db.close();
  }

  /** The statement of `sql`, compiled on first use. */
  #prepared(sql: string): Database.Statement {
    let st = this.#statements.get(sql);
    if (st === undefined) this.#statements.set(sql, (st = this.db.prepare(sql)));
    return st;
  }

  /** Runs fn in one transaction. */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getMeta(key: string): string | undefined {
    const row = this.#prepared("SELECT value FROM meta WHERE key = ?").get(key) as
      { value: string } | undefined;
    return row?.value;
  }

  setMeta(key: string, value: string): void {
    this.#prepared(
      "INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
    ).run(key, value);
  }

  /** Starts a new build and returns its id. */
  startBuild(tree: string, treeId: string, nowMs: number): number {
    const r = this.#prepared(
      "INSERT INTO builds (started_ms, tree, tree_id, status) VALUES (?, ?, ?, 'running')",
    ).run(nowMs, tree, treeId);
    return Number(r.lastInsertRowid);
  }

  finishBuild(id: number, nowMs: number, status: "done" | "stopped"): void {
    this.#prepared("UPDATE builds SET finished_ms = ?, status = ? WHERE id = ?").run(
      nowMs,
      status,
      id,
    );
  }

  /** The newest build, or undefined. */
  lastBuild(): BuildRow | undefined {
    return this.#prepared(
      "SELECT id, started_ms AS startedMs, finished_ms AS finishedMs, tree, tree_id AS treeId, status FROM builds ORDER BY id DESC LIMIT 1",
    ).get() as BuildRow | undefined;
  }

  builds(): BuildRow[] {
    return this.#prepared(
      "SELECT id, started_ms AS startedMs, finished_ms AS finishedMs, tree, tree_id AS treeId, status FROM builds ORDER BY id",
    ).all() as BuildRow[];
  }

  /** Records the plan of a build: one row per package. */
  insertPackages(buildId: number, rows: readonly PackageRow[]): void {
    const ins = this.#prepared(`INSERT OR REPLACE INTO packages
      (build_id, pkgname, pkgpath, state, reason, culprit, failed_stage, host, started_ms, finished_ms, sha256, size, inputs, maintainer, dependents)
      VALUES (@buildId, @pkgname, @pkgpath, @state, @reason, @culprit, @failedStage, @host, @startedMs, @finishedMs, @sha256, @size, @inputs, @maintainer, @dependents)`);
    this.tx(() => {
      for (const r of rows) ins.run({ buildId, ...r });
    });
  }

  packages(buildId: number): PackageRow[] {
    return this.#prepared(
      `SELECT ${PKG_COLUMNS} FROM packages WHERE build_id = ? ORDER BY pkgname`,
    ).all(buildId) as PackageRow[];
  }

  /** Updates a package's state and the columns given. */
  setPackage(buildId: number, pkgname: string, patch: PackagePatch): void {
    const sets: string[] = [];
    const params: Record<string, unknown> = { buildId, pkgname };
    for (const [k, v] of Object.entries(patch)) {
      const col = PATCH_COLUMNS[k];
      if (col === undefined) continue;
      sets.push(`${col} = @${k}`);
      params[k] = v;
    }
    if (sets.length === 0) return;
    this.#prepared(
      `UPDATE packages SET ${sets.join(", ")} WHERE build_id = @buildId AND pkgname = @pkgname`,
    ).run(params);
  }

  /** After a master crash: packages that were building go back to pending. */
  requeueBuilding(buildId: number): number {
    return this.#prepared(
      "UPDATE packages SET state = 'pending', host = NULL, started_ms = NULL WHERE build_id = ? AND state = 'building'",
    ).run(buildId).changes;
  }

  recordStage(buildId: number, row: StageRow): void {
    this.#prepared(
      `INSERT OR REPLACE INTO stages (build_id, pkgname, pkgpath, stage, host, started_ms, wall_ms, status, log)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ).run(
      buildId,
      row.pkgname,
      row.pkgpath,
      row.stage,
      row.host,
      row.startedMs,
      row.wallMs,
      row.status,
      row.log,
    );
  }

  stages(buildId: number, pkgname?: string): StageRow[] {
    if (pkgname !== undefined)
      return this.#prepared(
        `SELECT ${STAGE_COLUMNS} FROM stages WHERE build_id = ? AND pkgname = ? ORDER BY started_ms`,
      ).all(buildId, pkgname) as StageRow[];
    // Sorted here: see eachStage.
    return [...this.eachStage(buildId)].sort((a, b) => a.startedMs - b.startedMs);
  }

  eachStage(buildId: number): Iterable<StageRow> {
    // The table in the order it was written, not through the primary key: its rows are
    // stored in the order they were written, and the key's order (by pkgname) read a
    // full build's 360,000 rows from all over the file, 5-8 times slower.
    return this.#prepared(
      `SELECT ${STAGE_COLUMNS} FROM stages NOT INDEXED WHERE build_id = ?`,
    ).iterate(buildId) as IterableIterator<StageRow>;
  }

  /** Expected seconds per PKGPATH at speed 1.0: the newest successful build's total stage time on a host. */
  history(): Map<string, number> {
    // One pass over the rows, summed here: a subquery per row (its path's newest build) took
    // 7-20 s over a full build's 338,000 stage rows, and SQLite's GROUP BY sorts them all.
    const newest = new Map<string, { build: number; ms: number }>();
    const rows = this.#prepared(
      "SELECT pkgpath, build_id, wall_ms FROM stages NOT INDEXED WHERE status = 0",
    )
      .raw()
      .iterate() as IterableIterator<[string, number, number]>;
    for (const [pkgpath, build, ms] of rows) {
      const cur = newest.get(pkgpath);
      if (cur === undefined || build > cur.build) newest.set(pkgpath, { build, ms });
      else if (build === cur.build) cur.ms += ms;
    }
    const out = new Map<string, number>();
    for (const [pkgpath, { ms }] of newest) out.set(pkgpath, ms / 1000);
    return out;
  }

  /** Outcomes of one PKGPATH across builds, newest first. */
  pathHistory(pkgpath: string): (PackageRow & { buildId: number; buildStartedMs: number })[] {
    return this.#prepared(
      `SELECT p.build_id AS buildId, b.started_ms AS buildStartedMs, ${pkgColumns("p")}
         FROM packages p JOIN builds b ON b.id = p.build_id WHERE p.pkgpath = ? ORDER BY p.build_id DESC, p.pkgname`,
    ).all(pkgpath) as (PackageRow & { buildId: number; buildStartedMs: number })[];
  }

  appendEvent(buildId: number | null, timeMs: number, type: string, data: unknown): number {
    const r = this.#prepared(
      "INSERT INTO events (build_id, time_ms, type, data) VALUES (?, ?, ?, ?)",
    ).run(buildId, timeMs, type, JSON.stringify(data));
    return Number(r.lastInsertRowid);
  }

  events(buildId: number, afterSeq = 0): EventRow[] {
    return this.#prepared(
      "SELECT seq, time_ms AS timeMs, type, data FROM events WHERE build_id = ? AND seq > ? ORDER BY seq",
    ).all(buildId, afterSeq) as EventRow[];
  }

  eventsOfType(buildId: number, type: string): EventRow[] {
    return this.#prepared(
      "SELECT seq, time_ms AS timeMs, type, data FROM events WHERE build_id = ? AND type = ? ORDER BY seq",
    ).all(buildId, type) as EventRow[];
  }

  /** Cached scan output of a PKGPATH, if its SCAN_DEPENDS digest is unchanged. */
  cachedScan(pkgpath: string, digest: string): Buffer | undefined {
    const row = this.#prepared("SELECT records FROM scans WHERE pkgpath = ? AND digest = ?").get(
      pkgpath,
      digest,
    ) as { records: Buffer } | undefined;
    return row?.records;
  }

  /** The digest of the sources of a PKGPATH's last scan. */
  scanDigest(pkgpath: string): string | undefined {
    const row = this.#prepared("SELECT digest FROM scans WHERE pkgpath = ?").get(pkgpath) as
      { digest: string } | undefined;
    return row?.digest;
  }

  allScans(): { pkgpath: string; digest: string; records: Buffer }[] {
    return this.#prepared("SELECT pkgpath, digest, records FROM scans").all() as {
      pkgpath: string;
      digest: string;
      records: Buffer;
    }[];
  }

  /**
   * Stores a PKGPATH's scan; `distfiles` is what the same make run said of its
   * distfiles (null: not asked; an earlier answer stays, valid while the digest is).
   */
  putScan(pkgpath: string, digest: string, records: Buffer, distfiles: string | null = null): void {
    this.tx(() => {
      this.#prepared(
        "INSERT INTO scans (pkgpath, digest, records) VALUES (?, ?, ?) ON CONFLICT(pkgpath) DO UPDATE SET digest = excluded.digest, records = excluded.records",
      ).run(pkgpath, digest, records);
      if (distfiles !== null)
        this.#prepared(
          "INSERT INTO scan_distfiles (pkgpath, digest, query) VALUES (?, ?, ?) ON CONFLICT(pkgpath) DO UPDATE SET digest = excluded.digest, query = excluded.query",
        ).run(pkgpath, digest, distfiles);
    });
  }

  /** Forgets a PKGPATH's cached scan (it no longer matches the tree). */
  deleteScan(pkgpath: string): void {
    this.#prepared("DELETE FROM scans WHERE pkgpath = ?").run(pkgpath);
  }

  /** PKGPATH → the distfile query a scan of that digest answered (scans made with distfiles: master). */
  allScanDistfiles(): Map<string, { digest: string; query: string }> {
    const rows = this.#prepared("SELECT pkgpath, digest, query FROM scan_distfiles").all() as {
      pkgpath: string;
      digest: string;
      query: string;
    }[];
    return new Map(rows.map((r) => [r.pkgpath, { digest: r.digest, query: r.query }]));
  }

  // --- dashboard reads ---

  /**
   * At most `limit` of a build's events after `afterSeq`, in order: the
   * dashboard folds a long build a page at a time, never all at once.
   */
  eventsPage(buildId: number, afterSeq: number, limit: number): EventRow[] {
    return this.#prepared(
      "SELECT seq, time_ms AS timeMs, type, data FROM events WHERE seq > ? AND build_id = ? ORDER BY seq LIMIT ?",
    ).all(afterSeq, buildId, limit) as EventRow[];
  }
}
