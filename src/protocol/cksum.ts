/**
 * The CRC of POSIX `cksum` (polynomial 0x04C11DB7, MSB first, length appended),
 * because `cksum` is the one checksum every build host has.
 */

// Eight tables for slicing-by-8 (eight bytes per step); Int32 so the loop
// stays in small integers: the plain byte loop ran at 7 MB/s.
const TABLE = ((): Int32Array => {
  const t = new Int32Array(256 * 8);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c;
  }
  for (let s = 1; s < 8; s++) {
    for (let i = 0; i < 256; i++) {
      const p = t[(s - 1) * 256 + i]!;
      t[s * 256 + i] = (p << 8) ^ t[p >>> 24]!;
    }
  }
  return t;
})();

function crcUpdate(crc: number, d: Uint8Array): number {
  const t = TABLE;
  const n = d.length;
  let i = 0;
  for (; i + 8 <= n; i += 8) {
    const a = crc ^ ((d[i]! << 24) | (d[i + 1]! << 16) | (d[i + 2]! << 8) | d[i + 3]!);
    crc =
      t[1792 + (a >>> 24)]! ^
      t[1536 + ((a >>> 16) & 255)]! ^
      t[1280 + ((a >>> 8) & 255)]! ^
      t[1024 + (a & 255)]! ^
      t[768 + d[i + 4]!]! ^
      t[512 + d[i + 5]!]! ^
      t[256 + d[i + 6]!]! ^
      t[d[i + 7]!]!;
  }
  for (; i < n; i++) crc = (crc << 8) ^ t[(crc >>> 24) ^ d[i]!]!;
  return crc;
}

/** An incremental POSIX cksum: feed bytes with update(), read with digest(). */
export class Cksum {
  #crc = 0;
  #size = 0;

  update(data: Uint8Array): this {
    this.#crc = crcUpdate(this.#crc, data);
    this.#size += data.length;
    return this;
  }

  get size(): number {
    return this.#size;
  }

  /** The value `cksum` prints for the bytes fed so far. */
  digest(): number {
    let crc = this.#crc;
    for (let n = this.#size; n > 0; n = Math.floor(n / 256)) {
      crc = (crc << 8) ^ TABLE[((crc >>> 24) ^ n) & 0xff]!;
    }
    return ~crc >>> 0;
  }
}

/** The `cksum` CRC and size of a buffer. */
export function cksum(data: Uint8Array): { crc: number; size: number } {
  const c = new Cksum().update(data);
  return { crc: c.digest(), size: c.size };
}
