/**
 * Chunk bitmaps as byte arrays: bit i lives in byte i >> 3 under mask 1 << (i & 7); a set bit is an
 * allocated value. Stored bitmaps are never changed in place. Pure.
 *
 * `from` and `to` bound the valid bits of a chunk (bits [from, to) are values of the pool): a chunk is
 * aligned in value space, so the first and last chunk of a segment may hold fewer values than bits.
 */

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

/** A copy with bits [first, first + count) set (or cleared), grown as needed. */
export function withBits(map: Uint8Array, first: number, count: number, on: boolean): Uint8Array {
  const out = new Uint8Array(Math.max(map.length, bitmapBytes(first + count)));
  out.set(map);
  for (let i = first; i < first + count; i++) {
    if (on) out[i >> 3] |= 1 << (i & 7);
    else out[i >> 3] &= ~(1 << (i & 7));
  }
  return out;
}

export function withBit(map: Uint8Array, i: number, on: boolean): Uint8Array {
  return withBits(map, i, 1, on);
}

/** Set bits in [from, to). */
export function popcount(map: Uint8Array, from = 0, to = map.length * 8): number {
  let n = 0;
  for (let i = from; i < to; i++) if (getBit(map, i)) n++;
  return n;
}

/** Whether bits [first, first + count) are all clear. */
export function allClear(map: Uint8Array, first: number, count: number): boolean {
  for (let i = first; i < first + count; i++) if (getBit(map, i)) return false;
  return true;
}

/** A uniformly random clear bit in [from, to), or -1 when there is none. */
export function randomClearBit(map: Uint8Array, from: number, to: number, random: () => number = Math.random): number {
  const free = to - from - popcount(map, from, to);
  if (free <= 0) return -1;
  let k = Math.floor(random() * free);
  for (let i = from; i < to; i++) {
    if (!getBit(map, i) && k-- === 0) return i;
  }
  return -1;
}

/** The lowest clear bit in [from, to), or -1. */
export function lowestClearBit(map: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) if (!getBit(map, i)) return i;
  return -1;
}

/**
 * log2 of the largest free run of valid bits that starts at a multiple of its own length (a buddy
 * block), or -1 when no valid bit is free. `bits` is the chunk's size, a power of two.
 */
export function largestFreeOrder(map: Uint8Array, bits: number, from: number, to: number): number {
  let level: boolean[] = [];
  for (let i = 0; i < bits; i++) level.push(i >= from && i < to && !getBit(map, i));
  if (!level.some(Boolean)) return -1;
  let order = 0;
  while (level.length > 1) {
    const up: boolean[] = [];
    for (let i = 0; i < level.length; i += 2) up.push(level[i] && level[i + 1]);
    if (!up.some(Boolean)) break;
    level = up;
    order++;
  }
  return order;
}

/** First bits of the free aligned runs of 2^order bits, in bit order. */
export function freeAlignedRuns(map: Uint8Array, order: number, from: number, to: number): number[] {
  const size = 2 ** order;
  const out: number[] = [];
  for (let first = Math.ceil(from / size) * size; first + size <= to; first += size) {
    if (allClear(map, first, size)) out.push(first);
  }
  return out;
}
