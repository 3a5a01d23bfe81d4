/**
 * The build's ETA, forecast off the event loop. A forecast plays the whole
 * remaining schedule forward (tens to hundreds of milliseconds on a full
 * tree with hundreds of hosts): done in the loop after every finished
 * package it would hold up every dispatch behind it. Here the loop hands a
 * snapshot to a worker thread when it is free and reads the latest answer.
 */
import { Worker } from "node:worker_threads";
import { etaInput, forecast, type EtaInput, type Forecast } from "../core/sched/eta.js";
import type { Scheduler } from "../core/sched/scheduler.js";

/** A snapshot is taken at most this often (seconds of the caller's clock). */
const MIN_INTERVAL = 5;

export class EtaForecaster {
  readonly #sched: Scheduler;
  #worker: Worker | null;
  #busy = false;
  #asked = -Infinity;
  #latest: Forecast | undefined;

  readonly #releaseIn: (() => ReadonlyMap<number, number>) | undefined;
  readonly #onFirst: (() => void) | undefined;

  /**
   * `releaseIn`: when held tasks are expected to be let go (seconds from the
   * caller's now); `onFirst`: called when the first forecast arrives.
   */
  constructor(
    sched: Scheduler,
    releaseIn?: () => ReadonlyMap<number, number>,
    onFirst?: () => void,
  ) {
    this.#sched = sched;
    this.#releaseIn = releaseIn;
    this.#onFirst = onFirst;
    // The thread rebuilds the same graph from its names and dependencies.
    this.#worker = new Worker(new URL("./eta-thread.js", import.meta.url), {
      workerData: { names: sched.graph.names, deps: sched.graph.deps },
    });
    this.#worker.unref();
    this.#worker.on("message", (f: Forecast) => {
      this.#busy = false;
      const first = this.#latest === undefined;
      this.#latest = f;
      if (first) this.#onFirst?.();
    });
    // Without the thread the forecast is made here, as before, only less often.
    this.#worker.on("error", () => {
      this.#worker = null;
      this.#busy = false;
    });
  }

  /**
   * The latest forecast (undefined until the first arrives), asking for a
   * fresher one when due. The first is asked for at the first call, from the
   * thread too: made here it held the loop 150-300 ms on a full tree, while
   * the first packages settled and the next ones waited to start.
   */
  current(now: number): Forecast | undefined {
    if (this.#worker === null && this.#latest === undefined) {
      this.#latest = forecast(this.#sched.graph, this.#input(now));
      this.#asked = now;
      return this.#latest;
    }
    const interval =
      this.#latest === undefined ? 0 : this.#worker === null ? 6 * MIN_INTERVAL : MIN_INTERVAL;
    if (!this.#busy && now - this.#asked >= interval) {
      this.#asked = now;
      const input: EtaInput = this.#input(now);
      if (this.#worker !== null) {
        this.#busy = true;
        this.#worker.postMessage(input);
      } else {
        this.#latest = forecast(this.#sched.graph, input);
      }
    }
    return this.#latest;
  }

  #input(now: number): EtaInput {
    const ins = this.#sched.heldCount > 0 ? this.#releaseIn?.() : undefined;
    return etaInput(
      this.#sched,
      now,
      ins === undefined ? undefined : (t) => now + (ins.get(t) ?? 0),
    );
  }

  /** Stops the thread. */
  async close(): Promise<void> {
    const w = this.#worker;
    this.#worker = null;
    if (w !== null) await w.terminate();
  }
}
