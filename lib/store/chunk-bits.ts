/**
 * The write of a chunk whose bits change: set by allocations, cleared by releases, as the chunk was
 * read (its version is the write's condition), with its new count and room key. A batch changes all
 * it takes (or frees) in one chunk in one write: a transaction may name an item only once.
 */
import { PoolError } from '../errors.js';
import { emptyBitmap, withBits } from './bitmap.js';
import type { StoreContext } from './context.js';
import type { ChunkItem } from './items.js';
import type { PoolView } from './pool-view.js';
import { chunkRoom } from './room.js';
import { chunkWrite, type Write } from './writes.js';

export interface ChunkBitsWrite {
  chunk: number;
  /** The room key the new bits call for: undefined when the chunk has no auto_assign value left. */
  room: string | undefined;
  write: Write;
  /** The chunk as the write leaves it, for a caller that writes it again in the same call. */
  after: ChunkItem;
}

/**
 * `pieces` (bits of this chunk) set (`on`) or cleared in the chunk as read. `counted: false` leaves
 * the chunk's count alone: a retirement's fence, whose values are not used values.
 */
export function chunkBitsWrite(
  ctx: StoreContext,
  view: PoolView,
  chunk: number,
  before: ChunkItem | undefined,
  pieces: readonly { bit: number; count: number }[],
  on: boolean,
  counted = true,
): ChunkBitsWrite {
  const info = view.layout.chunk(chunk);
  if (!info) throw new PoolError('INTERNAL', `chunk ${chunk} lies outside pool '${view.meta.name}'`);
  let bits = before?.bits ?? emptyBitmap(info.segment.chunkBits);
  let count = 0;
  for (const p of pieces) {
    bits = withBits(bits, p.bit, p.count, on);
    count += p.count;
  }
  const was = before?.used ?? 0;
  const used = !counted ? was : on ? was + count : Math.max(0, was - count);
  const room = chunkRoom(view.cached.space, info, bits);
  const at = ctx.now().getTime();
  return { chunk, room, write: chunkWrite(view.meta, chunk, before, { bits, used, room, at }), after: { chunk, bits, used, ver: (before?.ver ?? 0) + 1, room, at, born: view.meta.createdAt } };
}
