/**
 * Allocation records as the operations use them: reading one, turning it into the domain's
 * Allocation, and the rules for answering an owner that already holds something.
 */
import type { Allocated, Allocation } from '../model.js';
import type { StoreContext } from './context.js';
import { decodeChunk, type ChunkItem, decodeHolding, type HoldingItem } from './items.js';
import { chunkKey, holdingKey, poolPk, TABLE_KEYS } from './keys.js';
import type { PoolView } from './pool-view.js';
import { valueSortKey } from '../values.js';
import type { Budget } from './pacing.js';
import { ownerConflict } from './store-errors.js';

export function toAllocation(h: HoldingItem): Allocation {
  return { pool: h.pool, type: h.type, delegate: h.delegate, value: h.value, size: h.size, owner: h.owner, allocatedAt: h.at, labels: h.labels ?? {}, allocatedBy: h.by, expiresAt: h.expires };
}

/** Whether a holding covers a value: a block covers each of its values. */
export function covers(h: { value: bigint; size: number }, v: bigint): boolean {
  return v >= h.value && v < h.value + BigInt(h.size);
}

/** How many records the by-value index is read for below a value: the nearest, and a few it may still list after their release. */
const NEAREST_RECORDS = 4;

/**
 * The index entries whose first value is the nearest at (`inclusive`) or below `value`: a record
 * starting there is the only one that can cover `value` (blocks never overlap). The index is
 * eventually consistent: what it names must be confirmed by key.
 */
export async function recordsBelow(ctx: StoreContext, view: PoolView, value: bigint, budget: Budget, inclusive: boolean): Promise<HoldingItem[]> {
  const page = await ctx.table.query(
    {
      IndexName: TABLE_KEYS.valueIndex,
      KeyConditionExpression: `gpk = :pk AND gsk ${inclusive ? '<=' : '<'} :k`,
      ExpressionAttributeValues: { ':pk': poolPk(view.meta.name), ':k': valueSortKey(view.meta.type, value) },
      ScanIndexForward: false,
      Limit: NEAREST_RECORDS,
    },
    budget,
  );
  return page.items.map(decodeHolding);
}

/** The allocation records, read by key, that cover `value` (more than one only when the store is inconsistent). */
export async function recordsCovering(ctx: StoreContext, view: PoolView, value: bigint, budget: Budget): Promise<HoldingItem[]> {
  const out: HoldingItem[] = [];
  for (const named of await recordsBelow(ctx, view, value, budget, true)) {
    if (!covers(named, value)) continue;
    const held = await getHolding(ctx, view.meta.name, named.owner, budget);
    if (held && covers(held, value)) out.push(held);
  }
  return out;
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
 * another value, or a block of another size. A record carrying this very request's id means an
 * earlier attempt of this call landed without our hearing of it: still a creation.
 */
export function holdingAnswer(held: HoldingItem, rid: string, wanted: bigint | undefined, size = 1n): Allocated {
  if ((wanted !== undefined && held.value !== wanted) || BigInt(held.size) !== size) {
    throw ownerConflict(held.pool, held.owner, held, { value: held.value, size: BigInt(held.size) }, { value: wanted, size });
  }
  return { allocation: toAllocation(held), created: held.rid === rid };
}
