/**
 * The slow-host rig: a build host made as slow as a VAX or an emulated m68k
 * on this machine. CPU: a cgroup whose CPU quota is a fraction of one core
 * (cgroup v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, or v2 `cpu.max`);
 * every process started inside it, and all their children, share that
 * quota. A local host enters the cage through its `shell=` (a script that
 * moves itself into the cgroup, then execs sh); an ssh host in a network
 * namespace (tests/integration/netns-support.ts) has its sshd moved in, so
 * every session it forks is caged, and its link limited both ways by
 * `throttleBoth()` (tc tbf). The link can also lose packets, `lose()` (an
 * nftables table in the namespace drops a percentage at random each way and
 * counts them), and be distant, `startNetnsHost(dir, i, { delayMs })` (a
 * relay in the namespace holds the ssh byte stream that long each way; not
 * per-packet delay, which would need netem, absent from this machine's
 * kernel).
 *
 * Everything is removed by `stop()`; a cage's processes are killed first.
 * Needs root and a cgroup cpu controller; `cageUnavailable()` says why not.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const V1 = "/sys/fs/cgroup/cpu";
const V2 = "/sys/fs/cgroup";
const PERIOD_US = 100_000;

/** Why a CPU cage cannot be made here, or null when it can. */
export function cageUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "needs root (cgroups)";
  if (existsSync(join(V1, "cpu.cfs_quota_us"))) return null;
  if (existsSync(join(V2, "cgroup.controllers"))) {
    const ctl = readFileSync(join(V2, "cgroup.controllers"), "utf8");
    if (/\bcpu\b/.test(ctl)) return null;
    return "cgroup v2 without the cpu controller";
  }
  return "no cgroup cpu controller (neither v1 cpu.cfs_quota_us nor v2 cpu.max)";
}

export interface CpuCage {
  /** The fraction of one core the cage gets (0.05 = 1/20). */
  readonly fraction: number;
  /** A shell for a local host (`shell=PATH`): moves itself into the cage, then runs sh. */
  readonly shell: string;
  /** Moves a running process (and the children it forks afterwards) into the cage. */
  add(pid: number): void;
  /** Kills what is still inside and removes the cgroup. */
  stop(): void;
}

/** Makes a cgroup `name` limited to `fraction` of one core; `dir` receives the shell script. */
export function cpuCage(name: string, fraction: number, dir: string): CpuCage {
  const why = cageUnavailable();
  if (why !== null) throw new Error(`cannot make a slow host: ${why}`);
  const v1 = existsSync(join(V1, "cpu.cfs_quota_us"));
  const path = v1 ? join(V1, name) : join(V2, name);
  mkdirSync(path, { recursive: true });
  const quota = Math.max(1000, Math.round(PERIOD_US * fraction));
  if (v1) {
    writeFileSync(join(path, "cpu.cfs_period_us"), String(PERIOD_US));
    writeFileSync(join(path, "cpu.cfs_quota_us"), String(quota));
  } else {
    const ctl = join(V2, "cgroup.subtree_control");
    if (!/\bcpu\b/.test(readFileSync(ctl, "utf8"))) writeFileSync(ctl, "+cpu");
    writeFileSync(join(path, "cpu.max"), `${quota} ${PERIOD_US}`);
  }
  const procs = join(path, "cgroup.procs");
  mkdirSync(dir, { recursive: true });
  const shell = join(dir, `${name}.sh`);
  writeFileSync(shell, `#!/bin/sh\necho $$ > '${procs}' || exit 111\nexec sh "$@"\n`);
  chmodSync(shell, 0o755);
  return {
    fraction,
    shell,
    add: (pid) => {
      writeFileSync(procs, String(pid));
    },
    stop: () => {
      for (let i = 0; i < 50; i++) {
        let pids: number[];
        try {
          pids = readFileSync(procs, "utf8").split("\n").filter(Boolean).map(Number);
        } catch {
          return;
        }
        for (const p of pids) {
          try {
            process.kill(p, "SIGKILL");
          } catch {
            // gone already
          }
        }
        try {
          rmdirSync(path);
          return;
        } catch {
          // processes still exiting
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
        }
      }
    },
  };
}
