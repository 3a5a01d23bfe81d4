import assert from "node:assert/strict";
import { test } from "node:test";
import { formatHostEntry, parseHostsFile } from "../../src/hosts/hostsfile.js";

const GOOD = `# build hosts
fast1   local
vax1    ssh     herd@vax1.example.org:2222 slots=1 speed=0.05 tags=vax,netbsd root=/var/herd
m68k    attach  speed=0.02  # behind NAT
nfs1    local   /srv/hosts/nfs1 sync=no shell=busybox slots=4
sun     ssh     sun.example.org identity=/k/id known_hosts=/k/kh ssh_option=ConnectTimeout=5 ssh_option=Compression=yes
`;

test("a hosts file parses into entries, and entries print back as lines", () => {
  const r = parseHostsFile(GOOD, "hosts.txt");
  assert.ok(r.ok, r.ok ? "" : r.error.message);
  const [fast, vax, m68k, nfs, sun] = r.value;
  assert.deepEqual(
    {
      name: fast!.name,
      transport: fast!.transport,
      address: fast!.address,
      slots: fast!.slots,
      speed: fast!.speed,
    },
    { name: "fast1", transport: "local", address: null, slots: 1, speed: 1 },
  );
  assert.equal(vax!.address, "herd@vax1.example.org:2222");
  assert.deepEqual(vax!.tags, ["vax", "netbsd"]);
  assert.equal(vax!.speed, 0.05);
  assert.equal(vax!.root, "/var/herd");
  assert.equal(m68k!.transport, "attach");
  assert.equal(m68k!.line, 4);
  assert.equal(nfs!.sync, false);
  assert.equal(nfs!.address, "/srv/hosts/nfs1");
  assert.deepEqual(sun!.sshOptions, ["ConnectTimeout=5", "Compression=yes"]);
  for (const e of r.value) {
    const again = parseHostsFile(formatHostEntry(e), "x");
    assert.ok(again.ok);
    assert.deepEqual({ ...again.value[0]!, line: e.line }, e);
  }
});

test("every error names the file and the line", () => {
  const cases: [string, RegExp][] = [
    ["a local\nb sssh x", /^h:2: unknown transport "sssh"/],
    ["a local\na local", /^h:2: host a is listed twice/],
    ["\n\nv ssh", /^h:3: ssh host v needs an address/],
    ["v ssh host:99999x", /^h:1: bad ssh address/],
    ["n attach somewhere", /^h:1: attach host n takes no address/],
    ["a local slots=0", /^h:1: slots must be/],
    ["a local speed=fast", /^h:1: speed must be/],
    ["a local colour=red", /^h:1: unknown key "colour"/],
    ["a local identity=/k", /^h:1: identity, known_hosts and ssh_option are for ssh hosts/],
    ["a local sync=maybe", /^h:1: sync must be yes or no/],
    ["bad/name local", /^h:1: bad host name/],
    ["lonely", /^h:1: host lonely has no transport/],
    ["a local /dir junk", /^h:1: expected key=value, found "junk"/],
  ];
  for (const [text, re] of cases) {
    const r = parseHostsFile(text, "h");
    assert.ok(!r.ok, text);
    assert.match(r.error.message, re);
    assert.ok(r.error.hint.length > 0);
  }
});
