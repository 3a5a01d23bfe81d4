/**
 * pbulk-scan's framing of `make pbulk-index` output: each record gets
 * `PKG_LOCATION=category/dir` as its second line (the index target does not
 * print it); a record whose PKGNAME was already seen is dropped, as pbulk-scan
 * drops the repeats that multi-version directories produce.
 */
const PKGNAME_EQ = Buffer.from("PKGNAME=", "latin1");

/** Inserts PKG_LOCATION after each PKGNAME line, dropping records already in `seen` (which it extends). */
export function frameScanOutput(output: Buffer, pkgpath: string, seen: Set<string>): Buffer {
  const parts: Buffer[] = [];
  const location = Buffer.from(`PKG_LOCATION=${pkgpath}\n`, "latin1");
  let pos = 0;
  let keep = true;
  while (pos < output.length) {
    let nl = output.indexOf(10, pos);
    if (nl < 0) nl = output.length - 1;
    const line = output.subarray(pos, nl + 1);
    if (line.subarray(0, 8).equals(PKGNAME_EQ)) {
      const name = line.toString("latin1", 8).replace(/\n$/, "");
      keep = !seen.has(name);
      seen.add(name);
      if (keep) parts.push(line, location);
    } else if (keep) {
      // (Lines before the first PKGNAME are kept too, so the parser reports them.)
      parts.push(line);
    }
    pos = nl + 1;
  }
  return Buffer.concat(parts);
}
