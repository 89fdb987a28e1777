/**
 * Allocation records as the operations use them: reading one, turning it into the domain's
 * Allocation, and the rules for answering an owner that already holds something.
 */
import type { Allocated, Allocation } from '../model.js';
import type { StoreContext } from './context.js';
import { decodeChunk, type ChunkItem, decodeHolding, type HoldingItem } from './items.js';
import { chunkKey, holdingKey } from './keys.js';
import type { Budget } from './pacing.js';
import { ownerConflict } from './store-errors.js';

export function toAllocation(h: HoldingItem): Allocation {
  return { pool: h.pool, type: h.type, delegate: h.delegate, value: h.value, size: h.size, owner: h.owner, allocatedAt: h.at };
}

export async function getHolding(ctx: StoreContext, pool: string, owner: string, budget: Budget): Promise<HoldingItem | undefined> {
  const item = await ctx.table.get(holdingKey(pool, owner), budget);
  return item ? decodeHolding(item) : undefined;
}

export async function getChunk(ctx: StoreContext, pool: string, chunk: number, budget: Budget): Promise<ChunkItem | undefined> {
  const item = await ctx.table.get(chunkKey(pool, chunk), budget);
  return item ? decodeChunk(item) : undefined;
}

/**
 * The owner already holds something: the same answer again (200), or OWNER_CONFLICT when it asked for
 * another value. A record carrying this very request's id means an earlier attempt of this call
 * landed without our hearing of it: still a creation.
 */
export function holdingAnswer(held: HoldingItem, rid: string, wanted: bigint | undefined): Allocated {
  if (wanted !== undefined && held.value !== wanted) throw ownerConflict(held.pool, held.owner, held, held.value, wanted);
  return { allocation: toAllocation(held), created: held.rid === rid };
}
