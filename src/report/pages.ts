/**
 * One page per failed package: why it failed, the tail of the failed
 * stage's log (the other stages' folded), the packages it breaks, and its
 * raw logs copied to logs/. Only a log's tail is read, so a page stays small
 * whatever the build printed; pages are written a few at a time.
 */
import { copyFile, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { STYLE } from "./html.js";
import type { FailedPackage, ReportModel } from "./model.js";
import { escapeHtml, logName, pageName } from "./names.js";

/** Bytes shown of the failed stage's log, and of each other stage's. */
const FAILED_TAIL = 200_000;
const OTHER_TAIL = 16_000;
/** Pages written at once: enough to keep the disk busy, few enough file handles. */
const AT_ONCE = 8;

/** Writes the page of every failed package, and copies their logs below logs/. */
export async function writePackagePages(dir: string, m: ReportModel): Promise<void> {
  const broken = new Map<string, string[]>();
  for (const p of m.indirect) {
    let list = broken.get(p.culprit);
    if (list === undefined) broken.set(p.culprit, (list = []));
    list.push(p.pkgname);
  }
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < m.failed.length) {
      const f = m.failed[next++]!;
      await writePackagePage(dir, f, broken.get(f.pkgname) ?? []);
    }
  };
  await Promise.all(Array.from({ length: AT_ONCE }, worker));
}

/**
 * The last `bytes` of a log and how many bytes came before them (null if
 * unreadable), and the log copied to `copy` when `always` or when the page
 * cannot show it whole: the other stages' logs are mostly short, and
 * thousands of copies of what the pages already show would only cost time.
 * A log that fits is read once; a longer one is copied by the kernel and
 * only its tail read.
 */
async function copyTail(
  file: string,
  copy: string,
  bytes: number,
  always: boolean,
): Promise<{ text: string; skipped: number } | null> {
  let fh;
  try {
    fh = await open(file, "r");
  } catch {
    return null;
  }
  let buf: Buffer;
  let skipped: number;
  try {
    const size = (await fh.stat()).size;
    skipped = Math.max(0, size - bytes);
    buf = Buffer.alloc(size - skipped);
    const { bytesRead } = await fh.read(buf, 0, buf.length, skipped);
    buf = buf.subarray(0, bytesRead);
  } catch {
    return null;
  } finally {
    await fh.close();
  }
  if (skipped > 0) await copyFile(file, copy).catch(() => undefined);
  else if (always) await writeFile(copy, buf).catch(() => undefined);
  return { text: buf.toString("utf8"), skipped };
}

async function logHtml(
  dir: string,
  f: FailedPackage,
  l: FailedPackage["logs"][number],
  failed: boolean,
): Promise<string> {
  const e = escapeHtml;
  const name = logName(f.pkgname, l.stage);
  const t = await copyTail(
    l.file,
    join(dir, "logs", name),
    failed ? FAILED_TAIL : OTHER_TAIL,
    failed,
  );
  const text =
    t === null
      ? "(log missing)"
      : (t.skipped > 0 ? `(the first ${t.skipped} bytes are in the raw log)\n` : "") + t.text;
  const raw =
    failed || (t !== null && t.skipped > 0) ? `<p><a href="logs/${e(name)}">raw log</a></p>` : "";
  const pre = `${raw}<pre>${e(text)}</pre>`;
  return failed
    ? `<h2 id="${e(l.stage)}">${e(l.stage)}</h2>${pre}`
    : `<details id="${e(l.stage)}"><summary>${e(l.stage)}</summary>${pre}</details>`;
}

async function writePackagePage(
  dir: string,
  f: FailedPackage,
  breaks: readonly string[],
): Promise<void> {
  const e = escapeHtml;
  const failedLog = f.logs.find((l) => l.stage === f.stage) ?? f.logs.at(-1);
  const parts: string[] = [];
  if (failedLog !== undefined) parts.push(await logHtml(dir, f, failedLog, true));
  const others = f.logs.filter((l) => l !== failedLog);
  if (others.length > 0) {
    parts.push("<h2>The other stages</h2>");
    for (const l of others) parts.push(await logHtml(dir, f, l, false));
  }
  const broken =
    breaks.length === 0
      ? ""
      : `<h2 id="breaks">It breaks ${breaks.length} packages</h2><p>${e(breaks.join(" "))}</p>`;
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${e(f.pkgname)}: failed</title><style>${STYLE}</style></head>
<body><p><a href="report.html">back to the report</a></p>
<h1>${e(f.pkgname)}</h1>
<p>${e(f.pkgpath)}: failed in <b>${e(f.stage)}</b> on ${e(f.host)}; breaks ${f.breaks} packages. Maintainer: ${e(f.maintainer)}.</p>
<p class="failed">${e(f.reason)}</p>
${parts.join("\n")}
${broken}
</body></html>
`;
  await writeFile(join(dir, pageName(f.pkgname)), html);
}
