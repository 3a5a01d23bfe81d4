/**
 * The store of a work directory as an interface: what the build, the
 * report, the dashboard and the CLI may ask of it. `Store` (SQLite, on disk
 * or ":memory:") implements it; tests/unit/store-conformance.test.ts is the
 * one suite every implementation passes.
 */
import type { PackageState } from "../core/pkgstate.js";

/** A package's state in the store: the one vocabulary of src/core/pkgstate.ts. */
export type PkgState = PackageState;

export interface BuildRow {
  readonly id: number;
  readonly startedMs: number;
  readonly finishedMs: number | null;
  readonly tree: string;
  readonly treeId: string;
  readonly status: "running" | "done" | "stopped";
}

export interface PackageRow {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly state: PkgState;
  readonly reason: string;
  readonly culprit: string | null;
  readonly failedStage: string | null;
  readonly host: string | null;
  readonly startedMs: number | null;
  readonly finishedMs: number | null;
  readonly sha256: string | null;
  readonly size: number | null;
  readonly inputs: string;
  readonly maintainer: string;
  readonly dependents: number;
}

/** The columns of a package's row that a build changes (pkgname and pkgpath never do). */
export type PackagePatch = Partial<
  Omit<PackageRow, "pkgname" | "pkgpath" | "maintainer" | "dependents">
>;

export interface StageRow {
  readonly pkgname: string;
  readonly pkgpath: string;
  readonly stage: string;
  readonly host: string;
  /** When the stage started (ms since the epoch). */
  readonly startedMs: number;
  readonly wallMs: number;
  readonly status: number;
  readonly log: string | null;
}

export interface EventRow {
  readonly seq: number;
  readonly timeMs: number;
  readonly type: string;
  readonly data: string;
}

export interface BuildStore {
  close(): void;
  /**
   * Runs fn in one transaction: all of its writes or none. The event
   * writer commits a batch of events this way (one commit, not one per row).
   */
  tx<T>(fn: () => T): T;

  getMeta(key: string): string | undefined;
  setMeta(key: string, value: string): void;

  /** Starts a new build and returns its id (ids grow). */
  startBuild(tree: string, treeId: string, nowMs: number): number;
  finishBuild(id: number, nowMs: number, status: "done" | "stopped"): void;
  /** The newest build, or undefined. */
  lastBuild(): BuildRow | undefined;
  /** Every build, oldest first. */
  builds(): BuildRow[];

  /** Records the plan of a build: one row per package (a row given again replaces the old). */
  insertPackages(buildId: number, rows: readonly PackageRow[]): void;
  /** A build's packages, by pkgname. */
  packages(buildId: number): PackageRow[];
  /** Updates the columns given of a package's row (an unknown package: nothing). */
  setPackage(buildId: number, pkgname: string, patch: PackagePatch): void;
  /** After a master crash: packages that were building go back to pending; returns how many. */
  requeueBuilding(buildId: number): number;

  /** Records a stage of a package (the same stage again replaces it: a package built again). */
  recordStage(buildId: number, row: StageRow): void;
  /** A build's stages (of one package), in the order they started. */
  stages(buildId: number, pkgname?: string): StageRow[];
  /**
   * A build's stages one at a time, in no particular order: a full build has
   * some 360,000, which a report sums without holding them all.
   */
  eachStage(buildId: number): Iterable<StageRow>;
  /** Expected seconds per PKGPATH at speed 1.0: the newest successful build's total stage time on a host. */
  history(): Map<string, number>;
  /** Outcomes of one PKGPATH across builds, newest first. */
  pathHistory(pkgpath: string): (PackageRow & { buildId: number; buildStartedMs: number })[];

  /** Appends an event (`data` is stored as JSON); returns its sequence number (they grow). */
  appendEvent(buildId: number | null, timeMs: number, type: string, data: unknown): number;
  /** A build's events after `afterSeq`, in order. */
  events(buildId: number, afterSeq?: number): EventRow[];
  /** A build's events of one type, in order. */
  eventsOfType(buildId: number, type: string): EventRow[];
  /** At most `limit` of a build's events after `afterSeq`, in order (the dashboard reads a long build a page at a time). */
  eventsPage(buildId: number, afterSeq: number, limit: number): EventRow[];

  /** Cached scan output of a PKGPATH, if its SCAN_DEPENDS digest is unchanged. */
  cachedScan(pkgpath: string, digest: string): Buffer | undefined;
  /** The digest of the sources of a PKGPATH's last scan. */
  scanDigest(pkgpath: string): string | undefined;
  allScans(): { pkgpath: string; digest: string; records: Buffer }[];
  /**
   * Stores a PKGPATH's scan; `distfiles` is what the same make run said of its
   * distfiles (null: not asked; an earlier answer stays, valid while the digest is).
   */
  putScan(pkgpath: string, digest: string, records: Buffer, distfiles?: string | null): void;
  /** Forgets a PKGPATH's cached scan (it no longer matches the tree). */
  deleteScan(pkgpath: string): void;
  /** PKGPATH → the distfile query a scan of that digest answered (scans made with distfiles: master). */
  allScanDistfiles(): Map<string, { digest: string; query: string }>;
}
