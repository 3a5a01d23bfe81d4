/**
 * The host life cycle as an explicit machine:
 *
 *   connecting → syncing → idle ⇄ busy → draining → gone
 *        └──────────┴────────┴──────┴─────→ lost → connecting (retry) | gone
 *
 * `transition` is the only way to change state; it refuses anything not drawn
 * above, so an illegal transition is a value the caller must handle.
 */
import { err, ok, type Result } from "../protocol/result.js";

export type HostState =
  | { readonly kind: "connecting" }
  | { readonly kind: "syncing" }
  | { readonly kind: "idle" }
  | { readonly kind: "busy"; readonly running: number }
  | { readonly kind: "draining"; readonly running: number }
  | { readonly kind: "gone"; readonly reason: string }
  /** `quarantine` non-null: failed too often, not retried until the operator acts. */
  | { readonly kind: "lost"; readonly reason: string; readonly quarantine: string | null };

export type HostStateKind = HostState["kind"];

export type HostEvent =
  | { readonly type: "connected" }
  | { readonly type: "synced" }
  /** The master's tree id changed: an idle host syncs again. */
  | { readonly type: "resync" }
  | { readonly type: "taskStarted" }
  | { readonly type: "taskEnded" }
  /** Finish what runs, take nothing new, then leave. */
  | { readonly type: "drain" }
  /** Leave at once; running tasks are given up (and requeued by the owner). */
  | { readonly type: "remove"; readonly reason: string }
  | { readonly type: "linkLost"; readonly reason: string; readonly quarantine: string | null }
  | { readonly type: "retry" };

export interface IllegalTransition {
  readonly from: HostStateKind;
  readonly event: HostEvent["type"];
}

const GONE_DRAINED: HostState = { kind: "gone", reason: "drained" };

/** The next state, or an IllegalTransition for an event the state does not accept. */
export function transition(s: HostState, e: HostEvent): Result<HostState, IllegalTransition> {
  const illegal = err({ from: s.kind, event: e.type });
  // Events every live state handles the same way.
  if (s.kind !== "gone") {
    if (e.type === "remove") return ok({ kind: "gone", reason: e.reason });
  }
  switch (s.kind) {
    case "connecting":
      if (e.type === "connected") return ok({ kind: "syncing" });
      if (e.type === "drain") return ok(GONE_DRAINED);
      if (e.type === "linkLost")
        return ok({ kind: "lost", reason: e.reason, quarantine: e.quarantine });
      return illegal;
    case "syncing":
      if (e.type === "synced") return ok({ kind: "idle" });
      if (e.type === "drain") return ok(GONE_DRAINED);
      if (e.type === "linkLost")
        return ok({ kind: "lost", reason: e.reason, quarantine: e.quarantine });
      return illegal;
    case "idle":
      if (e.type === "taskStarted") return ok({ kind: "busy", running: 1 });
      if (e.type === "resync") return ok({ kind: "syncing" });
      if (e.type === "drain") return ok(GONE_DRAINED);
      if (e.type === "linkLost")
        return ok({ kind: "lost", reason: e.reason, quarantine: e.quarantine });
      return illegal;
    case "busy":
      if (e.type === "taskStarted") return ok({ kind: "busy", running: s.running + 1 });
      if (e.type === "taskEnded")
        return ok(s.running <= 1 ? { kind: "idle" } : { kind: "busy", running: s.running - 1 });
      if (e.type === "drain") return ok({ kind: "draining", running: s.running });
      if (e.type === "linkLost")
        return ok({ kind: "lost", reason: e.reason, quarantine: e.quarantine });
      return illegal;
    case "draining":
      if (e.type === "taskEnded") {
        return ok(s.running <= 1 ? GONE_DRAINED : { kind: "draining", running: s.running - 1 });
      }
      if (e.type === "drain") return ok(s);
      // A draining host that drops is not retried: it was leaving anyway.
      if (e.type === "linkLost")
        return ok({ kind: "gone", reason: `lost while draining: ${e.reason}` });
      return illegal;
    case "lost":
      if (e.type === "retry" && s.quarantine === null) return ok({ kind: "connecting" });
      if (e.type === "drain") return ok({ kind: "gone", reason: "drained while lost" });
      if (e.type === "linkLost") return ok(s);
      return illegal;
    case "gone":
      return illegal;
  }
}

/** Tasks the host is running in this state. */
export function runningIn(s: HostState): number {
  switch (s.kind) {
    case "busy":
    case "draining":
      return s.running;
    case "connecting":
    case "syncing":
    case "idle":
    case "gone":
    case "lost":
      return 0;
  }
}

/** Whether the host may be given a new task in this state (slots permitting). */
export function acceptsTasks(s: HostState): boolean {
  switch (s.kind) {
    case "idle":
    case "busy":
      return true;
    case "connecting":
    case "syncing":
    case "draining":
    case "gone":
    case "lost":
      return false;
  }
}

/** One word and a detail for displays: "busy 2", "lost: no heartbeat for 30 s". */
export function describeState(s: HostState): string {
  switch (s.kind) {
    case "busy":
    case "draining":
      return `${s.kind} ${s.running}`;
    case "gone":
      return `gone: ${s.reason}`;
    case "lost":
      return s.quarantine === null ? `lost: ${s.reason}` : `quarantined: ${s.quarantine}`;
    case "connecting":
    case "syncing":
    case "idle":
      return s.kind;
  }
}
