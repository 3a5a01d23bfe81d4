/**
 * A build host behind a link the test can cut, slow down, make lossy and
 * distant: a network namespace joined to the test's by a veth pair
 * (addresses 10.213.N.1 here, 10.213.N.2 there), with a real sshd running
 * inside it. `cut()` sets the link down — packets vanish, nothing is closed
 * or reset, as when a cable is pulled or a router dies — and `restore()`
 * sets it up again.
 *
 * Without netem (this machine's kernel has none) the rest is made thus:
 * - rate: tc tbf on one or both ends of the veth pair (`throttle()`,
 *   `throttleBoth()`);
 * - loss: nftables drops a fraction of the packets at random as they
 *   arrive at either end of the link (`lose()`): a table in the namespace
 *   for the master's packets, one in the test's namespace, on its end of
 *   the veth pair only, for the host's. Each counts what it drops
 *   (`dropped()`). Dropped on arrival, a packet is lost as on a wire: the
 *   sender is not told (a drop on the way out would be refused to the
 *   sending stack, which retries at once). Both ends send one TCP segment
 *   per packet then, as on a wire;
 * - delay: with `{ delayMs }`, sshd listens on the namespace's loopback only
 *   and a relay in the namespace (tests/lib/delay-relay.ts) takes the
 *   connections on ADDRESS:22 and holds every chunk delayMs in each
 *   direction. The byte stream ssh sees is late, not each packet: TCP
 *   between the master and the relay still has the veth's round trip.
 *
 * Needs root, iproute2 and openssh-server (`netnsUnavailable()` says why
 * not otherwise); loss needs nftables too (`lossUnavailable()`).
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { SSHD, sshdUnavailable } from "./sshd-support.js";

const IP = "/usr/sbin/ip";
const NFT = "/usr/sbin/nft";
const RELAY = fileURLToPath(new URL("../lib/delay-relay.js", import.meta.url));
/** The nftables table (family inet) that `lose()` loads into the namespace; the test's own is named per host. */
const LOSS_TABLE = "herd_loss";

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

/**
 * Why `lose()` cannot work here (no nft binary, or a kernel without
 * nf_tables or its numgen expression), or null when it can.
 */
export function lossUnavailable(): string | null {
  const netns = netnsUnavailable();
  if (netns !== null) return netns;
  if (!existsSync(NFT)) return `no ${NFT} (apt-get install nftables)`;
  const probe = `herd-probe-${process.pid}`;
  try {
    execFileSync(IP, ["netns", "add", probe], { stdio: "ignore" });
    nft(probe, ["-f", "-"], lossRules(LOSS_TABLE, "lo", 10));
  } catch {
    return "cannot load an nftables table with numgen here";
  } finally {
    try {
      execFileSync(IP, ["netns", "del", probe], { stdio: "ignore" });
    } catch {
      // never made
    }
  }
  return null;
}

/**
 * The nftables script of `lose()`: replaces table `name` (one transaction) by
 * one that drops perMille of 1000 packets at random as they arrive on `dev`,
 * counting what it drops.
 */
