/**
 * The store's rules that need no DynamoDB: bitmaps and free blocks, room keys, what a failed request
 * or a cancelled transaction means, and how a chunk is picked from the cache.
 */
import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { emptyBitmap, freeAlignedRuns, getBit, largestFreeOrder, lowestClearBit, popcount, randomClearBit, withBits } from '../../lib/store/bitmap.js';
import { Layout } from '../../lib/store/layout.js';
import { classifyCancellation, classifyError } from '../../lib/store/outcomes.js';
import { PoolCache } from '../../lib/store/pool-cache.js';
import { chunkRoom, decodeRoom, encodeRoom, pageRoom, virtualOrder } from '../../lib/store/room.js';
import { pickVirtualChunk, virtualSegments } from '../../lib/store/room-search.js';

const bitsOf = (bits: number, set: number[]) => set.reduce((m, i) => withBits(m, i, 1, true), emptyBitmap(bits));

describe('bitmaps', () => {
  test('bits are set and cleared as copies; popcount and the lowest clear bit stay within bounds', () => {
    const a = emptyBitmap(16);
    const b = withBits(a, 3, 4, true);
    expect(popcount(a)).toBe(0);
    expect([...Array(16).keys()].filter((i) => getBit(b, i))).toEqual([3, 4, 5, 6]);
    expect(popcount(b, 4, 16)).toBe(3);
    expect(lowestClearBit(b, 3, 16)).toBe(7);
    expect(lowestClearBit(withBits(b, 7, 9, true), 3, 16)).toBe(-1);
  });

  test('a random clear bit is chosen only among valid, clear bits', () => {
    const map = bitsOf(8, [0, 1, 2, 4, 5]);
    const seen = new Set<number>();
    for (let i = 0; i < 200; i++) seen.add(randomClearBit(map, 1, 7, Math.random));
    expect([...seen].sort()).toEqual([3, 6]);
    expect(randomClearBit(bitsOf(8, [3, 6]), 3, 4)).toBe(-1);
  });

  test.each([
    ['all free', 8, [], 0, 8, 3],
    ['one taken at the start', 8, [0], 0, 8, 2],
    ['buddies are aligned: 1..4 free is no block of 4', 8, [0, 5, 6, 7], 0, 8, 1],
    ['only valid bits count', 8, [], 1, 8, 2],
    ['full', 8, [0, 1, 2, 3, 4, 5, 6, 7], 0, 8, -1],
  ])('largest free aligned block: %s', (_what, bits, set, from, to, order) => {
    expect(largestFreeOrder(bitsOf(bits, set), bits, from, to)).toBe(order);
  });

  propTest.prop([fc.uniqueArray(fc.integer({ min: 0, max: 63 }), { maxLength: 64 }), fc.integer({ min: 0, max: 6 })])(
    'free aligned runs are exactly the aligned all-clear runs, and the largest order is the largest such run',
    (set, order) => {
      const map = bitsOf(64, set);
      const size = 2 ** order;
      const runs = freeAlignedRuns(map, order, 0, 64);
      for (let first = 0; first < 64; first += size) {
        const free = Array.from({ length: size }, (_, i) => !set.includes(first + i)).every(Boolean);
        expect(runs.includes(first)).toBe(free);
      }
      const largest = largestFreeOrder(map, 64, 0, 64);
      expect(freeAlignedRuns(map, largest, 0, 64).length).toBeGreaterThan(largest < 0 ? -1 : 0);
      if (largest < 6) expect(freeAlignedRuns(map, largest + 1, 0, 64)).toEqual([]);
    },
  );
});

