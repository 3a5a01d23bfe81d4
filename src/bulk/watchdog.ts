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

/**
 * A look at a running task (its output's size here, its new output in
 * livelog.ts) costs the host a task of a few processes: nothing on a fast
 * host, a second or more of CPU on one at 1/20 of its speed. The next look
 * waits at least COST_RATIO times as long as the last one took, so watching
 * a stage never takes more than about 1/COST_RATIO of a slow host's time.
 */
export const COST_RATIO = 50;

/**
 * Where the agent keeps a task's output (see src/agent/agent.sh: $root/.herd-agent/PID/tasks/ID/out),
 * or that of step `step` of a task of steps (…/out.STEP).
 */
export function taskOutputPath(conn: AgentConnection, task: RunningTask, step?: number): string {
  const dir = `${conn.info.root}/.herd-agent/${conn.info.pid}/tasks/${task.id}`;
  return step === undefined ? `${dir}/out` : `${dir}/out.${step}`;
}

/**
 * Runs `look` after `baseMs`, then again after the longer of `baseMs` and
 * COST_RATIO times what the last look took, until stopped or `look` returns
 * false. `stop` resolves once a look under way has ended. Shared by the
 * watchdog and the live log (livelog.ts).
 */
export function everyLook(
  baseMs: number,
  look: () => Promise<boolean>,
): { readonly stop: () => Promise<void> } {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let busy: Promise<void> = Promise.resolve();
  const schedule = (ms: number): void => {
    timer = setTimeout(() => {
      busy = (async () => {
        const t0 = performance.now();
        const again = await look().catch(() => true);
        if (again && !stopped) schedule(Math.max(baseMs, COST_RATIO * (performance.now() - t0)));
      })();
    }, ms);
    timer.unref();
  };
  schedule(baseMs);
  return {
    stop: async () => {
      stopped = true;
      clearTimeout(timer);
      await busy;
    },
  };
}

/**
 * Watches a task's output (step `step`'s, of a task of steps); kills the task
 * when it stays the same size for `seconds`.
 */
export function watchOutput(
  conn: AgentConnection,
  task: RunningTask,
  seconds: number,
  now: () => number = Date.now,
  step?: number,
): Watchdog {
  let fired = false;
  let stopped = false;
  let lastSize = -1;
  let lastChange = now();
  const path = taskOutputPath(conn, task, step);
  const looks = everyLook(Math.max(250, Math.min(30_000, (seconds * 1000) / 4)), async () => {
    const r = await conn.run({ argv: ["wc", "-c", path], output: "split" });
    if (stopped || !r.ok || r.value.status !== 0) return true;
    const size = Number(/^\s*(\d+)/.exec(r.value.output.toString("latin1"))?.[1] ?? -1);
    if (size !== lastSize) {
      lastSize = size;
      lastChange = now();
    } else if (now() - lastChange >= seconds * 1000) {
      fired = true;
      task.kill("KILL");
    }
    return !fired;
  });
  return {
    fired: () => fired,
    stop: () => {
      stopped = true;
      void looks.stop();
    },
  };
}
