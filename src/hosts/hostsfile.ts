/**
 * The hosts file: one build host per line.
 *
 *     # NAME   TRANSPORT  [ADDRESS]                 [KEY=VALUE ...]
 *     fast1    local
 *     vax1     ssh        herd@vax1.example.org:22  slots=1 speed=0.05 tags=vax,netbsd
 *     m68k     attach                               speed=0.02 root=/home/herd
 *
 * NAME: letters, digits, `.`, `_`, `-`. TRANSPORT: `local` (a local agent
 * process), `ssh` (the master connects; ADDRESS is `[user@]host[:port]`,
 * required) or `attach` (the host connects with `herd attach NAME`; no
 * ADDRESS). For `local`, ADDRESS is the host's directory (default
 * WORK/hosts/NAME). Keys:
 *
 *   slots=N            tasks run at once (default 1)
 *   speed=F            speed factor, 1.0 = reference host (default 1)
 *   tags=a,b           free-form tags (e.g. arch=vax, netbsd)
 *   root=DIR           the agent's directory on the host (ssh/attach default `herd`,
 *                      relative to the login directory)
 *   shell=CMD          shell that runs the agent: /bin/sh (default), dash, busybox
 *   sync=yes|no        no: ROOT/pkgsrc is the master's tree itself (NFS, or for a
 *                      local host a symlink herd makes): never synced
 *   sandbox=KIND|"CMD" how each slot gets a private prefix: none, unshare, bwrap,
 *                      or a command template entering slot {slot}'s sandbox
 *                      (e.g. sandbox="chroot /sandbox/slot{slot}"); see the README
 *   identity=FILE      ssh: private key file
 *   known_hosts=FILE   ssh: known_hosts file (host keys are always checked)
 *   ssh_option=OPT     ssh: extra `-o OPT`, repeatable (e.g. ssh_option=ConnectTimeout=20)
 *
 * A value may be double-quoted to hold spaces. `#` starts a comment; blank
 * lines are ignored. Every error names the file and line.
 */
import { err, ok, type Result } from "../protocol/result.js";

export type TransportName = "local" | "ssh" | "attach";

export interface HostEntry {
  readonly name: string;
  readonly transport: TransportName;
  /** ssh: [user@]host[:port]; local: the host directory; attach: none. */
  readonly address: string | null;
  readonly slots: number;
  readonly speed: number;
  readonly tags: readonly string[];
  readonly root: string | null;
  readonly shell: string | null;
  readonly sync: boolean;
  /** `sandbox=`: one kind word, or the words of a hook template; null when not given. */
  readonly sandbox: readonly string[] | null;
  readonly identity: string | null;
  readonly knownHosts: string | null;
  readonly sshOptions: readonly string[];
  /** 1-based line in the file, for messages. */
  readonly line: number;
}

