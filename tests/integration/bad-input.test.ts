/**
 * The bad-input corpus of issue 9: every case feeds the CLI something
 * malformed or hostile and expects the exact error it prints (`herd: error:`
 * line, `hint:` line, exit status 2, no stack trace), or, for data that is
 * merely hostile, that nothing evaluates it and the report escapes it.
 *
 * This file holds 47 cases. Others live next to the code they test:
 *   tests/unit/records.test.ts          key before PKGNAME, line without =, duplicate PKGNAME,
 *                                       NUL bytes, CRLF, truncated record, no PKG_LOCATION,
 *                                       hostile PKGNAME/PKG_LOCATION, overlong line (parser level)
 *   tests/integration/resolve-cli.test.ts  the same through `herd resolve` (8 cases: no PKGNAME,
 *                                       no =, duplicate, ELF garbage, CRLF, truncated,
 *                                       dependency without ../../, PKG_LOCATION ../../../etc),
 *                                       missing file, corrupt .zst
 *   tests/unit/config.test.ts           config syntax error with line, wrong type, unknown key,
 *                                       bad policy, repeated / unknown / shell-word targets,
 *                                       MULTI_VERSION payloads (the package fails)
 *   tests/unit/hostsfile.test.ts        13 hosts-file errors, each with file and line
 *   tests/integration/attach.test.ts    an unknown host name on `herd attach` is refused by
 *                                       the running master
 *   tests/unit/tar.test.ts              archives with absolute paths, ../, escaping symlinks,
 *                                       truncated and corrupt archives; vetPackage
 *   tests/unit/report.test.ts           HTML/JS in package names, reasons and logs is escaped
 *   tests/integration/faults.test.ts    a truncated package, a package with another PKGNAME and
 *                                       one with a ../ member sent by a host, rejected end to end
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { build, type Event, sandbox, stamp } from "../lib/fixture.js";
import { killLeftovers } from "../lib/faults.js";
import { CLI, ROOT } from "../lib/paths.js";
import { scratchDir } from "../lib/scratch.js";

const dir = scratchDir("herd-bad-input-");
const boxes: string[] = [];
after(() => {
  for (const d of [dir, ...boxes]) rmSync(d, { recursive: true, force: true });
});

/** A fixture sandbox removed when the file's tests end. */
function tempBox(name: string): ReturnType<typeof sandbox> {
  const box = sandbox(name);
  boxes.push(box.dir);
  return box;
}

