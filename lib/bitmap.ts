/** Bitmaps as byte arrays: bit i lives in byte i >> 3 under mask 1 << (i & 7). Pure. */

export function bitmapBytes(bits: number): number {
  return (bits + 7) >> 3;
}

export function emptyBitmap(bits: number): Uint8Array {
  return new Uint8Array(bitmapBytes(bits));
}

export function getBit(map: Uint8Array, i: number): boolean {
  const byte = i >> 3;
  return byte < map.length && (map[byte] & (1 << (i & 7))) !== 0;
}

/** A copy with bit i set (or cleared), grown as needed: stored bitmaps are never changed in place. */
export function withBit(map: Uint8Array, i: number, on: boolean): Uint8Array {
  const out = new Uint8Array(Math.max(map.length, (i >> 3) + 1));
  out.set(map);
  if (on) out[i >> 3] |= 1 << (i & 7);
  else out[i >> 3] &= ~(1 << (i & 7));
  return out;
}

export function popcount(map: Uint8Array, limit = map.length * 8): number {
  let n = 0;
  for (let i = 0; i < limit; i++) if (getBit(map, i)) n++;
  return n;
}

/** The index of the k-th (0-based) clear bit below `limit`, or -1. */
export function nthClearBit(map: Uint8Array, limit: number, k: number): number {
  let seen = 0;
  for (let i = 0; i < limit; i++) {
    if (!getBit(map, i)) {
      if (seen === k) return i;
      seen++;
    }
  }
  return -1;
}

/** A uniformly random clear bit below `limit`, or -1 when there is none. */
export function randomClearBit(map: Uint8Array, limit: number, random: () => number = Math.random): number {
  const free = limit - popcount(map, limit);
  if (free <= 0) return -1;
  return nthClearBit(map, limit, Math.floor(random() * free));
}
