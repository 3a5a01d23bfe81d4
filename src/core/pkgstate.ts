/**
 * A package's life in one bulk build, as one explicit machine (as
 * src/hosts/state.ts is for hosts):
 *
 *   planned: build → pending ⇄ building → built | failed
 *            pending → indirect-failed (a dependency failed)
 *            pending → failed (refused unstarted: an unsafe MULTI_VERSION)
 *            failed | indirect-failed → pending (the operator's retry)
 *   planned, final at once: up-to-date, skipped, indirect-skipped,
 *            failed (PKG_FAIL_REASON), indirect-failed, unresolved
 *
 * The plan, the store, the events and the report all speak this one
 * vocabulary; `packageTransition` is the only way a package's state moves
 * during the build, and it refuses anything not drawn above.
 */
import { err, ok, type Result } from "../protocol/result.js";

export type PackageState =
  | "pending"
  | "building"
  | "built"
  | "up-to-date"
  | "failed"
  | "indirect-failed"
  | "skipped"
  | "indirect-skipped"
  | "unresolved";

/** The order every count of states is shown in: the README, the summary line, report.txt, the dashboard. */
export const STATE_ORDER: readonly PackageState[] = [
  "built",
  "up-to-date",
  "failed",
  "indirect-failed",
  "skipped",
  "indirect-skipped",
  "unresolved",
  "pending",
  "building",
];

/** Counts of states as "24 built, 2 failed, ...", in STATE_ORDER, zeros left out. */
export function formatCounts(counts: Readonly<Record<string, number>>): string {
  return STATE_ORDER.filter((k) => (counts[k] ?? 0) > 0)
    .map((k) => `${counts[k]!} ${k}`)
    .join(", ");
}

/** What the plan decides of a package before anything is built ("build": it will be pending). */
export type PlanState = "build" | Exclude<PackageState, "pending" | "building" | "built">;

/** How one copy of a package ended on a host, as the events tell it. */
export type PackageResult = Extract<PackageState, "built" | "failed"> | "lost";

export type PackageEvent =
  | { readonly type: "start" }
  | { readonly type: "built" }
  | { readonly type: "failed" }
  /** Its host or slot went away: it is built again. */
  | { readonly type: "lost" }
  /** A dependency failed. */
  | { readonly type: "blocked" }
  /** The master will not run it at all (an unsafe MULTI_VERSION): it fails unstarted. */
  | { readonly type: "refused" }
  | { readonly type: "retry" };

export interface IllegalPackageTransition {
  readonly from: PackageState;
  readonly event: PackageEvent["type"];
}

/** The state a planned package starts the build in. */
export function initialState(p: PlanState): PackageState {
  return p === "build" ? "pending" : p;
}

/** The next state, or an IllegalPackageTransition for an event the state does not accept. */
export function packageTransition(
  s: PackageState,
  e: PackageEvent,
): Result<PackageState, IllegalPackageTransition> {
  const illegal = err({ from: s, event: e.type });
  switch (s) {
    case "pending":
      if (e.type === "start") return ok("building");
      if (e.type === "blocked") return ok("indirect-failed");
      if (e.type === "refused") return ok("failed");
      return illegal;
    case "building":
      if (e.type === "built") return ok("built");
      if (e.type === "failed") return ok("failed");
      if (e.type === "lost") return ok("pending");
      return illegal;
    case "failed":
    case "indirect-failed":
      if (e.type === "retry") return ok("pending");
      return illegal;
    case "built":
    case "up-to-date":
    case "skipped":
    case "indirect-skipped":
    case "unresolved":
      return illegal;
  }
}

/** Whether nothing more happens to a package in this build (but an operator's retry). */
export function isSettled(s: PackageState): boolean {
  switch (s) {
    case "pending":
    case "building":
      return false;
    case "built":
    case "up-to-date":
    case "failed":
    case "indirect-failed":
    case "skipped":
    case "indirect-skipped":
    case "unresolved":
      return true;
  }
}
