import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { getBuffer, getToFile } from "../../src/hosts/get.js";
import { SHELLS, busyboxOnlyPath, startAgent, tempDir } from "./agent-support.js";

for (const shell of SHELLS) {
  describe(`agent under ${shell.join(" ")}`, { timeout: 60_000 }, () => {
    test("hello, run with cwd and env, exit status, split output", async () => {
      const tmp = tempDir("agent");
      const a = await startAgent(tmp.path, shell);
      try {
        assert.equal(a.conn.info.proto, 1);
        assert.equal(a.conn.info.root, tmp.path);
        assert.ok(a.conn.info.caps.includes("put"));
        mkdirSync(join(tmp.path, "sub dir"));
        const r = await a.conn.run({
          argv: ["sh", "-c", 'pwd; printf "%s|%s\\n" "$FOO" "$BAR"; echo oops >&2; exit 3'],
          cwd: "sub dir",
          env: { FOO: "a b  c", BAR: "x=y\\n'\"" },
        });
        assert.ok(r.ok);
        assert.equal(r.value.status, 3);
        assert.equal(
          r.value.output.toString(),
          `${join(tmp.path, "sub dir")}\na b  c|x=y\\n'"\noops\n`,
        );
        const s = await a.conn.run({
          argv: ["sh", "-c", "echo out; echo err >&2"],
          output: "split",
        });
        assert.ok(s.ok);
        assert.equal(s.value.output.toString(), "out\n");
        assert.equal(s.value.stderr.toString(), "err\n");
        assert.equal(s.value.status, 0);
      } finally {
        await a.conn.close();
        tmp.remove();
      }
    });

    test("a task of steps: each step's own output and status as it ends, stops at the first failure", async () => {
      const tmp = tempDir("agent");
      const a = await startAgent(tmp.path, shell);
      type Seen = [number, number, string] | [number, string];
      const steps = (
        spec: Parameters<typeof a.conn.startSteps>[0],
        onEnd?: (k: number) => void,
      ): { seen: Seen[]; task: ReturnType<typeof a.conn.startSteps> } => {
        const seen: Seen[] = [];
        const task = a.conn.startSteps(spec, (k, r) => {
          seen.push(r.ok ? [k, r.value.status, r.value.output.toString()] : [k, r.error.reason]);
          onEnd?.(k);
        });
        return { seen, task };
      };
      try {
        assert.ok(a.conn.canRunSteps);
        mkdirSync(join(tmp.path, "sub dir"));
        const one = steps({
          steps: [
            { argv: ["sh", "-c", 'pwd; echo "$FOO"; echo err >&2'], cwd: "sub dir" },
            { argv: ["printf", "%s|", "a b", "*", "$(x)", ""], cwd: "sub dir" },
            { argv: ["sh", "-c", "pwd; echo three; exit 3"] },
            { argv: ["echo", "never"] },
          ],
          // Names the agent's own shell uses too: the steps' cwds stay under the root.
          env: { FOO: "a  b", root: "/nonexistent", state: "/nonexistent" },
        });
        const r = await one.task.result;
        assert.ok(r.ok);
        assert.equal(r.value.status, 3);
        assert.equal(r.value.output.length, 0);
        assert.deepEqual(one.seen, [
          [1, 0, `${join(tmp.path, "sub dir")}\na  b\nerr\n`],
          [2, 0, "a b|*|$(x)||"],
          [3, 3, `${tmp.path}\nthree\n`],
        ]);
        // A step whose directory is missing fails as a task there would, and is the last.
        const nocwd = steps({
          steps: [{ argv: ["true"] }, { argv: ["true"], cwd: "nope" }, { argv: ["true"] }],
        });
        const n = await nocwd.task.result;
        assert.ok(n.ok);
        assert.equal(n.value.status, 125);
        assert.equal(nocwd.seen.length, 2);
        assert.deepEqual(nocwd.seen[0], [1, 0, ""]);
        assert.match(String(nocwd.seen[1]![2]), /cannot change to directory .*nope/);
        // Killed in its second step: no step after it runs.
        const marker = join(tmp.path, "ran");
        const killed = steps(
          { steps: [{ argv: ["true"] }, { argv: ["sleep", "30"] }, { argv: ["touch", marker] }] },
          (k) => {
            if (k === 1)
              setTimeout(() => {
                killed.task.kill("KILL");
              }, 300);
          },
        );
        const kr = await killed.task.result;
        assert.ok(kr.ok);
        assert.equal(kr.value.status, 137);
        assert.deepEqual(killed.seen, [
          [1, 0, ""],
          [2, 137, ""],
        ]);
        // Killed at once: whichever step it reaches, none runs after it.
        const early = steps({
          steps: [{ argv: ["true"] }, { argv: ["sleep", "30"] }, { argv: ["touch", marker] }],
        });
        early.task.kill("KILL");
        const er = await early.task.result;
        assert.ok(er.ok);
        assert.equal(er.value.status, 137);
        assert.ok(early.seen.length <= 2, JSON.stringify(early.seen));
        assert.equal(existsSync(marker), false);
        // Malformed step counts are refused (a request startSteps never makes: cast).
        const bad = await a.conn.run({ argv: ["3", ".", "true"], output: "steps" as "merge" });
        assert.ok(!bad.ok);
        assert.equal(bad.error.reason, "rejected");
        const again = await a.conn.run({ argv: ["echo", "fine"] });
        assert.ok(again.ok);
        assert.equal(again.value.output.toString(), "fine\n");
      } finally {
        await a.conn.close();
        tmp.remove();
      }
    });

    test("missing directory, missing command, rejected fields", async () => {
      const tmp = tempDir("agent");
      const a = await startAgent(tmp.path, shell);
      try {
        const nocwd = await a.conn.run({ argv: ["true"], cwd: "nope" });
        assert.ok(nocwd.ok);
        assert.equal(nocwd.value.status, 125);
        assert.match(nocwd.value.output.toString(), /cannot change to directory/);
        const nocmd = await a.conn.run({ argv: ["herd-no-such-command"] });
        assert.ok(nocmd.ok);
        assert.equal(nocmd.value.status, 127);
        const nl = await a.conn.run({ argv: ["echo", "a\nb"] });
        assert.ok(!nl.ok);
        assert.equal(nl.error.reason, "local");
        const badEnv = await a.conn.run({ argv: ["true"], env: { "A-B": "1" } });
        assert.ok(!badEnv.ok);
        // The connection is still fine afterwards.
        const again = await a.conn.run({ argv: ["echo", "fine"] });
        assert.ok(again.ok);
        assert.equal(again.value.output.toString(), "fine\n");
      } finally {
        await a.conn.close();
        tmp.remove();
      }
    });

    test("package data is never evaluated", async () => {
      const tmp = tempDir("agent");
      const a = await startAgent(tmp.path, shell);
      const pwned = join(tmp.path, "pwned");
      try {
        const evil = `$(touch ${pwned})`;
        const evil2 = `\`touch ${pwned}\`;touch ${pwned}`;
        mkdirSync(join(tmp.path, "cat", evil), { recursive: true });
        const r = await a.conn.run({
          argv: ["printf", "%s\\n", evil, evil2, "*"],
          cwd: `cat/${evil}`,
          env: { PKGPATH: evil, X: evil2 },
        });
        assert.ok(r.ok);
        assert.equal(r.value.status, 0);
        assert.equal(r.value.output.toString(), `${evil}\n${evil2}\n*\n`);
        const e = await a.conn.run({
          argv: ["sh", "-c", 'printf "%s\\n" "$PKGPATH" "$PWD"'],
          cwd: `cat/${evil}`,
          env: { PKGPATH: evil },
        });
        assert.ok(e.ok);
        assert.equal(e.value.output.toString(), `${evil}\n${join(tmp.path, "cat", evil)}\n`);
        const put = await a.conn.put(`cat/${evil}/f`, Buffer.from("x"));
        assert.ok(put.ok);
        const got = await getBuffer(a.conn, `cat/${evil}/f`);
        assert.ok(got.ok);
        assert.equal(got.value.toString(), "x");
        assert.equal(existsSync(pwned), false);
      } finally {
        await a.conn.close();
        tmp.remove();
      }
      assert.equal(existsSync(pwned), false);
    });

    test("put and get are binary-safe and checked, across chunk boundaries", async () => {
      const tmp = tempDir("agent");
      const chunk = 4096;
      const a = await startAgent(tmp.path, shell, undefined, chunk);
      try {
        const sizes = [0, 1, chunk - 1, chunk, chunk + 1, 3 * chunk + 17, 300_000];
        for (const n of sizes) {
          const data = randomBytes(n);
          // Make sure newlines, NULs and a line that looks like a message are in there.
          if (n > 40) data.write("\n\0chunk 1 5\nend 1 0 0\n", 10, "latin1");
          const put = await a.conn.put(`files/f${n}`, data, { mode: 0o600 });
          assert.ok(put.ok, JSON.stringify(put));
          const onHost = readFileSync(join(tmp.path, "files", `f${n}`));
          assert.ok(onHost.equals(data), `size ${n}`);
          assert.equal(statSync(join(tmp.path, "files", `f${n}`)).mode & 0o777, 0o600);
          const back = await getBuffer(a.conn, `files/f${n}`);
          assert.ok(back.ok);
          assert.ok(back.value.equals(data));
        }
        // Other traffic interleaves with a put in progress.
        const big = randomBytes(200_000);
        const [p, r, ping] = await Promise.all([
          a.conn.put("files/big", big),
          a.conn.run({ argv: ["echo", "during"] }),
          a.conn.ping(),
        ]);
        assert.ok(p.ok && r.ok && ping.ok);
        assert.equal(r.value.output.toString(), "during\n");
        assert.ok(readFileSync(join(tmp.path, "files", "big")).equals(big));
        // A local source file, and a file fetched to disk.
        const src = join(tmp.path, "local-src");
        writeFileSync(src, big);
        assert.ok((await a.conn.put("/".concat(tmp.path.slice(1), "/abs/copy"), { file: src })).ok);
        const dest = join(tmp.path, "fetched");
        const g = await getToFile(a.conn, "abs/copy", dest);
        assert.ok(g.ok);
        assert.ok(readFileSync(dest).equals(big));
        assert.equal(g.value.bytes, undefined);
        // keep: the bytes as they came (many chunks of a socket), the same as the file.
        const kept = await getToFile(a.conn, "abs/copy", `${dest}2`, { keep: true });
        assert.ok(kept.ok);
        assert.ok(kept.value.bytes?.equals(big));
        assert.ok(readFileSync(`${dest}2`).equals(big));
        const missing = await getBuffer(a.conn, "no/such/file");
        assert.ok(!missing.ok);
        assert.equal(missing.error.reason, "rejected");
      } finally {
        await a.conn.close();
        tmp.remove();
      }
    });

    test("concurrent tasks, kill, and a dead agent fails what it held as lost", async () => {
      const tmp = tempDir("agent");
      const a = await startAgent(tmp.path, shell);
      try {
        const many = await Promise.all(
          Array.from({ length: 20 }, (_, i) => a.conn.run({ argv: ["sh", "-c", `echo task${i}`] })),
        );
        many.forEach((r, i) => {
          assert.ok(r.ok);
          assert.equal(r.value.output.toString(), `task${i}\n`);
        });
        // Finished tasks' directories are removed in batches of 16: never more are left.
        const [state] = readdirSync(join(tmp.path, ".herd-agent"));
        const left = readdirSync(join(tmp.path, ".herd-agent", state!, "tasks"));
        assert.ok(left.length < 16, `${left.length} finished tasks' directories left`);
        const long = a.conn.start({ argv: ["sleep", "30"] });
        while (a.conn.hostPid(long.id) === undefined) await new Promise((r) => setTimeout(r, 20));
        long.kill("TERM");
        const k = await long.result;
        assert.ok(k.ok);
        assert.equal(k.value.status, 128 + 15);

        const held = a.conn.start({ argv: ["sleep", "30"] });
        while (a.conn.hostPid(held.id) === undefined) await new Promise((r) => setTimeout(r, 20));
        process.kill(-a.channel.pid, "SIGKILL");
        const lost = await held.result;
        assert.ok(!lost.ok);
        assert.equal(lost.error.reason, "lost");
        assert.ok(a.conn.closed !== null);
        const after = await a.conn.run({ argv: ["true"] });
        assert.ok(!after.ok);
        assert.equal(after.error.reason, "lost");
      } finally {
        a.conn.destroy("test over");
        tmp.remove();
      }
    });
  });
}

