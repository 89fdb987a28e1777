/**
 * The rules of a block request (lib/blocks.ts) and the pure parts of the block search
 * (lib/store/block-search.ts): sizes from prefix_length or size, CIDR values, alignment, labels,
 * and which pieces of a window are free.
 */
import { describe, expect, test } from 'vitest';
import { alignment, blockLabel, blockName, parseBlockValue, requestedSize } from '../../lib/blocks.js';
import { withBits } from '../../lib/store/bitmap.js';
import { firstHeld, largestFreeInWindow, piecesFree } from '../../lib/store/block-search.js';
import type { ChunkItem } from '../../lib/store/items.js';
import { appendSegments, Layout } from '../../lib/store/layout.js';
import type { ValueSpace } from '../../lib/values.js';

const V6_64: ValueSpace = { type: 'ipv6-prefix', delegate: 64 };
const V4_26: ValueSpace = { type: 'ipv4-prefix', delegate: 26 };

const ok = (value: bigint) => ({ ok: true, value });

describe('requestedSize', () => {
  test.each<[string, ValueSpace | 'ipv4' | 'ipv6' | 'integer', Parameters<typeof requestedSize>[1], bigint]>([
    ['nothing asked: one value', 'ipv4', {}, 1n],
    ['a /24 of an IPv4 pool', 'ipv4', { prefix_length: 24 }, 256n],
    ['a /32 is one address', 'ipv4', { prefix_length: 32 }, 1n],
    ['a /0 is the whole family (refused later, by max_block_size)', 'ipv4', { prefix_length: 0 }, 2n ** 32n],
    ['a /120 of an IPv6 pool', 'ipv6', { prefix_length: 120 }, 256n],
    ['a /60 of /64s is sixteen', V6_64, { prefix_length: 60 }, 16n],
    ['a /64 of /64s is one', V6_64, { prefix_length: 64 }, 1n],
    ['a /24 of /26s is four', V4_26, { prefix_length: 24 }, 4n],
    ['a CIDR value gives the length', 'ipv4', { value: '10.0.16.0/24' }, 256n],
    ['a CIDR value and the same length', 'ipv4', { value: '10.0.16.0/24', prefix_length: 24 }, 256n],
    ['an integer size', 'integer', { size: 32 }, 32n],
    ['size 1', 'integer', { size: 1 }, 1n],
  ])('%s', (_name, space, fields, size) => {
    expect(requestedSize(space, fields)).toEqual(ok(size));
  });

  test.each<[string, ValueSpace | 'ipv4' | 'integer', Parameters<typeof requestedSize>[1], RegExp]>([
    ['prefix_length in an integer pool', 'integer', { prefix_length: 24 }, /prefix_length applies to IP and prefix pools; an integer pool takes size/],
    ['size in an IP pool', 'ipv4', { size: 16 }, /size applies to integer pools; a ipv4 pool takes prefix_length, such as 28/],
    ['size not a power of two', 'integer', { size: 12 }, /size must be a power of two .*; got number 12/],
    ['size 0', 'integer', { size: 0 }, /size must be a power of two/],
    ['longer than an address', 'ipv4', { prefix_length: 33 }, /prefix_length must be a whole number 0-32 in this pool \(a \/32 is one address\)/],
    ['longer than the delegated length', V6_64, { prefix_length: 65 }, /0-64 in this pool \(its values are \/64 prefixes/],
    ['a CIDR value and another length', 'ipv4', { value: '10.0.16.0/24', prefix_length: 25 }, /is a \/24 but prefix_length asks for a \/25/],
  ])('%s is refused, naming the field', (_name, space, fields, message) => {
    const r = requestedSize(space, fields);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});

describe('parseBlockValue and alignment', () => {
  test('a CIDR in an IP pool is its first address; in a prefix pool, the index of its first value', () => {
    expect(parseBlockValue('ipv4', '10.0.16.0/24')).toEqual(ok(0x0a001000n));
    expect(parseBlockValue('ipv4', '10.0.16.5')).toEqual(ok(0x0a001005n));
    expect(parseBlockValue(V6_64, '2001:db8:100:10::/60')).toEqual(ok(0x20010db801000010n));
    expect(parseBlockValue(V6_64, '2001:db8:100:5::/64')).toEqual(ok(0x20010db801000005n));
  });

  test('a prefix pool refuses a CIDR longer than its values', () => {
    const r = parseBlockValue(V6_64, '2001:db8:100:5::/80');
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toContain('values of this pool are /64 prefixes');
  });

  test('a block starts at a multiple of its size; the message names the block the value lies in', () => {
    expect(alignment('ipv4', 0x0a001000n, 256n)).toEqual(ok(0x0a001000n));
    const r = alignment('ipv4', 0x0a001108n, 256n);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toBe('a block of /24 (256 values) starts at a multiple of its size: 10.0.17.8 lies inside 10.0.17.0/24');
    const i = alignment('integer', 100n, 16n);
    expect(i.ok).toBe(false);
    if (!i.ok) expect(i.message).toContain('100 lies inside 96');
  });

  test('labels and names', () => {
    expect(blockLabel('ipv4', 256n)).toBe('/24 (256 values)');
    expect(blockLabel(V6_64, 16n)).toBe('/60 (16 values)');
    expect(blockLabel('integer', 4096n)).toBe('4,096 values');
    expect(blockName('ipv4', 64n)).toBe('/26');
    expect(blockName('integer', 16n)).toBe('block of 16 values');
  });
});

describe('block search, pure parts', () => {
  // [0, 256) in 8-bit chunks: 32 chunks; a block of 32 values covers 4 of them.
  const layout = new Layout(appendSegments([], [{ start: 0n, end: 256n, autoAssign: true }]));
  const chunk = (n: number, bits: Uint8Array): [number, ChunkItem] => [n, { chunk: n, bits, used: 0, ver: 1, room: undefined, at: undefined }];

  test('pieces of a block over several chunks are free only when every bit of every chunk is clear', () => {
    const pieces = layout.pieces(32n, 32n)!;
    expect(pieces.map((p) => [p.chunk, p.bit, p.count])).toEqual([[4, 0, 8], [5, 0, 8], [6, 0, 8], [7, 0, 8]]);
    const empty = new Map<number, ChunkItem | undefined>();
    expect(piecesFree(empty, pieces)).toBe(true);
    expect(firstHeld(layout, empty, pieces)).toBeUndefined();
    const one = new Map([chunk(6, withBits(new Uint8Array(1), 5, 1, true))]);
    expect(piecesFree(one, pieces)).toBe(false);
    expect(firstHeld(layout, one, pieces)).toBe(53n);
  });

  test('the largest free block of a window, for what an exhausted answer names', () => {
    // Blocks of 64 at 0 and 64: with 8 and 96 taken, [32, 64) is the largest free block.
    const taken = (...values: number[]) => new Map(values.map((v) => chunk(v >> 3, withBits(new Uint8Array(1), v & 7, 1, true))));
    expect(largestFreeInWindow(layout, { items: taken(8, 96), starts: [0n, 64n] }, 64n)).toBe(5);
    // One value taken in every 32: [16, 32) is.
    expect(largestFreeInWindow(layout, { items: taken(8, 40, 72, 104), starts: [0n, 64n] }, 64n)).toBe(4);
    // The search stops at one chunk: smaller blocks are the room index's to name.
    expect(largestFreeInWindow(layout, { items: taken(...Array.from({ length: 16 }, (_, i) => 8 * i)), starts: [0n, 64n] }, 64n)).toBe(-1);
  });
});
