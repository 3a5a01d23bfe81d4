/**
 * The CRC of POSIX `cksum` (polynomial 0x04C11DB7, MSB first, length appended),
 * because `cksum` is the one checksum every build host has.
 */

const TABLE = ((): Uint32Array => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** An incremental POSIX cksum: feed bytes with update(), read with digest(). */
export class Cksum {
  #crc = 0;
  #size = 0;

  update(data: Uint8Array): this {
    let crc = this.#crc;
    for (const b of data) crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ b) & 0xff]!) >>> 0;
    this.#crc = crc;
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
      crc = ((crc << 8) ^ TABLE[((crc >>> 24) ^ n) & 0xff]!) >>> 0;
    }
    return ~crc >>> 0;
  }
}

/** The `cksum` CRC and size of a buffer. */
export function cksum(data: Uint8Array): { crc: number; size: number } {
  const c = new Cksum().update(data);
  return { crc: c.digest(), size: c.size };
}
