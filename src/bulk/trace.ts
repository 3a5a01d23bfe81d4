/**
 * A latency trace of the build loop, for benchmarks: with HERD_TRACE=FILE in
 * the master's environment, each instant a package passes (its stage results
 * read, its file fetched and checked, the planner told, the store flushed,
 * the file committed, the package assigned, its slot leased, its first task
 * sent) is appended to FILE as `MS POINT NAME` lines, MS on the machine's
 * high-resolution wall clock (performance.timeOrigin + performance.now(), so
 * another process's instants compare), with the garbage collector's pauses
 * the event loop's stalls and the main thread's waits for a CPU. bench/latency.ts joins it with the farm's.
 *
 * Off (the variable unset), `trace` is undefined and each call site is one
 * test of it.
 */
import { appendFileSync, readFileSync } from "node:fs";
import { monitorEventLoopDelay, performance, PerformanceObserver } from "node:perf_hooks";

export type Trace = (point: string, name: string) => void;

export const trace: Trace | undefined = tracer(process.env.HERD_TRACE);

/** The time trace lines use (ms). */
export function traceNow(): number {
  return performance.timeOrigin + performance.now();
}

/** The main thread's time ready to run but not running, so far (ms; 0 where /proc has no schedstat). */
function runQueueWaitMs(): number {
  try {
    return Number(readFileSync("/proc/self/schedstat", "utf8").split(" ")[1]) / 1e6;
  } catch {
    return 0;
  }
}

function tracer(file: string | undefined): Trace | undefined {
  if (file === undefined || file === "") return undefined;
  let rows: string[] = [];
  const flush = (): void => {
    if (rows.length === 0) return;
    appendFileSync(file, rows.join(""));
    rows = [];
  };
  // Stalls: a timer that should fire every 5 ms, late by more than 5 ms.
  let last = traceNow();
  setInterval(() => {
    const now = traceNow();
    if (now - last > 10) rows.push(`${last.toFixed(2)} stall ${(now - last - 5).toFixed(2)}\n`);
    last = now;
  }, 5).unref();
  // Waiting: the main thread was ready to run but had no CPU (Linux schedstat), per 100 ms.
  let waited = runQueueWaitMs();
  setInterval(() => {
    const w = runQueueWaitMs();
    if (w - waited > 5)
      rows.push(`${(traceNow() - 100).toFixed(2)} wait ${(w - waited).toFixed(2)}\n`);
    waited = w;
  }, 100).unref();
  const lag = monitorEventLoopDelay({ resolution: 5 });
  lag.enable();
  new PerformanceObserver((list) => {
    for (const e of list.getEntries())
      rows.push(
        `${(performance.timeOrigin + e.startTime).toFixed(2)} gc ${e.duration.toFixed(2)}\n`,
      );
  }).observe({ entryTypes: ["gc"] });
  setInterval(flush, 1000).unref();
  process.on("exit", () => {
    rows.push(
      `${traceNow().toFixed(2)} lag p50=${(lag.percentile(50) / 1e6).toFixed(2)} p99=${(lag.percentile(99) / 1e6).toFixed(2)} max=${(lag.max / 1e6).toFixed(2)}\n`,
    );
    flush();
  });
  return (point, name) => {
    rows.push(`${traceNow().toFixed(2)} ${point} ${name}\n`);
  };
}
