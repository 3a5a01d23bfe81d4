/**
 * A running stage's log, live on the master: the agent writes a task's
 * output to a file on the host as it runs (see src/agent/agent.sh), and the
 * master fetches what was added since its last look, now and then, into the
 * stage's log file in the work directory (WORK/logs/PKGNAME/STAGE.log). A
 * stage of a slow host that runs for hours is followed there with
 * `herd logs -f` and on the dashboard; at the stage's end the complete log
 * replaces the streamed one. Bounded: at most CHUNK bytes per look; resumable:
 * every look asks from the offset it has reached.
 */
import { appendFileSync, unlinkSync, writeFileSync } from "node:fs";
import type { AgentConnection, RunningTask } from "../hosts/connection.js";
import { everyLook, taskOutputPath } from "./watchdog.js";

/** The most one look brings over: a stage printing faster is followed with a lag, not a flood. */
const CHUNK = 256 * 1024;

// Bytes of FILE from OFFSET on, at most COUNT (tail's +N counts from 1).
const READ = 'tail -c +"$(($2 + 1))" "$1" 2>/dev/null | dd bs="$3" count=1 2>/dev/null';

export interface LiveLog {
  /** Stops following; resolves once the last look has been written. */
  readonly stop: () => Promise<void>;
}

/**
 * Follows a task's output (step `step`'s, of a task of steps) into `file`
 * every `seconds` (or slower on a slow host) until stopped. `stale`: the
 * file may be there from an earlier attempt (its directory was not new).
 */
export function followOutput(
  conn: AgentConnection,
  task: RunningTask,
  file: string,
  seconds: number,
  step?: number,
  stale = true,
): LiveLog {
  const path = taskOutputPath(conn, task, step);
  let offset = 0;
  let stopped = false;
  // Synchronous writes: a few bytes each, for every stage of every package; fs/promises'
  // thread-pool round trips cost several times the CPU. The file is made at the first output
  // (most stages of most packages end before a look finds any): until then `herd logs -f` and
  // the dashboard say that nothing has arrived yet. What an earlier attempt left is removed
  // (only then: a failed unlink costs as much as a file made).
  let made = false;
  const write = (data: Buffer): void => {
    try {
      if (made) appendFileSync(file, data);
      else writeFileSync(file, data);
      made = true;
    } catch {
      /* the stage's whole log is written when it ends */
    }
  };
  if (stale)
    try {
      unlinkSync(file);
    } catch {
      /* none there */
    }
  const looks = everyLook(Math.max(200, seconds * 1000), async () => {
    const r = await conn.run({
      argv: ["sh", "-c", READ, "herd-tail", path, String(offset), String(CHUNK)],
      output: "split",
    });
    if (stopped || !r.ok || r.value.output.length === 0) return true;
    offset += r.value.output.length;
    write(r.value.output);
    return true;
  });
  return {
    stop: async () => {
      stopped = true;
      await looks.stop();
    },
  };
}
