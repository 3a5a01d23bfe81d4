/**
 * Everything that happens in a build, as typed events. The store, the
 * terminal display, --json NDJSON, the dashboard and the report all read
 * this one stream: the store's writer (src/store/writer.ts) hears each
 * event first and keeps every fact of it, so an event carries the whole
 * outcome (checksum, size, stage, host, times). Fields added later are
 * optional: the dashboard replays events stored by earlier versions.
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
      /** When it started (ms since the epoch). */
      readonly startedMs?: number;
      /**
       * Another copy of a package that is building already (to overtake a slow
       * host): the package's record is the first copy's.
       */
      readonly extra?: true;
    }
  | {
      readonly type: "stage";
      readonly pkgname: string;
      readonly host: string;
      readonly stage: string;
      /** The exit status; -1: the host was lost during the stage. */
      readonly status: number;
      readonly wallMs: number;
      readonly pkgpath?: string;
      /** When the stage started (ms since the epoch). */
      readonly startedMs?: number;
      /** The stage's log on the master (null: none). */
      readonly log?: string | null;
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
      /** Built: the package file's checksum and size, as received. */
      readonly sha256?: string;
      readonly size?: number;
      /** Failed before it ran (a distfile no site serves, an unsafe MULTI_VERSION): it never started. */
      readonly refused?: true;
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
      /**
       * The repository's index: its packages, those the report phase read
       * (not indexed as they were built, nor in the cache of an earlier
       * build), and those indexed as they were built.
       */
      readonly repository?: {
        readonly packages: number;
        readonly read: number;
        readonly indexedInBuild: number;
      };
    }
  | { readonly type: "warning"; readonly message: string }
  /** The operator retried a failed package; `revived` are dependents queued again with it. */
  | { readonly type: "retry"; readonly pkgname: string; readonly revived: readonly string[] };

export type BuildEventType = BuildEvent["type"];

export type EventListener = (e: BuildEvent, timeMs: number) => void;

/**
 * A typed publish/subscribe hub; listeners never see each other. One
 * listener may be the recorder (the store's writer): it hears every event
 * before the others, so whoever hears of a fact can rely on the store
 * holding it.
 */
export class EventBus {
  readonly #listeners = new Set<EventListener>();
  #recorder: EventListener | undefined;

  /** Subscribes; returns the unsubscribe function. */
  on(listener: EventListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Subscribes the recorder, which hears each event first; returns the unsubscribe function. */
  record(listener: EventListener): () => void {
    if (this.#recorder !== undefined) throw new Error("bug: the bus has a recorder already");
    this.#recorder = listener;
    return () => {
      if (this.#recorder === listener) this.#recorder = undefined;
    };
  }

  /**
   * Emits an event. `recorded` runs after the recorder and before the other
   * listeners: what must wait until the store has the fact and must be done
   * before anyone hears of it (a package file moved into the repository). If
   * it throws, nobody else hears of the event and the emitter gets the error.
   */
  emit(e: BuildEvent, timeMs: number = Date.now(), recorded?: () => void): void {
    this.#recorder?.(e, timeMs);
    recorded?.();
    for (const l of this.#listeners) l(e, timeMs);
  }
}
