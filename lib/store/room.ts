/**
 * The room index: how the store finds free values without reading a pool's chunks one by one, and
 * knows for certain when there are none. Pure: keys in, keys out.
 *
 * Every chunk item of an auto_assign segment that has a free value carries a `room` attribute, the
 * sort key of a sparse local secondary index over the pool's item collection. Its key is the chunk's
 * first value (fixed-width hex) followed by its largest free aligned block (log2 of its size, one hex
 * digit): the index lists the places with room in value order, so a query from a random value spreads
 * concurrent allocations over the pool (a query from the bottom finds the lowest), the block size each
 * can take is read off the key, and the index is strongly consistent, so "no key at all" means "no
 * free auto_assign value".
 * The attribute changes in the same write as the chunk's bits, so an allocation writes nothing else;
 * DynamoDB maintains the index entry only when the key changes.
 *
 * Chunks that were never written have no item and are wholly free. A layout page (the item that holds
 * up to 32 segments) carries a room key while any of its auto_assign segments may still have such
 * chunks ("virtual" segments); a segment stops being virtual once a read shows every one of its chunks
 * exists, and chunks are never deleted, so that flag is never set again.
 */
import { largestFreeOrder } from './bitmap.js';
import { type ChunkInfo, type Segment, alignedStart, largestAlignedOrder } from './layout.js';
import { type SpaceLike, valueSortKey } from '../values.js';

export interface RoomKey {
  /** log2 of the largest free aligned block. */
  order: number;
  /** The first value it describes (a chunk's first value, a page's lowest virtual segment start). */
  position: bigint;
}

export function encodeRoom(type: SpaceLike, room: RoomKey): string {
  return `${valueSortKey(type, room.position)}${room.order.toString(16)}`;
}

export function decodeRoom(text: string): RoomKey {
  return { order: Number.parseInt(text.slice(-1), 16), position: BigInt(`0x${text.slice(0, -1)}`) };
}

/** The room key a chunk should carry with these bits, or undefined when it offers nothing to automatic allocation. */
export function chunkRoom(type: SpaceLike, info: ChunkInfo, bits: Uint8Array): string | undefined {
  if (!info.segment.autoAssign) return undefined;
  const order = largestFreeOrder(bits, info.segment.chunkBits, info.from, info.to);
  return order < 0 ? undefined : encodeRoom(type, { order, position: info.base });
}

/** log2 of the largest aligned block a never-written chunk of this segment can hold. */
export function virtualOrder(s: Segment): number {
  return Math.min(Math.log2(s.chunkBits), largestAlignedOrder(s.start, s.end));
}

/**
 * The room key of a layout page, given which of its segments are virtual: the largest block a
 * virtual auto_assign chunk holds, at the lowest such segment.
 */
export function pageRoom(type: SpaceLike, segments: readonly Segment[], virtual: readonly boolean[]): string | undefined {
  let best: RoomKey | undefined;
  segments.forEach((s, i) => {
    if (!virtual[i] || !s.autoAssign) return;
    const order = virtualOrder(s);
    const position = alignedStart(s);
    if (!best || order > best.order || (order === best.order && position < best.position)) best = { order, position };
  });
  return best && encodeRoom(type, best);
}

/** The smallest room key at or after `position`. */
export function roomFrom(type: SpaceLike, position: bigint): string {
  return valueSortKey(type, position);
}

/** Sorts after every room key. */
export const ROOM_END = 'g';
