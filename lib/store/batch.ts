/**
 * What batches of allocations and of releases share: the batch's own rules (1-25 items, each
 * (pool, owner) once, pool names that can exist), reading every pool it names with its owners'
 * records in one BatchGetItem per pool, in parallel, and reading those records again.
 */
import { type ItemFailure, PoolError } from '../errors.js';
import { MAX_BATCH_ITEMS } from '../model.js';
import { POOL_NAME_PATTERN, POOL_NAME_RULE } from '../names.js';
import type { StoreContext } from './context.js';
import { decodeHolding, type HoldingItem } from './items.js';
import { holdingKey, itemWithKey } from './keys.js';
import type { Budget } from './pacing.js';
import { type PoolView, readPool } from './pool-view.js';
import { batchSize, poolNotFound, sameItemTwice } from './store-errors.js';

/** DynamoDB's limit on the items of one transaction (the 4 MB one cannot be reached: see docs/CAPACITY.md). */
export const MAX_TRANSACTION_ITEMS = 100;

export interface BatchItem {
  pool: string;
  owner: string;
}

export interface BatchRead {
  /** The pools that exist, by name. */
  views: Map<string, PoolView>;
  /** Each item's owner's record in its pool, as read, by index. */
  holdings: (HoldingItem | undefined)[];
  /** Items that cannot be done: the same (pool, owner) as an earlier item, a pool that does not exist. */
  failures: ItemFailure[];
}

/**
 * Checks the batch's shape (a wrong count throws: no item is at fault) and reads its pools, each with
 * the records of its items' owners: what an allocation or a release decides from.
 */
export async function readBatch(ctx: StoreContext, items: readonly BatchItem[], budget: Budget): Promise<BatchRead> {
  if (items.length === 0 || items.length > MAX_BATCH_ITEMS) throw batchSize(items.length, MAX_BATCH_ITEMS);
  const failures: ItemFailure[] = [];
  const first = new Map<string, number>();
  items.forEach(({ pool, owner }, index) => {
    // A name no pool can have is answered like any unknown pool, without asking the table (whose keys would refuse a long one).
    if (!POOL_NAME_PATTERN.test(pool)) return void failures.push({ index, error: new PoolError('POOL_NOT_FOUND', `no pool named ${JSON.stringify(pool.slice(0, 64))}: pool names are ${POOL_NAME_RULE}`) });
    const key = JSON.stringify([pool, owner]);
    const earlier = first.get(key);
    if (earlier !== undefined) failures.push({ index, error: sameItemTwice(pool, owner, earlier) });
    else first.set(key, index);
  });
  const named = failures.map((f) => f.index);
  const pools = [...new Set(items.filter((_, i) => !named.includes(i)).map((i) => i.pool))];
  const read = await Promise.all(pools.map((pool) => readPool(ctx, pool, budget, items.filter((i, index) => i.pool === pool && !named.includes(index)).map((i) => holdingKey(i.pool, i.owner)))));
  const views = new Map<string, PoolView>();
  const holdings: (HoldingItem | undefined)[] = new Array(items.length).fill(undefined);
  pools.forEach((pool, p) => {
    const { view, items: got } = read[p];
    if (view) views.set(pool, view);
    items.forEach((item, index) => {
      if (item.pool !== pool) return;
      const found = itemWithKey(got, holdingKey(item.pool, item.owner));
      holdings[index] = found ? decodeHolding(found) : undefined;
    });
  });
  items.forEach(({ pool }, index) => {
    if (!named.includes(index) && !views.has(pool)) failures.push({ index, error: poolNotFound(pool) });
  });
  return { views, holdings, failures };
}

/** The owners' records as they now stand, by index (strongly consistent, one BatchGetItem). */
export async function readHoldings(ctx: StoreContext, items: readonly BatchItem[], budget: Budget): Promise<(HoldingItem | undefined)[]> {
  const keys = new Map(items.map((i) => [JSON.stringify([i.pool, i.owner]), holdingKey(i.pool, i.owner)]));
  const got = await ctx.table.batchGet([...keys.values()], budget);
  return items.map((i) => {
    const found = itemWithKey(got, holdingKey(i.pool, i.owner));
    return found ? decodeHolding(found) : undefined;
  });
}
