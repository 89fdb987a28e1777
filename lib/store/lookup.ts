/**
 * Who holds what: by owner (the allocation record, read by its key), by value (the chunk says whether
 * it is allocated, the by-value index says who holds it, and the record read by its key confirms it),
 * and the pool's allocations in value order, a page at a time, filtered by labels.
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { PoolError } from '../errors.js';
import type { LabelFilter } from '../labels.js';
import type { Allocation, AllocationPage, ListRequest, ValueInput } from '../model.js';
import { valueSortKey } from '../values.js';
import { getBit } from './bitmap.js';
import type { StoreContext } from './context.js';
import { getChunk, recordsCovering, toAllocation } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import { chunkKey, holdingKey, itemWithKey, poolPk, TABLE_KEYS } from './keys.js';
import { sleep } from './pacing.js';
import { readPool } from './pool-view.js';
import { ownerHoldsNothing, poolNotFound, unavailable, valueNotAllocated, valueNotInPool } from './store-errors.js';

/**
 * How long a missing index entry may be the index trailing the table (DynamoDB propagates to a
 * global index within a second in normal operation) rather than an allocation record that is really
 * missing: counted from the chunk's last write, or from this call's first read of it, whichever is
 * sooner. A chunk that other allocations keep writing (a busy pool) must not make a leaked value's
 * lookup wait forever.
 */
const INDEX_LAG_MS = 2000;

export async function findByOwner(ctx: StoreContext, pool: string, owner: string): Promise<Allocation> {
  const budget = ctx.budget();
  const key = holdingKey(pool, owner);
  const { view, items } = await readPool(ctx, pool, budget, [key]);
  if (!view) throw poolNotFound(pool);
  const item = itemWithKey(items, key);
  if (!item) throw ownerHoldsNothing(pool, owner);
  return toAllocation(decodeHolding(item));
}

/**
 * Who holds a value (alone, or inside a block). The chunk says whether it is allocated (a strongly consistent read); the
 * by-value index says who holds it and may trail the table, so what it names is confirmed by reading
 * that allocation record by its key, and a miss is asked again while the chunk's last write is recent.
 * A set bit whose record is gone for good (a leak, which `check` reports) holds nothing: NOT_ALLOCATED.
 */
export async function findByValue(ctx: StoreContext, pool: string, value: ValueInput): Promise<Allocation> {
  const budget = ctx.budget();
  const cached = ctx.cache.get(pool);
  const early = cached && value(cached.space);
  const guess = early && early.ok ? cached.layout.locate(early.value)?.chunk : undefined;
  const { view, items } = await readPool(ctx, pool, budget, guess === undefined ? [] : [chunkKey(pool, guess)]);
  if (!view) throw poolNotFound(pool);
  const type = view.cached.space;
  const parsed = value(type);
  if (!parsed.ok) throw new PoolError('INVALID_ARGUMENT', parsed.message);
  const v = parsed.value;
  const pos = view.layout.locate(v);
  if (!pos) throw valueNotInPool(pool, type, v);

  const first = pos.chunk === guess ? itemWithKey(items, chunkKey(pool, guess)) : undefined;
  let chunk: ChunkItem | undefined = first ? decodeChunk(first) : pos.chunk === guess ? undefined : await getChunk(ctx, pool, pos.chunk, budget);
  // Every record written before this read is in the index INDEX_LAG_MS later: a record missing then
  // was released since (and the value is not held, or held anew under a record found next time) or
  // never existed (a leak, which holds nothing).
  const firstRead = Date.now();
  for (let attempt = 1; ; attempt++) {
    if (!chunk || !getBit(chunk.bits, pos.bit)) throw valueNotAllocated(pool, type, v);
    const [held] = await recordsCovering(ctx, view, v, budget);
    if (held) return toAllocation(held);
    const settled = ctx.now().getTime() - (chunk.at ?? 0) > INDEX_LAG_MS || Date.now() - firstRead > INDEX_LAG_MS;
    if (settled) throw valueNotAllocated(pool, type, v);
    if (!budget.open()) throw unavailable(`lookup of ${String(v)} in pool '${pool}'`);
    await sleep(Math.min(20 * 2 ** Math.min(attempt, 5), budget.remaining()));
    chunk = await getChunk(ctx, pool, pos.chunk, budget);
  }
}

/** Allocations in value order, a page at a time; the cursor is the last value's sort key. */
export async function listAllocations(ctx: StoreContext, pool: string, opts: ListRequest): Promise<AllocationPage> {
  const budget = ctx.budget();
  const { view } = await readPool(ctx, pool, budget);
  if (!view) throw poolNotFound(pool);
  const filters = opts.labels ?? [];
  const filter = labelFilterExpression(filters);
  const found: HoldingItem[] = [];
  let after = opts.after;
  let start: Record<string, AttributeValue> | undefined;
  // A filter may match few records per page read: a call reads a bounded number of pages and hands
  // back a cursor from where it stopped, so a page may be short (even empty) and still have a next one.
  for (let page = 0; page < (filters.length > 0 ? FILTERED_PAGES_PER_CALL : 1); page++) {
    const out = await ctx.table.query(
      {
        IndexName: TABLE_KEYS.valueIndex,
        KeyConditionExpression: after ? 'gpk = :pk AND gsk > :after' : 'gpk = :pk',
        ...filter.expression,
        ExpressionAttributeValues: { ':pk': poolPk(pool), ...(after ? { ':after': after } : {}), ...filter.values },
        Limit: filters.length > 0 ? FILTERED_PAGE_ITEMS : opts.limit + 1,
      },
      budget,
      start,
    );
    found.push(...out.items.map(decodeHolding));
    if (found.length > opts.limit) break;
    if (!out.last) return { allocations: found.map(toAllocation) };
    start = out.last;
    after = undefined;
  }
  const page = found.slice(0, opts.limit);
  const last = page[page.length - 1];
  if (found.length > opts.limit && last) return { allocations: page.map(toAllocation), next: valueSortKey(last.type, last.value) };
  // Stopped after its pages: continue after the last record read, matched or not.
  const lastRead = start?.gsk?.S;
  return { allocations: page.map(toAllocation), next: lastRead };
}

/** Records read per page when a label filter applies (DynamoDB filters after it reads them). */
const FILTERED_PAGE_ITEMS = 500;
const FILTERED_PAGES_PER_CALL = 4;

function labelFilterExpression(filters: readonly LabelFilter[]) {
  if (filters.length === 0) return { expression: {}, values: {} };
  const names: Record<string, string> = { '#labels': 'labels' };
  const values: Record<string, string> = {};
  const parts = filters.map((f, i) => {
    names[`#k${i}`] = f.key;
    values[`:lv${i}`] = f.value;
    return `#labels.#k${i} = :lv${i}`;
  });
  return { expression: { FilterExpression: parts.join(' AND '), ExpressionAttributeNames: names }, values };
}
