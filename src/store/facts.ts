/**
 * What each event says of the store's rows: the moves of packages' state
 * machines (src/core/pkgstate.ts) with the columns that change with them,
 * and the stage rows. Pure: the writer (writer.ts) applies the moves and
 * writes the rows.
 */
import type { PackageEvent } from "../core/pkgstate.js";
import type { BuildEvent } from "../events/types.js";
import type { PackagePatch, StageRow } from "./types.js";

/** A move of one package's machine and the columns of its row that change with it. */
export interface PackageMove {
  readonly pkgname: string;
  readonly event: PackageEvent;
  readonly patch: Omit<PackagePatch, "state">;
}

export interface Facts {
  readonly moves: readonly PackageMove[];
  readonly stage: StageRow | null;
}

const NONE: Facts = { moves: [], stage: null };

/** The facts of one event that happened at `timeMs` (ms since the epoch). */
export function factsOf(e: BuildEvent, timeMs: number): Facts {
  switch (e.type) {
    case "package-start":
      // An extra copy leaves the package's record to the first.
      if (e.extra === true) return NONE;
      return one(e.pkgname, "start", {
        host: e.host,
        startedMs: e.startedMs ?? timeMs,
        finishedMs: null,
      });
    case "stage":
      return {
        moves: [],
        stage: {
          pkgname: e.pkgname,
          pkgpath: e.pkgpath ?? "",
          stage: e.stage,
          host: e.host,
          startedMs: Math.round(e.startedMs ?? timeMs - e.wallMs),
          wallMs: e.wallMs,
          status: e.status,
          log: e.log ?? null,
        },
      };
    case "package-end":
      return endFacts(e, timeMs);
    case "indirect-failed":
      return one(e.pkgname, "blocked", {
        culprit: e.culprit,
        reason: `depends on ${e.culprit}`,
      });
    case "retry":
      // The failed package and the dependents its failure had stopped: pending, as planned.
      return {
        moves: [e.pkgname, ...e.revived].map((pkgname) => ({
          pkgname,
          event: { type: "retry" },
          patch: {
            host: null,
            startedMs: null,
            finishedMs: null,
            failedStage: null,
            culprit: null,
            reason: "",
          },
        })),
        stage: null,
      };
    case "build-start":
    case "phase":
    case "host":
    case "scan-progress":
    case "fetch-progress":
    case "scan-error":
    case "plan":
    case "progress":
    case "build-end":
    case "warning":
      return NONE;
  }
}

function endFacts(e: Extract<BuildEvent, { type: "package-end" }>, timeMs: number): Facts {
  switch (e.result) {
    case "built":
      return one(e.pkgname, "built", {
        host: e.host,
        finishedMs: timeMs,
        sha256: e.sha256 ?? null,
        size: e.size ?? null,
        reason: "",
      });
    case "failed":
      // Refused: it never started, so no host is its.
      return e.refused === true
        ? one(e.pkgname, "refused", {
            failedStage: e.stage ?? null,
            reason: e.reason ?? "",
            finishedMs: timeMs,
          })
        : one(e.pkgname, "failed", {
            host: e.host,
            finishedMs: timeMs,
            failedStage: e.stage ?? null,
            reason: e.reason ?? "",
          });
    case "lost":
      return one(e.pkgname, "lost", { host: null, startedMs: null });
  }
}

function one(
  pkgname: string,
  event: PackageEvent["type"],
  patch: Omit<PackagePatch, "state">,
): Facts {
  return { moves: [{ pkgname, event: { type: event }, patch }], stage: null };
}