describe('room keys', () => {
  const layout = new Layout([
    { start: 100n, end: 1100n, autoAssign: true, firstChunk: 0, chunkBits: 8 },
    { start: 5000n, end: 5002n, autoAssign: false, firstChunk: 126, chunkBits: 8 },
  ]);

  test('sort by position (value order), whatever the largest free block; round-trip', () => {
    const a = encodeRoom('integer', { order: 3, position: 104n });
    const b = encodeRoom('integer', { order: 0, position: 999_999n });
    const c = encodeRoom('integer', { order: 10, position: 96n });
    expect([a, b, c].sort()).toEqual([c, a, b]);
    expect(decodeRoom(a)).toEqual({ order: 3, position: 104n });
    expect(decodeRoom(c)).toEqual({ order: 10, position: 96n });
  });

  test('a chunk carries a key while it has a free auto_assign value, and says how large a block it holds', () => {
    const first = layout.chunk(0);
    if (!first) throw new Error('no chunk 0');
    expect(decodeRoom(chunkRoom('integer', first, emptyBitmap(8)) ?? '')).toEqual({ order: 2, position: 96n });
    expect(chunkRoom('integer', first, bitsOf(8, [4, 5, 6, 7]))).toBeUndefined();
    const manual = layout.chunk(126);
    if (!manual) throw new Error('no chunk 126');
    expect(chunkRoom('integer', manual, emptyBitmap(8))).toBeUndefined();
  });

  test('a page carries a key while it has virtual auto_assign segments', () => {
    expect(virtualOrder(layout.segments[0])).toBe(3);
    expect(virtualOrder({ start: 1n, end: 4n, autoAssign: true, firstChunk: 0, chunkBits: 8 })).toBe(1);
    expect(pageRoom('integer', layout.segments, [true, true])).toBe(encodeRoom('integer', { order: 3, position: 96n }));
    expect(pageRoom('integer', layout.segments, [false, true])).toBeUndefined();
  });
});

describe('what a failure means', () => {
  test.each([
    [{ name: 'ProvisionedThroughputExceededException' }, 'throttled'],
    [{ name: 'ThrottlingException' }, 'throttled'],
    [{ name: 'TransactionConflictException' }, 'contention'],
    [{ name: 'TimeoutError' }, 'ambiguous'],
    [{ name: 'AbortError' }, 'ambiguous'],
    [{ name: 'InternalServerError', $fault: 'server' }, 'ambiguous'],
    [{ name: 'Error', message: 'socket hang up' }, 'ambiguous'],
    [{ name: 'ValidationException', $fault: 'client' }, 'fatal'],
    [{ name: 'ResourceNotFoundException', $fault: 'client' }, 'fatal'],
  ])('%o is %s', (error, verdict) => {
    expect(classifyError(error)).toBe(verdict);
  });

  test.each([
    [['ConditionalCheckFailed', 'None'], 'conflict'],
    [['None', 'ConditionalCheckFailed'], 'conflict'],
    [['TransactionConflict', 'None'], 'contention'],
    [['ThrottlingError', 'None'], 'throttled'],
    // An item over 400 KB: never retried as if it were contention.
    [['ValidationError', 'None'], 'fatal'],
    [['ConditionalCheckFailed', 'ValidationError'], 'fatal'],
    [['ItemCollectionSizeLimitExceeded', 'None'], 'fatal'],
  ])('a transaction cancelled for %o is %s', (codes, verdict) => {
    expect(classifyCancellation(codes.map((Code) => ({ Code })))).toBe(verdict);
  });
});

describe('picking a never-written chunk from the cache', () => {
  const cache = new PoolCache();
  const layout = new Layout([
    { start: 0n, end: 64n, autoAssign: true, firstChunk: 0, chunkBits: 8 },
    { start: 64n, end: 72n, autoAssign: false, firstChunk: 8, chunkBits: 8 },
  ]);
  const entry = cache.put('p', { born: '2026-01-01T00:00:00.000Z', lver: 1 }, { type: 'integer' }, layout, [{ page: 0, segments: [...layout.segments], virtual: [true, true], ver: 1 }]);

  test('only virtual auto_assign segments count, and the chunks a sweep found missing', () => {
    expect(virtualSegments(entry, 0)).toEqual([0]);
    const picked = new Set(Array.from({ length: 200 }, () => pickVirtualChunk(entry, 0, Math.random)));
    expect([...picked].sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    entry.virtualChunks.set(0, [5]);
    expect(pickVirtualChunk(entry, 0, Math.random)).toBe(5);
    entry.virtualChunks.set(0, []);
    expect(pickVirtualChunk(entry, 0, Math.random)).toBeUndefined();
    expect(pickVirtualChunk(entry, 1, Math.random)).toBeUndefined();
  });
});
