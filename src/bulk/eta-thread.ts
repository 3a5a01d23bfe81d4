/**
 * The ETA worker thread: rebuilds the build's task graph once, then answers
 * each EtaInput it is sent with forecast() (see src/bulk/eta-worker.ts).
 */
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { forecast, type EtaInput } from "../core/sched/eta.js";
import { buildTaskGraph } from "../core/sched/graph.js";

// Background work: on Linux this lowers this thread only, not the master's dispatching one.
try {
  setPriority(0, 10);
} catch {
  // not allowed here: it runs at the master's priority
}
const data = workerData as { names: string[]; deps: number[][] };
const g = buildTaskGraph(data.names, data.deps);
if (!g.ok) throw new Error(`build graph: ${g.error.reason}`);
const graph = g.graph;
parentPort?.on("message", (input: EtaInput) => {
  parentPort?.postMessage(forecast(graph, input));
});