export interface HostsFileError {
  readonly code: "hosts-file";
  readonly message: string;
  readonly hint: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const TRANSPORTS: readonly TransportName[] = ["local", "ssh", "attach"];
const KEYS = [
  "slots",
  "speed",
  "tags",
  "root",
  "shell",
  "sync",
  "sandbox",
  "identity",
  "known_hosts",
  "ssh_option",
];
const HINT = 'one host per line: NAME TRANSPORT [ADDRESS] [key=value ...] (README, "Build hosts")';

/** Parses a hosts file's text; the first problem is an error value naming file:line. */
export function parseHostsFile(text: string, file: string): Result<HostEntry[], HostsFileError> {
  const hosts: HostEntry[] = [];
  const names = new Set<string>();
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const fail = (message: string): Result<HostEntry[], HostsFileError> =>
      err({ code: "hosts-file", message: `${file}:${lineNo}: ${message}`, hint: HINT });
    const words = splitLine(lines[i]!);
    if (words === null) return fail("a double quote is not closed");
    if (words.length === 0) continue;
    const [name, transport, ...rest] = words as [string, string | undefined, ...string[]];
    if (!NAME.test(name)) return fail(`bad host name ${JSON.stringify(name)}`);
    if (names.has(name)) return fail(`host ${name} is listed twice`);
    if (transport === undefined)
      return fail(`host ${name} has no transport (local, ssh or attach)`);
    if (!TRANSPORTS.includes(transport as TransportName)) {
      return fail(`unknown transport ${JSON.stringify(transport)} (local, ssh or attach)`);
    }
    const t = transport as TransportName;
    let address: string | null = null;
    if (rest[0] !== undefined && !rest[0].includes("=")) address = rest.shift()!;
    const kv = new Map<string, string>();
    const sshOptions: string[] = [];
    for (const w of rest) {
      const eq = w.indexOf("=");
      if (eq <= 0) return fail(`expected key=value, found ${JSON.stringify(w)}`);
      const key = w.slice(0, eq);
      const value = w.slice(eq + 1);
      if (!KEYS.includes(key))
        return fail(`unknown key ${JSON.stringify(key)} (known: ${KEYS.join(", ")})`);
      if (key === "ssh_option") sshOptions.push(value);
      else if (kv.has(key)) return fail(`${key} given twice`);
      else kv.set(key, value);
    }
    if (t === "ssh" && address === null)
      return fail(`ssh host ${name} needs an address: [user@]host[:port]`);
    if (
      t === "ssh" &&
      address !== null &&
      !/^([A-Za-z0-9._-]+@)?[A-Za-z0-9._-]+(:[0-9]{1,5})?$/.test(address)
    ) {
      return fail(`bad ssh address ${JSON.stringify(address)}: [user@]host[:port]`);
    }
    if (t === "attach" && address !== null)
      return fail(`attach host ${name} takes no address: it connects to us`);
    if (t !== "ssh" && (kv.has("identity") || kv.has("known_hosts") || sshOptions.length > 0)) {
      return fail(`identity, known_hosts and ssh_option are for ssh hosts`);
    }
    const slots = Number(kv.get("slots") ?? "1");
    if (!Number.isInteger(slots) || slots < 1 || slots > 1024)
      return fail(`slots must be a whole number from 1 to 1024`);
    const speed = Number(kv.get("speed") ?? "1");
    if (!Number.isFinite(speed) || speed <= 0) return fail(`speed must be a number greater than 0`);
    const sync = kv.get("sync") ?? "yes";
    if (sync !== "yes" && sync !== "no") return fail(`sync must be yes or no`);
    const sandboxValue = kv.get("sandbox");
    const sandbox =
      sandboxValue === undefined ? null : sandboxValue.split(/\s+/).filter((w) => w !== "");
    if (sandbox !== null && sandbox.length === 0)
      return fail(`sandbox needs a kind (none, unshare, bwrap) or a quoted command`);
    names.add(name);
    hosts.push({
      name,
      transport: t,
      address,
      slots,
      speed,
      tags: (kv.get("tags") ?? "").split(",").filter((s) => s !== ""),
      root: kv.get("root") ?? null,
      shell: kv.get("shell") ?? null,
      sync: sync === "yes",
      sandbox,
      identity: kv.get("identity") ?? null,
      knownHosts: kv.get("known_hosts") ?? null,
      sshOptions,
      line: lineNo,
    });
  }
  return ok(hosts);
}

/** One line of the hosts file for an entry (what `herd hosts add` appends). */
export function formatHostEntry(h: Omit<HostEntry, "line">): string {
  const w: string[] = [h.name, h.transport];
  if (h.address !== null) w.push(h.address);
  if (h.slots !== 1) w.push(`slots=${h.slots}`);
  if (h.speed !== 1) w.push(`speed=${h.speed}`);
  if (h.tags.length > 0) w.push(`tags=${h.tags.join(",")}`);
  if (h.root !== null) w.push(`root=${h.root}`);
  if (h.shell !== null) w.push(`shell=${h.shell}`);
  if (!h.sync) w.push("sync=no");
  if (h.sandbox !== null)
    w.push(
      h.sandbox.length === 1 ? `sandbox=${h.sandbox[0]!}` : `sandbox="${h.sandbox.join(" ")}"`,
    );
  if (h.identity !== null) w.push(`identity=${h.identity}`);
  if (h.knownHosts !== null) w.push(`known_hosts=${h.knownHosts}`);
  for (const o of h.sshOptions) w.push(`ssh_option=${o}`);
  return w.join(" ");
}

/**
 * The words of a line without its comment; a double-quoted part (in a
 * value: `sandbox="chroot /s/{slot}"`) keeps its spaces and loses its
 * quotes. Null when a quote is left open.
 */
function splitLine(line: string): string[] | null {
  const words: string[] = [];
  let cur = "";
  let inWord = false;
  let quoted = false;
  for (const ch of line) {
    if (quoted) {
      if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') {
      quoted = true;
      inWord = true;
    } else if (ch === "#") break;
    else if (/\s/.test(ch)) {
      if (inWord) words.push(cur);
      cur = "";
      inWord = false;
    } else {
      cur += ch;
      inWord = true;
    }
  }
  if (quoted) return null;
  if (inWord) words.push(cur);
  return words;
}
