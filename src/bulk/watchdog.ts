/**
 * The watchdog of a running stage: a stage whose log has not grown for
 * `seconds` is killed (a hung configure script, a test waiting for input).
 * The agent writes a task's output to a file on the host as it runs; the
 * watchdog asks for its size now and then with `wc -c` (one small task).
 */
import type { AgentConnection, RunningTask } from "../hosts/connection.js";

export interface Watchdog {
  /** True once it killed the task. */
  readonly fired: () => boolean;
  readonly stop: () => void;
}

/** Where the agent keeps a task's output (see src/agent/agent.sh: $root/.herd-agent/PID/tasks/ID/out). */
export function taskOutputPath(conn: AgentConnection, task: RunningTask): string {
  return `${conn.info.root}/.herd-agent/${conn.info.pid}/tasks/${task.id}/out`;
}

/** Watches a task's output; kills the task when it stays the same size for `seconds`. */
export function watchOutput(
  conn: AgentConnection,
  task: RunningTask,
  seconds: number,
  now: () => number = Date.now,
): Watchdog {
  let fired = false;
  let stopped = false;
  let lastSize = -1;
  let lastChange = now();
  const path = taskOutputPath(conn, task);
  const period = Math.max(250, Math.min(30_000, (seconds * 1000) / 4));
  const tick = async (): Promise<void> => {
    const r = await conn.run({ argv: ["wc", "-c", path], output: "split" });
    if (stopped || !r.ok || r.value.status !== 0) return;
    const size = Number(/^\s*(\d+)/.exec(r.value.output.toString("latin1"))?.[1] ?? -1);
    if (size !== lastSize) {
      lastSize = size;
      lastChange = now();
    } else if (now() - lastChange >= seconds * 1000) {
      fired = true;
      task.kill("KILL");
    }
  };
  let busy = false;
  const timer = setInterval(() => {
    if (busy || fired) return;
    busy = true;
    void tick().finally(() => {
      busy = false;
    });
  }, period);
  timer.unref();
  return {
    fired: () => fired,
    stop: () => {
      stopped = true;
      clearInterval(timer);
    },
  };
}
