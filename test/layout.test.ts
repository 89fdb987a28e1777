import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { appendSegments, chunkBitsFor, Layout, MAX_CHUNK_BITS, MIN_CHUNK_BITS } from '../lib/layout.js';
import type { FlaggedRun } from '../lib/runs.js';

const run = (start: bigint, end: bigint, autoAssign = true): FlaggedRun => ({ start, end, autoAssign });

describe('chunk layout', () => {
  test.each([
    [150n, 8],
    [1024n, 8],
    [250_000n, 256],
    [16_777_216n, 1024],
    [2n ** 64n, 1024],
  ])('a segment of %i values gets %i-bit chunks', (size, bits) => {
    expect(chunkBitsFor(size)).toBe(bits);
  });

  test('segments are appended after the existing chunks and never move', () => {
    const first = appendSegments([], [run(100n, 1100n)]);
    expect(first).toEqual([{ start: 100n, end: 1100n, autoAssign: true, firstChunk: 0, chunkBits: 8 }]);
    const grown = appendSegments(first, [run(0n, 50n, false)]);
    expect(grown[0]).toEqual(first[0]);
    expect(grown[1]).toEqual({ start: 0n, end: 50n, autoAssign: false, firstChunk: 125, chunkBits: 8 });
    const layout = new Layout(grown);
    expect(layout.chunkCount).toBe(132);
    expect(layout.size).toBe(1050n);
    expect(layout.autoAssignSize()).toBe(1000n);
    // The last chunk of the 50-value segment holds only 2 values.
    expect(layout.chunk(131)).toMatchObject({ firstValue: 48n, validBits: 2 });
    expect(layout.valueAt({ chunk: 131, bit: 2 })).toBeUndefined();
    expect(layout.locate(99n)).toBeUndefined();
    expect(layout.locate(1100n)).toBeUndefined();
    expect(layout.locate(49n)).toEqual({ chunk: 131, bit: 1 });
  });

  test('a 16,777,216-value pool costs one segment', () => {
    const layout = new Layout(appendSegments([], [run(0n, 16_777_216n)]));
    expect(layout.segments).toHaveLength(1);
    expect(layout.chunkCount).toBe(16_384);
    expect(layout.locate(16_777_215n)).toEqual({ chunk: 16_383, bit: 1023 });
    expect(layout.valueOfIndex(16_777_215n)).toBe(16_777_215n);
  });
});

// Random pools: up to five disjoint runs anywhere in the IPv6 space, appended in random order.
const layoutArb = fc
  .uniqueArray(fc.bigInt({ min: 0n, max: 2n ** 128n - 1n }), { minLength: 2, maxLength: 10 })
  .chain((points) => {
    const sortedPoints = [...points].sort((a, b) => (a < b ? -1 : 1));
    const runs: FlaggedRun[] = [];
    for (let i = 0; i + 1 < sortedPoints.length; i += 2) {
      const end = sortedPoints[i + 1] - sortedPoints[i] > 5000n ? sortedPoints[i] + 5000n : sortedPoints[i + 1];
      runs.push(run(sortedPoints[i], end, i % 4 === 0));
    }
    return fc.shuffledSubarray(runs, { minLength: runs.length, maxLength: runs.length });
  })
  .map((runs) => new Layout(runs.reduce((segs, r) => appendSegments(segs, [r]), appendSegments([], []))));

describe('layout properties', () => {
  propTest.prop([layoutArb, fc.bigInt({ min: 0n, max: 2n ** 64n })])('dense index ↔ value round-trips', (layout, seed) => {
    const index = seed % layout.size;
    const v = layout.valueOfIndex(index);
    expect(v).toBeDefined();
    if (v === undefined) return;
    expect(layout.indexOf(v)).toBe(index);
    const pos = layout.locate(v);
    expect(pos).toBeDefined();
    if (!pos) return;
    expect(layout.valueAt(pos)).toBe(v);
    const info = layout.chunk(pos.chunk);
    expect(info?.segment.start).toBeLessThanOrEqual(v);
    expect(pos.bit).toBeLessThan(info?.validBits ?? 0);
    expect(info?.segment.chunkBits).toBeGreaterThanOrEqual(MIN_CHUNK_BITS);
    expect(info?.segment.chunkBits).toBeLessThanOrEqual(MAX_CHUNK_BITS);
  });

  propTest.prop([layoutArb])('every chunk belongs to exactly one segment and chunks tile the pool', (layout) => {
    let total = 0n;
    for (let c = 0; c < layout.chunkCount; c++) {
      const info = layout.chunk(c);
      expect(info).toBeDefined();
      total += BigInt(info?.validBits ?? 0);
    }
    expect(total).toBe(layout.size);
    expect(layout.chunk(layout.chunkCount)).toBeUndefined();
  });
});