test("the agent needs nothing beyond busybox's POSIX utilities", { timeout: 60_000 }, async () => {
  const tmp = tempDir("agent-bb");
  const bin = busyboxOnlyPath(tmp.path);
  const a = await startAgent(join(tmp.path, "root"), ["busybox", "sh"], { PATH: bin });
  try {
    const data = randomBytes(100_000);
    assert.ok((await a.conn.put("x", data)).ok);
    const g = await getBuffer(a.conn, "x");
    assert.ok(g.ok && g.value.equals(data));
    const r = await a.conn.run({ argv: ["cat", "x"] });
    assert.ok(r.ok && r.value.output.equals(data));
    // The master times tasks; the agent starts no `date` for it.
    assert.equal(r.value.hostSeconds, null);
  } finally {
    await a.conn.close();
    tmp.remove();
  }
});

test("the agent cleans up its state directory when told to exit", { timeout: 30_000 }, async () => {
  const tmp = tempDir("agent-exit");
  const a = await startAgent(tmp.path, ["dash"]);
  const r = a.conn.start({ argv: ["sleep", "30"] });
  await a.conn.close();
  const res = await r.result;
  assert.ok(!res.ok || res.value.status !== 0);
  assert.equal(existsSync(join(tmp.path, ".herd-agent")), false);
  tmp.remove();
});