function lossRules(name: string, dev: string, perMille: number): string {
  return [
    `table inet ${name}`,
    `delete table inet ${name}`,
    `table inet ${name} {`,
    "  chain input {",
    "    type filter hook input priority filter; policy accept;",
    `    iifname "${dev}" numgen random mod 1000 < ${String(perMille)} counter drop`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/** The packets the counters of `nft -j list table` output say were dropped. */
function countedPackets(json: string): number {
  const doc = JSON.parse(json) as { nftables?: { rule?: { expr?: unknown[] } }[] };
  let n = 0;
  for (const item of doc.nftables ?? [])
    for (const e of item.rule?.expr ?? []) {
      const c = (e as { counter?: { packets?: unknown } }).counter;
      if (typeof c?.packets === "number") n += c.packets;
    }
  return n;
}

export interface NetnsHostOptions {
  /**
   * Milliseconds every chunk of the ssh byte stream is held in each
   * direction, by a relay in the namespace in front of sshd (0 or absent:
   * no relay, sshd listens on the link itself).
   */
  readonly delayMs?: number;
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
   * on each end). For loss see `lose()`, for delay `startNetnsHost`'s
   * `delayMs` (netem, which would do both per packet, is not in every
   * kernel; this machine's has none).
   */
  throttleBoth(bytesPerSecond: number): void;
  /**
   * Drops this percentage of the packets (0.1 % steps) at random in each
   * direction, as they arrive at the far end of the link (nftables, numgen); 0 stops
   * dropping. Replaces what an earlier call set. Also has both ends send one
   * TCP segment per packet (gso_max_segs 1), for connections made after it.
   */
  lose(percent: number): void;
  /** The packets `lose()` has dropped so far, both directions together. */
  dropped(): number;
  /** The bytes the delaying relay has passed on so far, both directions (0 without `delayMs`). */
  relayed(): number;
  restore(): void;
  /** Stops sshd and every process in the namespace, deletes the namespace and the link. */
  stop(): Promise<void>;
}

function ip(...args: string[]): void {
  execFileSync(IP, args, { stdio: ["ignore", "ignore", "pipe"] });
}

/** Runs nft in network namespace `ns` (the test's own when undefined); its output. */
function nft(ns: string | undefined, args: readonly string[], input?: string): string {
  const argv = ns === undefined ? args : ["netns", "exec", ns, NFT, ...args];
  return execFileSync(ns === undefined ? NFT : IP, argv, {
    ...(input === undefined ? {} : { input }),
    stdio: ["pipe", "pipe", "pipe"],
  }).toString();
}

/** Whether an ssh server greets a connection to address:port (through the relay, if there is one). */
function greets(address: string, port: number): Promise<boolean> {
  return new Promise((res) => {
    const s = connect({ host: address, port });
    let got = "";
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.destroy();
      res(ok);
    };
    const timer = setTimeout(() => {
      done(false);
    }, 2000);
    s.on("data", (d: Buffer) => {
      got += d.toString("latin1");
      if (got.length >= 4) done(got.startsWith("SSH-"));
    });
    s.once("error", () => {
      done(false);
    });
    s.once("close", () => {
      done(false);
    });
  });
}

/** Sends SIGTERM to a child and waits for it to exit. */
async function terminate(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
}

/**
 * Creates the namespace and the link, and starts sshd in it (keys made in
 * `dir`); with `delayMs`, sshd behind a relay that delays (see NetnsHostOptions).
 */
export async function startNetnsHost(
  dir: string,
  index = 0,
  options: NetnsHostOptions = {},
): Promise<NetnsHost> {
  const delayMs = options.delayMs ?? 0;
  if (!(Number.isFinite(delayMs) && delayMs >= 0))
    throw new RangeError(`bad delay ${String(delayMs)}`);
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
  let relay: ChildProcess | undefined;
  // lose()'s table in the test's own namespace: it goes only with teardown.
  const ownLossTable = `${LOSS_TABLE}_${tag}`;
  const teardown = (): void => {
    try {
      nft(undefined, ["delete", "table", "inet", ownLossTable]);
    } catch {
      // no loss asked for, or nft missing
    }
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
        // Behind the relay, sshd is reached through it or not at all.
        `ListenAddress ${delayMs > 0 ? "127.0.0.1" : address}`,
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
    const counter = join(dir, "relayed");
    if (delayMs > 0) {
      relay = spawn(
        IP,
        [
          "netns",
          "exec",
          ns,
          process.execPath,
          RELAY,
          address,
          "22",
          "127.0.0.1",
          "22",
          String(delayMs),
          counter,
        ],
        // Its stdin is this process's pipe: the relay ends when this process does.
        { stdio: ["pipe", "ignore", "pipe"] },
      );
      relay.stderr?.on("data", (d: Buffer) => (log += d.toString()));
    }
    for (let i = 0; !(await greets(address, 22)); i++) {
      if (sshd.exitCode !== null) throw new Error(`sshd exited: ${log}`);
      if (relay !== undefined && relay.exitCode !== null)
        throw new Error(`the delay relay exited: ${log}`);
      if (i > 100) throw new Error(`sshd did not answer on ${address}:22: ${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    const child = sshd;
    const relayChild = relay;
    let lossLoaded = false;
    let droppedBefore = 0;
    const dropped = (): number =>
      droppedBefore +
      (lossLoaded
        ? countedPackets(nft(ns, ["-j", "list", "table", "inet", LOSS_TABLE])) +
          countedPackets(nft(undefined, ["-j", "list", "table", "inet", ownLossTable]))
        : 0);
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
      lose: (percent) => {
        if (!(percent >= 0 && percent <= 100)) throw new RangeError(`bad loss ${String(percent)}`);
        // Replacing the table resets its counters: keep what they said.
        droppedBefore = dropped();
        // TCP hands a GSO-capable device such as a veth bundles of two
        // segments or more, which the hooks would see, and drop, as one
        // packet; one segment per packet, as on a wire.
        ip("link", "set", "dev", outside, "gso_max_segs", "1");
        ip("-n", ns, "link", "set", "dev", inside, "gso_max_segs", "1");
        const perMille = Math.round(percent * 10);
        // The master's packets, as they reach the host; the host's, as they reach the master.
        nft(ns, ["-f", "-"], lossRules(LOSS_TABLE, inside, perMille));
        nft(undefined, ["-f", "-"], lossRules(ownLossTable, outside, perMille));
        lossLoaded = true;
      },
      dropped,
      relayed: () => {
        try {
          return Number(readFileSync(counter, "utf8").trim()) || 0;
        } catch {
          return 0;
        }
      },
      stop: async () => {
        await terminate(child);
        if (relayChild !== undefined) await terminate(relayChild);
        teardown();
      },
    };
  } catch (e) {
    sshd?.kill("SIGKILL");
    relay?.kill("SIGKILL");
    teardown();
    throw e;
  }
}
