import { fc, test as propTest } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { alignedStart, appendSegments, chunkBitsFor, Layout, MAX_CHUNK_BITS, MIN_CHUNK_BITS, segmentChunks } from '../../lib/store/layout.js';
import type { FlaggedRun } from '../../lib/runs.js';

const run = (start: bigint, end: bigint, autoAssign = true): FlaggedRun => ({ start, end, autoAssign });

describe('chunk layout', () => {
  test.each([
    [150n, 8],
    [1024n, 8],
    [250_000n, 256],
    [1_048_576n, 1024],
    [1_048_577n, 2048],
    [16_777_216n, 16_384],
    [2n ** 64n, 16_384],
  ])('a segment of %i values gets %i-bit chunks', (size, bits) => {
    expect(chunkBitsFor(size)).toBe(bits);
  });

  test('segments are appended after the existing chunks and never move; chunks are aligned in value space', () => {
    const first = appendSegments([], [run(100n, 1100n)]);
    expect(first).toEqual([{ start: 100n, end: 1100n, autoAssign: true, firstChunk: 0, chunkBits: 8 }]);
    // 96..1104 in chunks of 8: the first chunk holds 100..103 only, the last 1096..1099.
    expect(segmentChunks(first[0])).toBe(126);
    const grown = appendSegments(first, [run(0n, 50n, false)]);
    expect(grown[0]).toEqual(first[0]);
    expect(grown[1]).toEqual({ start: 0n, end: 50n, autoAssign: false, firstChunk: 126, chunkBits: 8 });
    const layout = new Layout(grown);
    expect(layout.chunkCount).toBe(133);
    expect(layout.size).toBe(1050n);
    expect(layout.autoAssignSize()).toBe(1000n);
    expect(layout.chunk(0)).toMatchObject({ base: 96n, from: 4, to: 8 });
    expect(layout.chunk(125)).toMatchObject({ base: 1096n, from: 0, to: 4 });
    // The last chunk of the 50-value segment holds only 2 values.
    expect(layout.chunk(132)).toMatchObject({ base: 48n, from: 0, to: 2 });
    expect(layout.valueAt({ chunk: 132, bit: 2 })).toBeUndefined();
    expect(layout.valueAt({ chunk: 0, bit: 3 })).toBeUndefined();
    expect(layout.locate(99n)).toBeUndefined();
    expect(layout.locate(1100n)).toBeUndefined();
    expect(layout.locate(100n)).toEqual({ chunk: 0, bit: 4 });
    expect(layout.locate(49n)).toEqual({ chunk: 132, bit: 1 });
  });

  test('a 16,777,216-value pool costs one segment', () => {
    const layout = new Layout(appendSegments([], [run(0n, 16_777_216n)]));
    expect(layout.segments).toHaveLength(1);
    expect(layout.chunkCount).toBe(1024);
    expect(layout.locate(16_777_215n)).toEqual({ chunk: 1023, bit: 16_383 });
    // 1/16 of it, the contract's least, spans 64 chunks: one transaction with its record.
    expect(layout.maxBlockSize()).toBe(1_048_576n);
  });
});

describe('blocks in the layout', () => {
  test('a block is cut at chunk and segment boundaries, in value order', () => {
    // [0, 100) in chunks of 8, then [100, 1100) grown in later: a block of 64 at 64 straddles both.
    const layout = new Layout(appendSegments(appendSegments([], [run(0n, 100n)]), [run(100n, 1100n)]));
    const pieces = layout.pieces(64n, 64n);
    expect(pieces?.reduce((n, p) => n + p.count, 0)).toBe(64);
    expect(pieces?.map((p) => layout.valueAt(p))).toEqual([64n, 72n, 80n, 88n, 96n, 100n, 104n, 112n, 120n]);
    expect(layout.pieces(1088n, 16n)).toBeUndefined();
    expect(layout.pieces(8n, 8n)).toEqual([{ chunk: 1, bit: 0, count: 8 }]);
  });

  test.each([
    // A /24 defined by its prefix: network and broadcast are not values, so the largest block is a /26.
    [1n, 255n, 8, 64n],
    // 2^16 values in chunks of 64: a block spans at most 64 chunks, 4,096 values.
    [0n, 65_536n, 64, 4096n],
    // 1,500 VNIs from 2,024,500: in chunks of 8, at most 512.
    [2_024_500n, 2_026_000n, 8, 512n],
  ])('the largest block of [%i, %i) (chunks of %i) is %i', (start, end, bits, largest) => {
    const layout = new Layout(appendSegments([], [run(start, end)]));
    expect(layout.segments[0].chunkBits).toBe(bits);
    expect(layout.maxBlockSize()).toBe(largest);
    expect(layout.maxBlockSize() * 16n).toBeGreaterThanOrEqual(end - start);
  });

  test('a range grown by a later file is one run for blocks: [0, 200) and [200, 300) serve a block of 256 across them', () => {
    const layout = new Layout(appendSegments(appendSegments([], [run(0n, 200n)]), [run(200n, 300n)]));
    expect(layout.adjacentRuns().map((r) => [r.start, r.end, r.segments.length])).toEqual([[0n, 300n, 2]]);
    expect(layout.maxBlockSize()).toBe(256n);
    expect(layout.pieces(0n, 256n)?.length).toBe(32);
    // Apart, they are two runs, each with its own largest block.
    const apart = new Layout(appendSegments(appendSegments([], [run(0n, 200n)]), [run(1000n, 1100n)]));
    expect(apart.adjacentRuns()).toHaveLength(2);
    expect(apart.maxBlockSize()).toBe(128n);
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
  propTest.prop([layoutArb, fc.bigInt({ min: 0n, max: 2n ** 64n })])('value ↔ position round-trips, in an aligned chunk of its segment', (layout, seed) => {
    const segment = layout.segments[Number(seed % BigInt(layout.segments.length))];
    const v = segment.start + (seed % (segment.end - segment.start));
    const pos = layout.locate(v);
    expect(pos).toBeDefined();
    if (!pos) return;
    expect(layout.valueAt(pos)).toBe(v);
    const info = layout.chunk(pos.chunk);
    expect(info?.segment).toBe(segment);
    expect((info?.base ?? 1n) % BigInt(segment.chunkBits)).toBe(0n);
    expect(pos.bit).toBeGreaterThanOrEqual(info?.from ?? 0);
    expect(pos.bit).toBeLessThan(info?.to ?? 0);
    expect(segment.chunkBits).toBeGreaterThanOrEqual(MIN_CHUNK_BITS);
    expect(segment.chunkBits).toBeLessThanOrEqual(MAX_CHUNK_BITS);
  });

  propTest.prop([layoutArb])('every chunk belongs to exactly one segment and chunks tile the pool', (layout) => {
    let total = 0n;
    for (let c = 0; c < layout.chunkCount; c++) {
      const info = layout.chunk(c);
      expect(info).toBeDefined();
      if (!info) continue;
      expect(info.base + BigInt(info.from)).toBeGreaterThanOrEqual(info.segment.start);
      expect(info.base).toBeGreaterThanOrEqual(alignedStart(info.segment));
      total += BigInt(info.to - info.from);
    }
    expect(total).toBe(layout.size);
    expect(layout.chunk(layout.chunkCount)).toBeUndefined();
  });
});
