/**
 * Host specifications for the simulator and tests: `8` (eight hosts of speed
 * 1.0, one slot each), `2x1.0,10x0.25` (groups of COUNTxSPEED),
 * `4x1.0:2` (…with 2 slots per host), `10x0.05@1MB` (…whose link to the
 * master carries 1 MB/s; without `@` the link costs nothing) and
 * `2x0.05@100KB+2h` (…which connect 2 hours into the build and sync the tree
 * first). Hosts are named h1, h2, … in order.
 */

export type HostName = string & { readonly __brand: "HostName" };

/** Brands a string as a host name. */
export function hostName(name: string): HostName {
  return name as HostName;
}

export interface HostSpec {
  readonly name: HostName;
  /** 1.0 = the speed the history was recorded at; 0.25 takes four times as long. */
  readonly speed: number;
  readonly slots: number;
  /** Bytes per second of the host's link to the master; absent: free (nothing to wait for). */
  readonly link?: number | undefined;
  /** Seconds into the build when the host connects (it syncs the tree first); absent: at the start, in sync. */
  readonly joinAt?: number | undefined;
}

export interface HostSpecError {
  readonly code: "hostspec";
  readonly message: string;
  readonly hint: string;
}

export type HostSpecResult =
  | { readonly ok: true; readonly hosts: readonly HostSpec[] }
  | { readonly ok: false; readonly error: HostSpecError };

const NUM = String.raw`(\d+(?:\.\d+)?|\.\d+)`;
const GROUP = new RegExp(
  String.raw`^(\d+)(?:x${NUM})?(?::(\d+))?(?:@${NUM}(B|KB|MB|GB)?)?(?:\+${NUM}(s|m|h)?)?$`,
  "i",
);
const MAX_HOSTS = 100_000;
const HINT =
  "write COUNT[xSPEED][:SLOTS][@LINK][+JOIN] groups separated by commas, e.g. 8 or 2x1.0,10x0.25 or 4x1.0:2 or 10x0.05@1MB+2h";
/** Link units are decimal, as link speeds are quoted: 1MB = 1,000,000 bytes per second. */
const BYTES: Readonly<Record<string, number>> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9 };
const SECONDS: Readonly<Record<string, number>> = { s: 1, m: 60, h: 3600 };

/** Parses a host spec such as `2x1.0,10x0.25` or `4x1.0:2`; a bad spec is an error value. */
export function parseHostSpec(spec: string): HostSpecResult {
  const hosts: HostSpec[] = [];
  const fail = (message: string): HostSpecResult => ({
    ok: false,
    error: { code: "hostspec", message, hint: HINT },
  });
  if (spec.trim() === "") return fail("empty host spec");
  for (const rawGroup of spec.split(",")) {
    const group = rawGroup.trim();
    const m = GROUP.exec(group);
    if (m === null)
      return fail(`bad host group ${JSON.stringify(group)} in ${JSON.stringify(spec)}`);
    const count = Number(m[1]);
    const speed = m[2] === undefined ? 1 : Number(m[2]);
    const slots = m[3] === undefined ? 1 : Number(m[3]);
    if (count < 1) return fail(`host group ${JSON.stringify(group)} has no hosts`);
    if (!(speed > 0) || !Number.isFinite(speed)) {
      return fail(`host group ${JSON.stringify(group)}: speed must be greater than 0`);
    }
    if (slots < 1) return fail(`host group ${JSON.stringify(group)}: slots must be at least 1`);
    const link =
      m[4] === undefined ? undefined : Number(m[4]) * BYTES[(m[5] ?? "b").toLowerCase()]!;
    if (link !== undefined && !(link > 0)) {
      return fail(`host group ${JSON.stringify(group)}: the link must carry more than 0 bytes/s`);
    }
    const joinAt =
      m[6] === undefined ? undefined : Number(m[6]) * SECONDS[(m[7] ?? "s").toLowerCase()]!;
    if (hosts.length + count > MAX_HOSTS) return fail(`more than ${MAX_HOSTS} hosts`);
    for (let i = 0; i < count; i++) {
      hosts.push({
        name: hostName(`h${hosts.length + 1}`),
        speed,
        slots,
        ...(link === undefined ? {} : { link }),
        ...(joinAt === undefined ? {} : { joinAt }),
      });
    }
  }
  return { ok: true, hosts };
}

/** Total work per second the hosts deliver: the sum of speed x slots. */
export function totalCapacity(hosts: readonly HostSpec[]): number {
  let c = 0;
  for (const h of hosts) c += h.speed * h.slots;
  return c;
}
