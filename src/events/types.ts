/**
 * Everything that happens in a build, as typed events. The store, the
 * terminal display, --json NDJSON, the dashboard and the report all read
 * this one stream.
 */
import type { PackageResult, PlanState } from "../core/pkgstate.js";

export type BuildEvent =
  | {
      readonly type: "build-start";
      readonly build: number;
      readonly tree: string;
      readonly treeId: string;
      readonly resumed: boolean;
      /** The per-package targets in order (the dashboard shows which one runs). */
      readonly targets?: readonly string[];
    }
  | {
      readonly type: "phase";
      readonly phase: "sync" | "scan" | "resolve" | "plan" | "build" | "report" | "publish";
      readonly detail?: string;
    }
  | {
      readonly type: "host";
      readonly host: string;
      readonly state: string;
      readonly detail?: string;
    }
  | {
      readonly type: "scan-progress";
      readonly done: number;
      readonly total: number;
      readonly failed: number;
    }
  | {
      /** Distfiles fetched ahead of the build (distfiles: master), per package. */
      readonly type: "fetch-progress";
      readonly done: number;
      readonly total: number;
      readonly failed: number;
      /** Bytes received from the sites so far. */
      readonly bytes: number;
      /** Bytes still to fetch. */
      readonly bytesLeft: number;
    }
  | {
      readonly type: "scan-error";
      readonly pkgpath: string;
      readonly host: string;
      readonly message: string;
    }
  | {
      readonly type: "plan";
      readonly counts: Readonly<Record<PlanState, number>>;
      readonly packages: number;
    }
  | {
      readonly type: "package-start";
      readonly pkgname: string;
      readonly pkgpath: string;
      readonly host: string;
      /** The host's slot it builds in (1-based). */
      readonly slot?: number;
    }
  | {
      readonly type: "stage";
      readonly pkgname: string;
      readonly host: string;
      readonly stage: string;
      readonly status: number;
      readonly wallMs: number;
    }
  | {
      readonly type: "package-end";
      readonly pkgname: string;
      readonly pkgpath: string;
      readonly host: string;
      readonly result: PackageResult;
      readonly stage?: string;
      readonly reason?: string;
      readonly wallMs: number;
    }
  | { readonly type: "indirect-failed"; readonly pkgname: string; readonly culprit: string }
  | {
      readonly type: "progress";
      readonly done: number;
      readonly total: number;
      readonly running: number;
      readonly etaSeconds: number | null;
      /** The ETA is an estimate from what finished so far (no history to go by). */
      readonly etaEstimate?: boolean;
    }
  | {
      readonly type: "build-end";
      readonly build: number;
      readonly counts: Readonly<Record<string, number>>;
      readonly report: string;
      readonly packages: string;
    }
  | { readonly type: "warning"; readonly message: string }
  /** The operator retried a failed package; `revived` are dependents queued again with it. */
  | { readonly type: "retry"; readonly pkgname: string; readonly revived: readonly string[] };

export type BuildEventType = BuildEvent["type"];

/** A typed publish/subscribe hub; listeners never see each other. */
export class EventBus {
  readonly #listeners = new Set<(e: BuildEvent, timeMs: number) => void>();

  /** Subscribes; returns the unsubscribe function. */
  on(listener: (e: BuildEvent, timeMs: number) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(e: BuildEvent, timeMs: number = Date.now()): void {
    for (const l of this.#listeners) l(e, timeMs);
  }
}
