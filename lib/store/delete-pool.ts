/**
 * Deleting a pool that holds no allocation, safely next to allocations racing it: either it is
 * deleted and no allocation of it was ever acknowledged after its last check, or it refuses
 * (POOL_NOT_EMPTY) and is left as it was.
 *
 * 1. The definition is marked `deleting`: from then on every allocation refuses (it reads the
 *    definition fresh), and one that read it just before and now creates a chunk item fails on the
 *    definition check its transaction carries (writes.ts, metaOpen).
 * 2. Every chunk item and allocation record is read (strongly consistent): a value still held, or
 *    any record, undoes the mark and answers POOL_NOT_EMPTY.
 * 3. Each chunk item is deleted on the version read and a count of 0: an allocation that landed on
 *    an existing chunk since (step 1 cannot stop one already under way) fails that condition, and the
 *    deletion is undone.
 * 4. One transaction deletes the definition (on the version that marked it) and the layout pages and
 *    takes the pool out of the registry: its values no longer count for overlap and its name can be
 *    registered again.
 *
 * A deletion stopped between steps (a crash, the time budget) leaves the pool marked: it takes no
 * allocation, and deleting it again finishes the work.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { StoreContext } from './context.js';
import { decodeChunk, decodeRegistry, type ChunkItem, type MetaItem, type PageItem } from './items.js';
import { CHUNK_PREFIX, holdingPk, OWNER_SHARDS, poolPk, REGISTRY_KEY } from './keys.js';
import type { Budget } from './pacing.js';
import { type PoolView, readPages, readPool } from './pool-view.js';
import { pageRoom } from './room.js';
import { poolNotEmpty, poolNotFound, unavailable } from './store-errors.js';
import { MAX_TRANSACTION_ITEMS } from './batch.js';
import { chunkDelete, metaDelete, metaDeleting, metaUndelete, pageDelete, pageWrite, registryRemove } from './writes.js';

/** How often a step whose condition failed for a reason other than an allocation (a grow, a registration) is tried again. */
const TRIES = 5;

export async function deletePool(ctx: StoreContext, pool: string): Promise<void> {
  const budget = ctx.budget();
  let view = await mustRead(ctx, pool, budget);
  if (!view.meta.deleting) {
    // Refused before anything is written when the answer is already known.
    const held = await holdingsCount(ctx, pool, budget);
    const used = (await chunksOf(ctx, pool, budget)).reduce((n, c) => n + c.used, 0);
    if (held > 0 || used > 0) throw poolNotEmpty(pool, Math.max(held, 1));
    await mark(ctx, view.meta, budget);
    view = await mustRead(ctx, pool, budget);
  }
  const deleting = view.meta.deleting as string;

  const chunks = await chunksOf(ctx, pool, budget);
  const held = await holdingsCount(ctx, pool, budget);
  if (held > 0 || chunks.some((c) => c.used > 0)) return undo(ctx, view, deleting, false, Math.max(held, 1), budget);

  for (let i = 0; i < chunks.length; i += MAX_TRANSACTION_ITEMS) {
    const part = chunks.slice(i, i + MAX_TRANSACTION_ITEMS);
    const outcome = await ctx.tx(part.map((c) => chunkDelete(view.meta, c)), budget);
    if (outcome.kind === 'ok') continue;
    if (outcome.kind === 'conflict' && outcome.items.some((now) => now && Number(now.used ?? 0) > 0)) {
      return undo(ctx, view, deleting, i > 0, await holdingsCount(ctx, pool, budget), budget);
    }
    // Busy, lost, or a chunk written and freed again since it was read: deleting again reads afresh.
    throw unavailable(`deletion of pool '${pool}' (it stays marked and takes no allocation; delete it again to finish)`);
  }

  for (let attempt = 0; attempt < TRIES; attempt++) {
    const { view: now } = await readPool(ctx, pool, budget);
    if (!now) break;
    const registry = decodeRegistry(await ctx.table.get(REGISTRY_KEY, budget));
    const pages = await readPages(ctx, pool, budget);
    const outcome = await ctx.tx([metaDelete(now.meta), ...pages.map((p) => pageDelete(pool, p.page)), registryRemove(registry, pool)], budget);
    if (outcome.kind === 'ok') break;
    if (outcome.kind === 'unknown') throw unavailable(`deletion of pool '${pool}' (delete it again to find out)`);
  }
  if ((await readPool(ctx, pool, budget)).view) throw unavailable(`deletion of pool '${pool}' (it stays marked and takes no allocation; delete it again to finish)`);
  ctx.cache.forget(pool);
}

async function mustRead(ctx: StoreContext, pool: string, budget: Budget): Promise<PoolView> {
  const { view } = await readPool(ctx, pool, budget);
  if (!view) throw poolNotFound(pool);
  return view;
}

async function mark(ctx: StoreContext, meta: MetaItem, budget: Budget): Promise<void> {
  try {
    await ctx.table.write(metaDeleting(meta, ctx.isoNow()), budget);
  } catch (e) {
    // The definition moved since it was read: a registration (or another deletion) is under way.
    if (e instanceof ConditionalCheckFailedException) throw unavailable(`deletion of pool '${meta.name}' (a registration of it is under way; nothing was changed)`);
    throw e;
  }
}

/**
 * An allocation turned up after all: the mark goes, and when chunk items were already deleted, the
 * layout's segments are marked as having never-written chunks again, so that their values are found.
 */
async function undo(ctx: StoreContext, view: PoolView, deleting: string, chunksDeleted: boolean, allocations: number, budget: Budget): Promise<never> {
  const pool = view.meta.name;
  if (chunksDeleted) {
    for (const page of await readPages(ctx, pool, budget)) {
      const virtual = page.segments.map(() => true);
      const after: PageItem = { ...page, virtual, room: pageRoom(view.meta.type, page.segments, virtual) };
      await ctx.tx([pageWrite(pool, page, after)], budget);
    }
  }
  await ctx.tx([metaUndelete(pool, deleting)], budget);
  ctx.cache.forget(pool);
  throw poolNotEmpty(pool, Math.max(allocations, 1));
}

/** Every chunk item of the pool, strongly consistent. */
async function chunksOf(ctx: StoreContext, pool: string, budget: Budget): Promise<ChunkItem[]> {
  const out: ChunkItem[] = [];
  for await (const item of ctx.table.queryAll(
    { KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)', ExpressionAttributeValues: { ':pk': poolPk(pool), ':c': CHUNK_PREFIX }, ConsistentRead: true },
    budget,
  )) {
    out.push(decodeChunk(item));
  }
  return out;
}

/** How many allocation records the pool has, up to RECORDS_COUNTED per shard (each shard read strongly consistent). */
async function holdingsCount(ctx: StoreContext, pool: string, budget: Budget): Promise<number> {
  const pages = await Promise.all(
    Array.from({ length: OWNER_SHARDS }, (_, shard) =>
      ctx.table.query({ KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': holdingPk(pool, shard) }, ProjectionExpression: 'sk', ConsistentRead: true, Limit: RECORDS_COUNTED }, budget),
    ),
  );
  return pages.reduce((n, page) => n + page.items.length, 0);
}

/** A refusal says how many allocations are in the way; beyond this many per shard, roughly. */
const RECORDS_COUNTED = 1000;
