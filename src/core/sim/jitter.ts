/**
 * Deterministic noise for robustness runs: real durations differ from the
 * history by up to ±percent, the same for the same seed on every machine.
 */

/** A small seeded PRNG (mulberry32) returning floats in [0, 1). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Scales each duration by a factor uniform in [1 - p/100, 1 + p/100], fixed by the seed. */
export function jitterDurations(
  base: ArrayLike<number>,
  percent: number,
  seed: number,
): Float64Array {
  const out = Float64Array.from(base);
  if (percent <= 0) return out;
  const rand = seededRandom(seed);
  const p = Math.min(percent, 100) / 100;
  for (let i = 0; i < out.length; i++) out[i] = out[i]! * (1 + p * (2 * rand() - 1));
  return out;
}
