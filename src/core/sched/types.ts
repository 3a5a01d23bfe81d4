/** The data the scheduler takes and returns (see scheduler.ts for how they are used). */
import type { HostName } from "../hostspec.js";
import type { PolicyName } from "./priority.js";
import type { TransferOptions } from "./startcost.js";

export type TaskState = "waiting" | "ready" | "running" | "done" | "failed" | "indirect-failed";

export interface SchedulerOptions {
  readonly policy: PolicyName;
  /** Expected seconds at speed 1.0 per task (history); undefined where unknown. */
  readonly durations?: readonly (number | undefined)[] | undefined;
  /** PBULK_WEIGHT per task where the scan records carry one. */
  readonly weights?: readonly (number | undefined)[] | undefined;
  /** Category per task (first part of PKG_LOCATION, e.g. "lang"), a feature of the duration model. */
  readonly categories?: readonly (string | undefined)[] | undefined;
  /** Tasks already built when the schedule starts. */
  readonly done?: ArrayLike<boolean> | undefined;
  /** Tasks held back, however ready, until release() (or failHeld()). */
  readonly held?: ArrayLike<boolean> | undefined;
  /** Learn from finished tasks; defaults to what the policy does (only "herd" learns). */
  readonly learn?: boolean | undefined;
  /**
   * Refit the duration model only when the caller runs maintain(), not inside
   * onTaskFinished: a live master calls maintain() once it has started what
   * nextAssignments decided, so a refit (milliseconds on a large tree) never
   * stands between a finished task and the tasks it made ready.
   */
  readonly deferRefit?: boolean | undefined;
  /**
   * Count what starting a task on a host costs (dependency packages over the
   * host's link, their installs, the host's sync): see startcost.ts. Without
   * it placement counts work / speed only.
   */
  readonly transfer?: TransferOptions | undefined;
}

export interface HostOptions {
  readonly slots: number;
  /** Relative to the history's host (0.25 = four times slower); omitted = unknown, learned. */
  readonly speed?: number | undefined;
  /** Bytes per second of its link from the master (with options.transfer); omitted: unchanged (at first free). */
  readonly link?: number | undefined;
  /** Seconds to install one dependency package there (with options.transfer); omitted: unchanged (at first 0). */
  readonly install?: number | undefined;
  /** When it can take its first task (a late host's sync ends); omitted: at once. */
  readonly readyAt?: number | undefined;
}

export interface Assignment {
  readonly task: number;
  readonly host: HostName;
}

export interface Decisions {
  /** Start these tasks now (possibly a second copy of a running task). */
  readonly start: Assignment[];
  /** Stop these redundant copies first (their task finished elsewhere; the slot is needed). */
  readonly stop: Assignment[];
  /** For traces: the ready tasks and the free slots the round saw, and the tasks it held for a busy host. */
  readonly seen?: { readonly ready: number; readonly free: number; readonly held: number };
}

export interface FinishResult {
  /** Tasks newly marked indirectly failed (when the task failed), ascending. */
  readonly indirectlyFailed: number[];
  /** Other copies of the task to stop now (after a failure; after a success they may run on). */
  readonly stop: Assignment[];
  /** False when this report was for a redundant copy (the task had finished elsewhere already). */
  readonly first: boolean;
}

export interface RunningTask {
  readonly task: number;
  readonly host: HostName;
  readonly start: number;
}

export interface HostInfo {
  readonly name: HostName;
  readonly slots: number;
  readonly speed: number;
  readonly alive: boolean;
  readonly draining: boolean;
  readonly running: number;
}

/**
 * What a dispatch loop needs of whatever decides what runs where: the
 * build's Scheduler and the scan's QueuePlanner both are one.
 */
export interface Planner {
  /**
   * It holds work for a host that is not ready yet (HostOptions.readyAt):
   * the dispatch loop tells it of a host still syncing, with when its sync
   * should end, and again if it runs late.
   */
  readonly plansAhead?: boolean;
  addHost(name: HostName, opts: HostOptions, now: number): void;
  drainHost(name: HostName, now: number): void;
  onHostLost(name: HostName, now: number): number[];
  /** One copy of a task lost its slot; the task is queued again when no other copy runs. */
  onTaskLost(task: number, host: HostName, now: number): void;
  nextAssignments(now: number): Decisions;
  onTaskFinished(task: number, host: HostName, now: number, ok: boolean): FinishResult;
  /** Deferred upkeep (model refits), run once the round's tasks are started. */
  maintain(): boolean;
  taskState(task: number): TaskState;
  isFinished(): boolean;
  readonly remaining: number;
}
