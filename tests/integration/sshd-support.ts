/**
 * A real OpenSSH server for tests: host and user keys made by the test, on
 * loopback addresses (127.0.0.x), stopped by the test. Needs root (sshd's
 * privilege separation) and the Debian packages openssh-server and
 * openssh-client; tests skip themselves when these are missing.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";

export const SSHD = "/usr/sbin/sshd";

/** Why sshd tests cannot run here, or null when they can. */
export function sshdUnavailable(): string | null {
  if (process.getuid?.() !== 0) return "sshd tests need root";
  if (!existsSync(SSHD)) return "no /usr/sbin/sshd (apt-get install openssh-server)";
  try {
    execFileSync("ssh", ["-V"], { stdio: "ignore" });
  } catch {
    return "no ssh client";
  }
  return null;
}

export interface TestSshd {
  readonly port: number;
  readonly addresses: readonly string[];
  /** The user key to log in with. */
  readonly identity: string;
  /** A known_hosts file with the server's key for every address. */
  readonly knownHosts: string;
  /** An empty known_hosts file (every host unknown). */
  readonly emptyKnownHosts: string;
  stop(): Promise<void>;
}

function freePort(host: string): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.once("error", rej);
    s.listen(0, host, () => {
      const a = s.address();
      const port = typeof a === "object" && a !== null ? a.port : 0;
      s.close(() => {
        res(port);
      });
    });
  });
}

/** Starts sshd listening on every address in `addresses` (loopback), port chosen free. */
export async function startSshd(dir: string, addresses: readonly string[]): Promise<TestSshd> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKey = join(dir, "host_key");
  const identity = join(dir, "user_key");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", hostKey]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", identity]);
  writeFileSync(join(dir, "authorized_keys"), readFileSync(`${identity}.pub`), { mode: 0o600 });
  const port = await freePort(addresses[0]!);
  const config = [
    `Port ${port}`,
    ...addresses.map((a) => `ListenAddress ${a}`),
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
    "MaxSessions 50",
    "MaxStartups 50",
  ].join("\n");
  const cfg = join(dir, "sshd_config");
  writeFileSync(cfg, config + "\n");
  const hostPub = readFileSync(`${hostKey}.pub`, "utf8").trim().split(" ").slice(0, 2).join(" ");
  const knownHosts = join(dir, "known_hosts");
  writeFileSync(knownHosts, addresses.map((a) => `[${a}]:${port} ${hostPub}\n`).join(""));
  const emptyKnownHosts = join(dir, "known_hosts.empty");
  writeFileSync(emptyKnownHosts, "");
  const child: ChildProcess = spawn(SSHD, ["-D", "-e", "-f", cfg], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  // Ready once every address accepts connections.
  for (const a of addresses) {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`sshd exited: ${log}`);
      const up = await new Promise<boolean>((res) => {
        const s = createServer();
        s.once("error", () => {
          res(true);
        });
        s.listen(port, a, () => {
          s.close(() => {
            res(false);
          });
        });
      });
      if (up) break;
      if (i > 200) throw new Error(`sshd did not listen on ${a}:${port}: ${log}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }
  return {
    port,
    addresses,
    identity,
    knownHosts,
    emptyKnownHosts,
    stop: () =>
      new Promise((res) => {
        if (child.exitCode !== null) {
          res();
          return;
        }
        child.once("exit", () => {
          res();
        });
        child.kill("SIGTERM");
      }),
  };
}
