/**
 * A work queue over the pool: independent jobs (scans, or anything without
 * ordering) go to whichever host has a free slot, fastest host first; a job
 * whose host was lost goes back to the front of the queue.
 */
import type { HostName } from "../core/hostspec.js";
import { err, ok, type Result } from "../protocol/result.js";
import type { HostPool } from "./pool.js";

/** What became of one attempt at a job. */
export type Attempt = "done" | "requeue";

export interface DispatchOptions<J> {
  /** Attempts before a job is given up (onGiveUp); default 5. */
  readonly maxAttempts?: number;
  /** Keep waiting when no host is usable (hosts may still join); default false. */
  readonly waitForHosts?: boolean;
  readonly onGiveUp?: (job: J, attempts: number) => void;
}

export interface DispatchFailure {
  readonly reason: "no-hosts";
  readonly message: string;
  readonly pending: number;
}

/** Jobs to run; run() may push more while it works (e.g. dependencies found by a scan). */
export class JobQueue<J> {
  readonly #items: J[] = [];
  #wake: (() => void) | null = null;

  push(...jobs: J[]): void {
    this.#items.push(...jobs);
    this.#wake?.();
  }

  /** Puts a job back first in line. */
  requeue(job: J): void {
    this.#items.unshift(job);
    this.#wake?.();
  }

  take(): J | undefined {
    return this.#items.shift();
  }

  get size(): number {
    return this.#items.length;
  }

  /** @internal Resolves when a job is pushed. */
  pushed(): Promise<void> {
    return new Promise((res) => {
      this.#wake = () => {
        this.#wake = null;
        res();
      };
    });
  }
}

/** Runs every job in `queue` on the pool; resolves when the queue is empty and nothing runs. */
export async function dispatch<J>(
  pool: HostPool,
  queue: JobQueue<J>,
  run: (host: HostName, job: J) => Promise<Attempt>,
  opts: DispatchOptions<J> = {},
): Promise<Result<void, DispatchFailure>> {
  const maxAttempts = opts.maxAttempts ?? 5;
  const attempts = new Map<J, number>();
  const reserved = new Map<HostName, number>();
  let inFlight = 0;
  let finished: (() => void) | null = null;

  const start = (host: HostName, job: J): void => {
    inFlight++;
    reserved.set(host, (reserved.get(host) ?? 0) + 1);
    void run(host, job).then((a) => {
      inFlight--;
      reserved.set(host, (reserved.get(host) ?? 1) - 1);
      if (a === "requeue") {
        const n = (attempts.get(job) ?? 0) + 1;
        attempts.set(job, n);
        if (n >= maxAttempts) opts.onGiveUp?.(job, n);
        else queue.requeue(job);
      }
      finished?.();
    });
  };

  for (;;) {
    const hosts = pool.list().sort((a, b) => b.speed - a.speed);
    for (const h of hosts) {
      let free = Math.min(h.free, h.slots - (reserved.get(h.name) ?? 0));
      while (free > 0 && queue.size > 0) {
        start(h.name, queue.take()!);
        free--;
      }
    }
    if (queue.size === 0 && inFlight === 0) return ok(undefined);
    if (inFlight === 0 && !opts.waitForHosts) {
      const hopeful = hosts.some(
        (h) =>
          h.state.kind === "connecting" ||
          h.state.kind === "syncing" ||
          (h.state.kind === "lost" && h.state.quarantine === null) ||
          h.free > 0,
      );
      if (!hopeful) {
        const why = hosts.map(
          (h) =>
            `${h.name}: ${h.state.kind === "lost" ? (h.state.quarantine ?? h.state.reason) : h.state.kind}`,
        );
        return err({
          reason: "no-hosts",
          message: `no host can take work${why.length > 0 ? ` (${why.join("; ")})` : ""}`,
          pending: queue.size,
        });
      }
    }
    await Promise.race([
      pool.changed(),
      queue.pushed(),
      new Promise<void>((res) => {
        finished = res;
      }),
    ]);
    finished = null;
  }
}
