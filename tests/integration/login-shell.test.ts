import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { join } from "node:path";
import { test } from "node:test";
import { AgentConnection } from "../../src/hosts/connection.js";
import { SshTransport } from "../../src/hosts/ssh.js";
import type { Channel, LinkEnd } from "../../src/hosts/transport.js";
import { tempDir } from "./agent-support.js";

/** sshd runs the remote command with the user's login shell: `$SHELL -c COMMAND`. */
function loginShellChannel(shell: string, command: string): Channel {
  const child = spawn(shell, ["-c", command], { stdio: ["pipe", "pipe", "pipe"] });
  let diag = "";
  child.stderr.on("data", (d: Buffer) => (diag += d.toString()));
  const ended = new Promise<LinkEnd>((res) => {
    child.on("close", (code) => {
      res({ reason: `exited ${code ?? "?"}` });
    });
  });
  return {
    input: child.stdin,
    output: child.stdout,
    ended,
    diagnostics: () => diag,
    destroy: () => child.kill("SIGKILL"),
  };
}

for (const login of ["sh", "dash", "csh", "tcsh"]) {
  const missing = spawnSync("sh", ["-c", `command -v ${login}`]).status !== 0;
  test(
    `the ssh remote command works when the login shell is ${login}`,
    { skip: missing, timeout: 30_000 },
    async () => {
      const tmp = tempDir("login");
      try {
        const root = join(tmp.path, "it's here");
        const command = new SshTransport({
          address: "x",
          controlDir: tmp.path,
          root,
        }).remoteCommand();
        const c = await AgentConnection.open(loginShellChannel(login, command), {
          helloTimeoutMs: 20_000,
        });
        assert.ok(c.ok, c.ok ? "" : c.error.message);
        assert.equal(c.value.info.root, root);
        const r = await c.value.run({ argv: ["echo", "$HOME", "!!", "~"] });
        assert.ok(r.ok && r.value.output.toString() === "$HOME !! ~\n");
        await c.value.close();
      } finally {
        tmp.remove();
      }
    },
  );
}
