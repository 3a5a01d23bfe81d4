/**
 * A build host behind a link the test can cut: a network namespace joined to
 * the test's by a veth pair (addresses 10.213.N.1 here, 10.213.N.2 there),
 * with a real sshd running inside it. `cut()` sets the link down — packets
 * vanish, nothing is closed or reset, as when a cable is pulled or a router
 * dies — and `restore()` sets it up again. Needs root, iproute2 and
 * openssh-server; `netnsUnavailable()` says why not otherwise.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { SSHD, sshdUnavailable } from "./sshd-support.js";

const IP = "/usr/sbin/ip";

/** Why a namespaced sshd cannot run here, or null when it can. */
export function netnsUnavailable(): string | null {
  const sshd = sshdUnavailable();
  if (sshd !== null) return sshd;
  if (!existsSync(IP)) return "no /usr/sbin/ip (apt-get install iproute2)";
  const probe = `herd-probe-${process.pid}`;
  try {
    execFileSync(IP, ["netns", "add", probe], { stdio: "ignore" });
    execFileSync(IP, ["netns", "del", probe], { stdio: "ignore" });
  } catch {
    return "cannot create network namespaces here";
  }
  return null;
}

export interface NetnsHost {
  /** The host's address inside the namespace; sshd listens on port 22 there. */
  readonly address: string;
  readonly identity: string;
  readonly knownHosts: string;
  /** Pulls the cable: the link goes down, nothing is closed. */
  cut(): void;
  /** Limits the master-to-host direction of the link to this many bytes per second (tc tbf). */
  throttle(bytesPerSecond: number): void;
  /**
   * Limits both directions of the link to this many bytes per second (tc tbf
   * on each end). Delay and loss would need netem, which not every kernel
   * has (this machine's has none).
   */
  throttleBoth(bytesPerSecond: number): void;
  restore(): void;
  /** Stops sshd and every process in the namespace, deletes the namespace and the link. */
  stop(): Promise<void>;
}

function ip(...args: string[]): void {
  execFileSync(IP, args, { stdio: ["ignore", "ignore", "pipe"] });
}

function listening(address: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: address, port, timeout: 1000 });
    s.once("connect", () => {
      s.destroy();
      res(true);
    });
    s.once("error", () => {
      res(false);
    });
    s.once("timeout", () => {
      s.destroy();
      res(false);
    });
  });
}

/** Creates the namespace and the link, and starts sshd in it (keys made in `dir`). */
export async function startNetnsHost(dir: string, index = 0): Promise<NetnsHost> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  // Index 0 keeps the names of a single host per process; others get their own.
  const tag = index === 0 ? String(process.pid) : `${process.pid}${index}`;
  const ns = `herd-cut-${tag}`;
  const outside = `hc${tag}a`;
  const inside = `hc${tag}b`;
  const net = `10.${213 + index}.${process.pid % 250}`;
  const address = `${net}.2`;
  let sshd: ChildProcess | undefined;
  const teardown = (): void => {
    try {
      const pids = execFileSync(IP, ["netns", "pids", ns]).toString().trim().split("\n");
      for (const p of pids) if (p !== "") process.kill(Number(p), "SIGKILL");
    } catch {
      // no namespace, or its processes are gone
    }
    for (const args of [
      ["link", "del", outside],
      ["netns", "del", ns],
    ]) {
      try {
        ip(...args);
      } catch {
        // already gone
      }
    }
  };
  try {
    ip("netns", "add", ns);
    ip("link", "add", outside, "type", "veth", "peer", "name", inside);
    ip("link", "set", inside, "netns", ns);
    ip("addr", "add", `${net}.1/30`, "dev", outside);
    ip("link", "set", outside, "up");
    ip("-n", ns, "addr", "add", `${address}/30`, "dev", inside);
    ip("-n", ns, "link", "set", inside, "up");
    ip("-n", ns, "link", "set", "lo", "up");

    const hostKey = join(dir, "host_key");
    const identity = join(dir, "user_key");
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
    execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", identity]);
    writeFileSync(join(dir, "authorized_keys"), readFileSync(`${identity}.pub`), { mode: 0o600 });
    const cfg = join(dir, "sshd_config");
    writeFileSync(
      cfg,
      [
        "Port 22",
        `ListenAddress ${address}`,
        `HostKey ${hostKey}`,
        `PidFile ${join(dir, "sshd.pid")}`,
        `AuthorizedKeysFile ${join(dir, "authorized_keys")}`,
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "PubkeyAuthentication yes",
        "PermitRootLogin prohibit-password",
        "StrictModes no",
        "UsePAM no",
        "LogLevel ERROR",
        "",
      ].join("\n"),
    );
    const hostPub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
    const knownHosts = join(dir, "known_hosts");
    writeFileSync(knownHosts, `${address} ${hostPub}\n`);
    sshd = spawn(IP, ["netns", "exec", ns, SSHD, "-D", "-e", "-f", cfg], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let log = "";
    sshd.stderr?.on("data", (d: Buffer) => (log += d.toString()));
    for (let i = 0; !(await listening(address, 22)); i++) {
      if (sshd.exitCode !== null) throw new Error(`sshd exited: ${log}`);
      if (i > 100) throw new Error(`sshd did not listen on ${address}:22: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const child = sshd;
    return {
      address,
      identity,
      knownHosts,
      // The far end goes down: the master's side keeps its address and route,
      // its packets are dropped on a link with no carrier, and nobody is told.
      cut: () => {
        ip("-n", ns, "link", "set", inside, "down");
      },
      restore: () => {
        ip("-n", ns, "link", "set", inside, "up");
      },
      throttle: (bytesPerSecond) => {
        const rate = `${Math.round(bytesPerSecond * 8)}bit`;
        execFileSync(
          "tc",
          [
            "qdisc",
            "replace",
            "dev",
            outside,
            "root",
            "tbf",
            "rate",
            rate,
            "burst",
            "64kb",
            "latency",
            "200ms",
          ],
          { stdio: ["ignore", "ignore", "pipe"] },
        );
      },
      throttleBoth: (bytesPerSecond) => {
        const tbf = [
          "root",
          "tbf",
          "rate",
          `${Math.round(bytesPerSecond * 8)}bit`,
          "burst",
          "64kb",
          "latency",
          "200ms",
        ];
        const opts = { stdio: ["ignore", "ignore", "pipe"] as ("ignore" | "pipe")[] };
        execFileSync("tc", ["qdisc", "replace", "dev", outside, ...tbf], opts);
        execFileSync(
          IP,
          ["netns", "exec", ns, "tc", "qdisc", "replace", "dev", inside, ...tbf],
          opts,
        );
      },
      stop: async () => {
        if (child.exitCode === null) {
          const exited = new Promise((r) => child.once("exit", r));
          child.kill("SIGTERM");
          await exited;
        }
        teardown();
      },
    };
  } catch (e) {
    sshd?.kill("SIGKILL");
    teardown();
    throw e;
  }
}