/** Runs the CLI in `dir` and returns its exit status and output. */
function herd(args: readonly string[]): { code: number | null; stdout: string; stderr: string } {
  const r = spawnSync("node", [CLI, ...args], { cwd: dir, encoding: "utf8", timeout: 60_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Asserts the CLI stops with exactly this error line and hint (strings match whole lines). */
function expectError(args: readonly string[], line: string | RegExp, hint: string | RegExp): void {
  const r = herd(args);
  assert.equal(r.code, 2, `exit status 2, got ${String(r.code)}: ${r.stderr}`);
  const lines = r.stderr.split("\n");
  assert.equal(lines.length, 3, `one error line and one hint, no stack trace: ${r.stderr}`);
  assert.equal(lines[2], "");
  const [err, h] = [lines[0]!, lines[1]!];
  if (typeof line === "string") assert.equal(err, `herd: error: ${line}`);
  else assert.match(err.slice("herd: error: ".length), line);
  assert.ok(err.startsWith("herd: error: "), err);
  if (typeof hint === "string") assert.equal(h, `hint: ${hint}`);
  else assert.match(h.slice("hint: ".length), hint);
}

function file(name: string, content: string | Buffer): string {
  writeFileSync(join(dir, name), content);
  return name;
}

const FORMAT_HINT = "each line of a pbulk-index record is KEY=value";
const NAME_HINT = "PKGNAME must look like name-version";
const LOCATION_HINT = "PKG_LOCATION must be category/dir, relative, without '..'";
const CR_HINT =
  "the file has DOS (CRLF) line ends; convert it with: tr -d '\\r' < FILE > FILE.unix";

describe("malformed and hostile scan files (herd resolve)", () => {
  const cases: [string, string | Buffer, string, string][] = [
    [
      "no-location.txt",
      "PKGNAME=app-1.0\nALL_DEPENDS=\n",
      "no-location.txt:1: app-1.0: record app-1.0 has no PKG_LOCATION",
      "every pbulk-index record names its PKG_LOCATION (category/dir)",
    ],
    [
      "empty-name.txt",
      "PKGNAME=\nPKG_LOCATION=misc/app\n",
      'empty-name.txt:1: invalid PKGNAME "": shorter than 4 characters',
      NAME_HINT,
    ],
    [
      "dotdot-name.txt",
      "PKGNAME=../../etc/passwd-1.0\nPKG_LOCATION=misc/app\n",
      'dotdot-name.txt:1: invalid PKGNAME "../../etc/passwd-1.0": contains a slash',
      NAME_HINT,
    ],
    [
      "space-name.txt",
      "PKGNAME=x $(touch /tmp/herd-pwned-resolve)-1.0\nPKG_LOCATION=misc/app\n",
      'space-name.txt:1: invalid PKGNAME "x $(touch /tmp/herd-pwned-resolve)-1.0": contains white space',
      NAME_HINT,
    ],
    [
      // A newline in a name ends the line: the rest is a line of its own.
      "newline-name.txt",
      "PKGNAME=evil-1.0\n$(touch /tmp/herd-pwned-newline)\nPKG_LOCATION=misc/evil\n",
      'newline-name.txt:2: evil-1.0: line without KEY=value: "$(touch /tmp/herd-pwned-newline)"',
      FORMAT_HINT,
    ],
    [
      // Terminal escapes are shown escaped, never sent to the terminal.
      "escape-name.txt",
      "PKGNAME=evil\x1b[2J\x1b[31m-1.0\nPKG_LOCATION=misc/evil\n",
      'escape-name.txt:1: invalid PKGNAME "evil\\x1b[2J\\x1b[31m-1.0": contains control characters',
      NAME_HINT,
    ],
    [
      "absolute-location.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=/etc\nALL_DEPENDS=\n",
      'absolute-location.txt:1: app-1.0: record app-1.0 has an unsafe PKG_LOCATION "/etc"',
      LOCATION_HINT,
    ],
    [
      "shell-location.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=misc/$(touch /tmp/herd-pwned-location)\n",
      'shell-location.txt:1: app-1.0: record app-1.0 has an unsafe PKG_LOCATION "misc/$(touch /tmp/herd-pwned-location)"',
      LOCATION_HINT,
    ],
    [
      "space-location.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=misc/a b\n",
      'space-location.txt:1: app-1.0: record app-1.0 has an unsafe PKG_LOCATION "misc/a b"',
      LOCATION_HINT,
    ],
    [
      "nul.txt",
      Buffer.from("PKGNAME=app-1.0\nPKG_LOCATION=misc/app\nMAINTAINER=a\x00\x00b\n", "latin1"),
      "nul.txt:3: app-1.0: binary data (NUL bytes) in MAINTAINER",
      "the file looks corrupted; re-run the scan",
    ],
    [
      "gzipped.txt",
      Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0x9b, 0x41, 0x0a]),
      'gzipped.txt:1: line without KEY=value: "\\x1f\\x8b\\x08\\x00\\x9bA"',
      FORMAT_HINT,
    ],
    [
      "overlong.txt",
      `PKGNAME=app-1.0\nPKG_LOCATION=misc/app\nCOMMENT=${"x".repeat(1 << 20)}\n`,
      "overlong.txt:3: app-1.0: line longer than 1048576 bytes",
      "is this a pbulk-index file?",
    ],
    [
      "empty-line.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=misc/app\n\nALL_DEPENDS=\n",
      "empty-line.txt:3: app-1.0: empty line inside a record",
      FORMAT_HINT,
    ],
    [
      "bad-key.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=misc/app\n$(id)=1\n",
      'bad-key.txt:3: app-1.0: invalid key "$(id)"',
      "keys are make variable names such as PKG_LOCATION; is the file binary or corrupted?",
    ],
    [
      "cr-late.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=misc/app\r\n",
      "cr-late.txt:2: app-1.0: line ends with CR (DOS line ends)",
      CR_HINT,
    ],
    [
      "empty.txt",
      "",
      "empty.txt: no PKGNAME= records found",
      "is this the output of bmake pbulk-index?",
    ],
    [
      "unbalanced-brace.txt",
      "PKGNAME=app-1.0\nPKG_LOCATION=misc/app\nALL_DEPENDS={lib,lib2>=1:../../devel/lib\n" +
        "PKGNAME=lib-1.0\nPKG_LOCATION=devel/lib\nALL_DEPENDS=\n",
      'unbalanced-brace.txt:1: malformed dependency pattern "{lib,lib2>=1:../../devel/lib" of app-1.0',
      "check the braces of {a,b} alternatives",
    ],
  ];
  for (const [name, content, line, hint] of cases) {
    it(`rejects ${name}`, () => {
      expectError(["resolve", file(name, content)], line, hint);
    });
  }

  it("rejects a directory given as the scan file", () => {
    mkdirSync(join(dir, "scans"), { recursive: true });
    expectError(["resolve", "scans"], "cannot read scans: is a directory", "check the path");
  });

  it("reports a dependency cycle as the cycle, and its packages as failed", () => {
    const r = herd([
      "resolve",
      file(
        "cycle.txt",
        "PKGNAME=a-1.0\nPKG_LOCATION=misc/a\nALL_DEPENDS=b>=1:../../misc/b\n" +
          "PKGNAME=b-1.0\nPKG_LOCATION=misc/b\nALL_DEPENDS=a>=1:../../misc/a\n" +
          "PKGNAME=c-1.0\nPKG_LOCATION=misc/c\nALL_DEPENDS=\n",
      ),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(
      r.stderr,
      "dependency cycle: a-1.0 -> b-1.0 -> a-1.0\n" +
        "3 packages: 1 buildable, 0 skipped, 2 failed, 0 indirectly skipped, 0 indirectly failed, 0 unresolved\n",
    );
  });

  it("reports a package that depends on itself as a cycle", () => {
    const r = herd([
      "resolve",
      file("self.txt", "PKGNAME=a-1.0\nPKG_LOCATION=misc/a\nALL_DEPENDS=a>=1:../../misc/a\n"),
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /^dependency cycle: a-1\.0 -> a-1\.0\n/);
  });
});

describe("bad package lists (herd build --pkgs)", () => {
  const box = tempBox("bad-pkgs");
  const pkgHint = "one category/dir per line";
  const cases: [string, string, string][] = [
    ["dotdot", "devel/libbase\n../../etc\n", 'dotdot:2: "../../etc" is not a PKGPATH'],
    ["absolute", "/etc/passwd\n", 'absolute:1: "/etc/passwd" is not a PKGPATH'],
    [
      "shell",
      "devel/$(touch${IFS}/tmp/herd-pwned-pkgs)\n",
      'shell:1: "devel/$(touch${IFS}/tmp/herd-pwned-pkgs)" is not a PKGPATH',
    ],
    [
      "two-words",
      "# a comment\ndevel/libbase extra\n",
      'two-words:2: "devel/libbase extra" is not a PKGPATH',
    ],
  ];
  for (const [name, text, line] of cases) {
    it(`rejects the list ${name}`, () => {
      expectError(
        ["build", "--tree", box.tree, "--local", "1", "--work", "w", "--pkgs", file(name, text)],
        line,
        pkgHint,
      );
    });
  }

  it("rejects a missing list", () => {
    expectError(
      ["build", "--tree", box.tree, "--local", "1", "--work", "w", "--pkgs", "no-such-list"],
      "cannot read the package list no-such-list",
      "one PKGPATH per line",
    );
  });

  it("rejects a PKGPATH the tree does not have, naming file and line, before any build starts", () => {
    const work = join(dir, "w-nosuch");
    expectError(
      [
        "build",
        "--tree",
        box.tree,
        "--local",
        "1",
        "--work",
        work,
        "--pkgs",
        file("nosuch", "devel/libbase\ndevel/libnosuch\n"),
      ],
      `nosuch:2: devel/libnosuch is not a package directory of ${box.tree} (no devel/libnosuch/Makefile)`,
      "check the spelling, or remove the line",
    );
    assert.ok(!existsSync(join(work, "herd.db")), "no build was started");
  });

  it("rejects an empty list before any build starts (none is left running to resume)", () => {
    const work = join(dir, "w-empty");
    expectError(
      [
        "build",
        "--tree",
        box.tree,
        "--local",
        "1",
        "--work",
        work,
        "--pkgs",
        file("empty", "# nothing yet\n\n"),
      ],
      "empty lists no PKGPATHs",
      "one category/dir per line, or leave out --pkgs to build the whole tree",
    );
    assert.ok(!existsSync(join(work, "herd.db")), "no build was started");
  });
});

describe("bad config files (herd build -c)", () => {
  const box = tempBox("bad-config");
  const keysHint = "see the README's Configuration section for the keys and their types";
  const jsonHint = "the config file is JSON; see the README for the keys";
  const cases: [string, string, string | RegExp, string][] = [
    [
      "syntax.json",
      '{\n  "make": "bmake",\n  "makeJobs": 2,,\n}\n',
      /^syntax\.json:3: not valid JSON \(.*\)$/,
      jsonHint,
    ],
    ["empty.json", "", "empty.json:1: not valid JSON (Unexpected end of JSON input)", jsonHint],
    [
      "unfinished.json",
      '{\n  "make": "bmake",\n',
      /^unfinished\.json:3: not valid JSON \(.*\)$/,
      jsonHint,
    ],
    [
      "unknown-key.json",
      '{"mkae": "bmake"}',
      'unknown-key.json: Unrecognized key: "mkae"',
      'did you mean "make" instead of "mkae"? (the README\'s Configuration section lists the keys)',
    ],
    [
      "typo-key.json",
      '{"heartbeatTimeot": 60}',
      'typo-key.json: Unrecognized key: "heartbeatTimeot"',
      'did you mean "heartbeatTimeout" instead of "heartbeatTimeot"? (the README\'s Configuration section lists the keys)',
    ],
    [
      "alien-key.json",
      '{"frobnicate": true}',
      'alien-key.json: Unrecognized key: "frobnicate"',
      keysHint,
    ],
    [
      "wrong-type.json",
      '{"makeJobs": "four"}',
      "wrong-type.json: makeJobs: Invalid input: expected number, received string",
      keysHint,
    ],
    [
      "nested-type.json",
      '{"env": {"CFLAGS": 2}}',
      "nested-type.json: env.CFLAGS: Invalid input: expected string, received number",
      keysHint,
    ],
    ["array.json", "[]", "array.json: Invalid input: expected object, received array", keysHint],
    [
      "relative-prefix.json",
      '{"localbase": "pkg"}',
      'relative-prefix.json: localbase: "pkg" must be an absolute, normalised path at least two levels deep (Init empties it)',
      "see the README's Configuration section (bootstrap prefixes)",
    ],
  ];
  for (const [name, text, line, hint] of cases) {
    it(`rejects ${name}`, () => {
      expectError(
        ["build", "--tree", box.tree, "--local", "1", "--work", "w", "-c", file(name, text)],
        line,
        hint,
      );
    });
  }

  it("rejects a missing config file", () => {
    expectError(
      ["build", "--tree", box.tree, "--local", "1", "--work", "w", "-c", "none.json"],
      "cannot read config file none.json: ENOENT",
      "check the --config path",
    );
  });
});

describe("bad hosts files (herd scan --hosts)", () => {
  const box = tempBox("bad-hosts");
  const formatHint =
    'one host per line: NAME TRANSPORT [ADDRESS] [key=value ...] (README, "Build hosts")';
  const cases: [string, string, string, string][] = [
    [
      "typo",
      "a local\nb sssh x\n",
      'typo:2: unknown transport "sssh" (local, ssh or attach)',
      formatHint,
    ],
    ["twice", "a local\n\na local\n", "twice:3: host a is listed twice", formatHint],
    [
      "shell-name",
      "a$(touch${IFS}/tmp/herd-pwned-hosts) local\n",
      'shell-name:1: bad host name "a$(touch${IFS}/tmp/herd-pwned-hosts)"',
      formatHint,
    ],
    ["only-comments", "# nobody here\n", "only-comments lists no hosts", "one host per line"],
  ];
  for (const [name, text, line, hint] of cases) {
    it(`rejects the hosts file ${name}`, () => {
      expectError(
        ["scan", "--tree", box.tree, "--hosts", file(name, text), "-w", "ws", "-o", "/dev/null"],
        line,
        hint,
      );
    });
  }

  it("rejects a missing hosts file", () => {
    expectError(
      ["scan", "--tree", box.tree, "--hosts", "nohosts", "-w", "ws", "-o", "/dev/null"],
      "cannot read the hosts file nohosts",
      "check the path",
    );
  });
});

describe("talking to a master that is not there", () => {
  it("herd attach names the socket it found no master at", () => {
    expectError(
      ["attach", "-w", "idle-work", "vax1"],
      `no herd master is listening at ${join(dir, "idle-work/control.sock")}`,
      "start herd build or herd scan with this --work directory first",
    );
  });

  it("herd attach to a master killed before it answered says so and exits, rather than wait forever", async () => {
    // A master's socket that takes the connection and goes away with the host's line unread:
    // a unix socket closed so resets its peer, which then sees no end of stream.
    const work = join(dir, "dying-work");
    mkdirSync(work, { recursive: true });
    const server = createServer({ pauseOnConnect: true }, (s) => {
      setTimeout(() => s.destroy(), 50);
    });
    await new Promise<void>((res) => server.listen(join(work, "control.sock"), res));
    try {
      const child = spawn("node", [CLI, "attach", "-w", "dying-work", "vax1"], {
        cwd: dir,
        stdio: ["pipe", "pipe", "pipe"],
      });
      let stderr = "";
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
      const code = await new Promise<number | null>((res) => child.on("close", res));
      clearTimeout(timer);
      assert.equal(
        code,
        2,
        `exit status 2, got ${String(code)} (null: killed after 30 s): ${stderr}`,
      );
      assert.equal(
        stderr,
        `herd: error: the master at ${join(work, "control.sock")} closed the connection before it answered host "vax1"\n` +
          "hint: the master may have stopped or been killed: check that herd build or herd scan still runs, then attach again\n",
      );
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it("herd hosts names the socket it found no master at", () => {
    expectError(
      ["hosts", "list", "-w", "idle-work"],
      `no herd master is running (no socket at ${join(dir, "idle-work/control.sock")})`,
      "start herd build or herd scan, or pass its --work directory",
    );
  });
});

describe("bad build arguments", () => {
  it("rejects a directory that is not a pkgsrc tree", () => {
    mkdirSync(join(dir, "not-a-tree"), { recursive: true });
    expectError(
      ["build", "--tree", "not-a-tree", "--local", "1"],
      `${join(dir, "not-a-tree")} does not look like a pkgsrc tree (no mk/ directory)`,
      "pass the top of the tree with --tree",
    );
  });

  it("rejects a host count out of range", () => {
    const box = tempBox("bad-args");
    expectError(
      ["build", "--tree", box.tree, "--local", "0"],
      "--local N needs a number of hosts from 1 to 256",
      "e.g. --local 4",
    );
  });
});

describe("a second master on the same work directory", () => {
  it("is refused with the pid of the first", { timeout: 120_000 }, async () => {
    const box = sandbox("second-master");
    const work = join(box.dir, "work");
    const first = spawn(
      "node",
      [
        CLI,
        "build",
        "--tree",
        box.tree,
        "--local",
        "1",
        "--work",
        work,
        "-c",
        box.config,
        "--json",
      ],
      { stdio: ["ignore", "pipe", "ignore"] },
    );
    try {
      // Hold the first master still once it has the lock, so the second surely meets it.
      await new Promise<void>((resolve, reject) => {
        first.stdout.on("data", (d: Buffer) => {
          if (d.toString().includes('"type":"build-start"')) {
            first.kill("SIGSTOP");
            resolve();
          }
        });
        first.on("close", () => {
          reject(new Error("the first master ended early"));
        });
      });
      expectError(
        ["build", "--tree", box.tree, "--local", "1", "--work", work, "-c", box.config],
        `another herd master (pid ${String(first.pid)}) is running on this work directory`,
        `wait for it, stop it, or use another --work directory; the lock is ${join(work, "herd.lock")}`,
      );
    } finally {
      first.kill("SIGCONT");
      first.kill("SIGKILL");
      await new Promise((r) => first.once("close", r));
      killLeftovers(work);
      rmSync(box.dir, { recursive: true, force: true });
    }
  });
});

describe("hostile package data through a real scan and build", () => {
  // tests/fixtures/hostile: payloads that would create herd-pwned-* files if a shell ever
  // evaluated them, in /tmp or in the evaluating shell's directory.
  const pwnedInTmp = (): string[] => readdirSync("/tmp").filter((f) => f.startsWith("herd-pwned"));
  const pwnedUnder = (root: string): string[] => {
    const out: string[] = [];
    const walk = (d: string): void => {
      for (const e of readdirSync(d, { withFileTypes: true })) {
        if (e.name.startsWith("herd-pwned")) out.push(join(d, e.name));
        if (e.isDirectory() && !e.isSymbolicLink()) walk(join(d, e.name));
      }
    };
    walk(root);
    return out;
  };
  const hostileBox = (name: string): ReturnType<typeof sandbox> => {
    const box = sandbox(name);
    cpSync(join(ROOT, "tests/fixtures/hostile"), join(box.tree, "hostile"), { recursive: true });
    stamp(box.tree);
    return box;
  };

  it(
    "evaluates no payload, reports a climbing PKGNAME, escapes names, comments and logs",
    { timeout: 300_000 },
    async () => {
      for (const f of pwnedInTmp()) rmSync(join("/tmp", f), { force: true });
      const box = hostileBox("hostile");
      const work = join(box.dir, "work");
      const pkgs = join(box.dir, "pkgs");
      writeFileSync(pkgs, "hostile/evilcomment\nhostile/evilname\nhostile/dotdot\n");
      try {
        const r = await build(box, work, 2, pkgs);
        assert.equal(r.code, 0, r.stderr);
        assert.deepEqual(pwnedInTmp(), [], "no payload ran in /tmp");
        assert.deepEqual(
          pwnedUnder(box.dir),
          [],
          "no payload ran in the tree, the hosts or the work dir",
        );
        assert.ok(
          !existsSync(join(ROOT, "herd-pwned-a")) && !existsSync(join(dir, "herd-pwned-a")),
        );

        const scanError = r.events.find((e: Event) => e.type === "scan-error");
        assert.equal(
          scanError?.message,
          'scan of hostile/dotdot:1: invalid PKGNAME "../../../../tmp/herd-pwned-dotdot-1.0": contains a slash',
        );
        const evilName =
          "evil$(touch${IFS}herd-pwned-a)`touch${IFS}herd-pwned-b`;touch${IFS}herd-pwned-c;<i>x-1.0";
        const ends = new Map(
          r.events.filter((e) => e.type === "package-end").map((e) => [e.pkgname as string, e]),
        );
        assert.equal(
          ends.get(evilName)?.result,
          "built",
          "a name of metacharacters is just a name",
        );
        assert.ok(existsSync(join(work, "packages/All", `${evilName}.tgz`)));
        const evilC = ends.get("evilc<script>alert(1)<-1.0");
        assert.equal(evilC?.result, "failed");
        assert.equal(
          evilC.reason,
          'build failed (exit 1): error: <img src=x onerror=alert("reason")> $(touch /tmp/herd-pwned-reason)',
        );

        const reportDir = join(work, "report");
        for (const page of readdirSync(reportDir).filter((f) => /\.(html|svg)$/.test(f))) {
          const html = readFileSync(join(reportDir, page), "utf8");
          assert.ok(
            !/<script>alert|<img src=x|<i>x-1\.0/.test(html),
            `${page} escapes every payload`,
          );
        }
        const html = readFileSync(join(reportDir, "report.html"), "utf8");
        assert.ok(
          html.includes("evilc&lt;script&gt;alert(1)&lt;-1.0"),
          "the name is shown, escaped",
        );
        assert.ok(html.includes("&lt;script&gt;alert(&quot;maintainer&quot;)&lt;/script&gt;"));
        const page = readdirSync(reportDir).find((f) => f.startsWith("pkg-evilc"));
        assert.ok(
          page !== undefined && /^pkg-[A-Za-z0-9_.-]+\.html$/.test(page),
          `page name ${page}`,
        );
        const pageHtml = readFileSync(join(reportDir, page), "utf8");
        assert.ok(
          pageHtml.includes(
            "&lt;script&gt;alert(&quot;log&quot;)&lt;/script&gt; $(touch /tmp/herd-pwned-log)",
          ),
          "the log is shown, escaped",
        );
      } finally {
        killLeftovers(work);
        rmSync(box.dir, { recursive: true, force: true });
      }
    },
  );

  it("fails a package whose MULTI_VERSION is not VAR=value words, runs nothing of it, builds on", async () => {
    const box = hostileBox("hostile-multi");
    try {
      const pkgs = join(box.dir, "pkgs");
      writeFileSync(pkgs, "hostile/multi\nhostile/multiuser\ndevel/libbase\n");
      const work = join(box.dir, "work");
      const r = await build(box, work, 1, pkgs);
      assert.equal(r.code, 0, r.stderr);
      const reason =
        'unsafe MULTI_VERSION " X=$(touch /tmp/herd-pwned-multi)" (it holds VAR=value words only); nothing of it was run';
      assert.ok(
        r.events.some((e) => e.type === "warning" && e.message === `multi-1.0: ${reason}`),
        "a warning names the package and the words",
      );
      const report = JSON.parse(readFileSync(join(work, "report/report.json"), "utf8")) as {
        failed: { pkgname: string; stage: string; reason: string }[];
        indirect: { pkgname: string; culprit: string; state: string }[];
      };
      assert.deepEqual(
        report.failed.map((f) => [f.pkgname, f.stage, f.reason]),
        [["multi-1.0", "MULTI_VERSION", reason]],
      );
      assert.deepEqual(
        report.indirect.map((p) => [p.pkgname, p.state, p.culprit]),
        [["multiuser-1.0", "indirect-failed", "multi-1.0"]],
      );
      assert.ok(existsSync(join(work, "packages/All/libbase-1.0.tgz")), "the rest is built");
      assert.deepEqual(pwnedInTmp(), []);
      killLeftovers(work);
    } finally {
      rmSync(box.dir, { recursive: true, force: true });
    }
  });
});
