/**
 * The operator fixes what broke a package and retries it from the dashboard
 * while the build runs: the package and the dependents its failure had
 * failed are built after all.
 */
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { startHerd } from "../lib/dashboard.js";
import { sandbox, tgzFiles, type Event } from "../lib/fixture.js";
import { scratchDir } from "../lib/scratch.js";

const TOKEN = "retry-test-token-0123456789";

/** A cc that holds wordy's compiles until `gate` exists, and fixes netkit once `fix` exists. */
function compiler(dir: string): { cc: string; gate: string; fix: string } {
  const gate = join(dir, "gate");
  const fix = join(dir, "fix");
  const cc = join(dir, "cc");
  writeFileSync(
    cc,
    `#!/bin/sh
case $(pwd) in
*wordy*) i=0; while [ ! -e '${gate}' ] && [ "$i" -lt 1200 ]; do sleep 0.1; i=$((i + 1)); done ;;
*netkit*) [ -e '${fix}' ] && set -- -DNETKIT_DEFAULT_PORT=7 "$@" ;;
esac
exec cc "$@"
`,
    { mode: 0o755 },
  );
  return { cc, gate, fix };
}

describe("retrying a failed package", () => {
  it("builds it and its revived dependents in the same build", async () => {
    const tools = compiler(scratchDir("herd-retry-cc-"));
    const box = sandbox("retry", { env: { CC: tools.cc } });
    const work = join(box.dir, "work");
    // netkit's dependents, and wordy, whose compiles wait for the gate so the build is
    // still running when the retry comes.
    const pkgs = join(box.dir, "pkgs");
    writeFileSync(pkgs, "net/netmon\nmisc/toolbox\ntextproc/wordy\n");
    const herd = startHerd([
      "build",
      "--tree",
      box.tree,
      "--local",
      "2",
      "--work",
      work,
      "--pkgs",
      pkgs,
      "-c",
      box.config,
      "--json",
      "--dashboard",
      "127.0.0.1:0",
      "--token",
      TOKEN,
    ]);
    const timer = setTimeout(herd.kill, 180_000);
    try {
      const url = new URL(await herd.url);
      const events = (): Event[] =>
        herd
          .stdout()
          .split("\n")
          .filter((l) => l.startsWith("{"))
          .map((l) => JSON.parse(l) as Event);
      const failedNetkit = (): boolean =>
        events().some(
          (e) => e.type === "package-end" && e.pkgname === "netkit-0.3" && e.result === "failed",
        );
      for (let i = 0; i < 1200 && !failedNetkit(); i++)
        await new Promise((r) => setTimeout(r, 100));
      assert.ok(failedNetkit(), "netkit fails first");

      const post = (token: string | undefined): Promise<Response> =>
        fetch(new URL("/api/packages/netkit-0.3/retry", url.origin), {
          method: "POST",
          headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
        });
      assert.equal((await post(undefined)).status, 401, "no token, no controls");
      writeFileSync(tools.fix, "");
      const r = await post(TOKEN);
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), {
        ok: true,
        message: "netkit-0.3 is queued again, with 2 packages that depend on it",
      });
      const twice = await post(TOKEN);
      assert.equal(twice.status, 409, "a package that is not failed cannot be retried");
      writeFileSync(tools.gate, "");

      assert.equal(await herd.exited, 0, herd.stderr());
      const all = events();
      const retry = all.find((e) => e.type === "retry");
      assert.equal(retry?.pkgname, "netkit-0.3");
      assert.deepEqual(retry.revived, ["netmon-1.1", "toolbox-2.0"]);
      const built = all
        .filter((e) => e.type === "package-end" && e.result === "built")
        .map((e) => e.pkgname);
      for (const p of ["netkit-0.3", "netmon-1.1", "toolbox-2.0"])
        assert.ok(built.includes(p), `${p} built after the retry`);
      assert.deepEqual(
        tgzFiles(join(work, "packages/All")),
        [...new Set(built)].map((n) => `${String(n)}.tgz`).sort(),
      );
      assert.ok(built.includes("wordy-3.0"));
    } finally {
      clearTimeout(timer);
      herd.kill();
      writeFileSync(tools.gate, "");
    }
  });
});
