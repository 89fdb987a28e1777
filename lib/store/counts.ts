/**
 * Pool counts, summed from the chunk items (strongly consistent): the chunks are the truth, there is
 * no separate counter to drift or to become a hot item. One query per pool over its chunk items.
 */
import type { PoolCounts } from '../model.js';
import type { StoreContext } from './context.js';
import { decodeMeta, decodePage, decodeRegistry, type MetaItem, type PageItem } from './items.js';
import { CHUNK_PREFIX, chunkFromSk, chunkSk, metaKey, pageCount, pageKey, poolPk, REGISTRY_KEY } from './keys.js';
import { type Segment, segmentChunks } from './layout.js';
import type { Budget } from './pacing.js';
import { effectiveMeta, type PoolView, readPool, refusesAllocations, viewOf } from './pool-view.js';
import { poolNotFound } from './store-errors.js';

/** How many pools are counted at once: 1,000 pools must not mean 1,000 queries one after the other. */
const POOLS_COUNTED_AT_ONCE = 8;

export async function poolCounts(ctx: StoreContext, pool: string): Promise<PoolCounts> {
  const budget = ctx.budget();
  const { view } = await readPool(ctx, pool, budget);
  if (!view) throw poolNotFound(pool);
  return countsOf(ctx, view, budget);
}

/** Every pool, by name. */
export async function allPoolCounts(ctx: StoreContext): Promise<PoolCounts[]> {
  const budget = ctx.budget();
  const views = await allViews(ctx, budget);
  const out: PoolCounts[] = new Array(views.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < views.length; i = next++) out[i] = await countsOf(ctx, views[i], budget);
  };
  await Promise.all(Array.from({ length: Math.min(POOLS_COUNTED_AT_ONCE, views.length) }, worker));
  return out;
}

/** Views of every registered pool, by name: the layouts a container lacks read by key, 100 pages a request. */
export async function allViews(ctx: StoreContext, budget: Budget): Promise<PoolView[]> {
  const registry = decodeRegistry(await ctx.table.get(REGISTRY_KEY, budget));
  const names = [...registry.pools.keys()].sort();
  const items = await ctx.table.batchGet(names.map(metaKey), budget);
  const byName = new Map(items.map((i) => [String(i.name), i]));
  const metas: MetaItem[] = [];
  for (const name of names) {
    const item = byName.get(name);
    const meta = item && (await effectiveMeta(ctx, decodeMeta(item), budget));
    if (meta) metas.push(meta);
  }
  const stale = metas.filter((m) => !ctx.cache.current(m.name, { born: m.createdAt, lver: m.lver }));
  const pages = new Map<string, PageItem[]>();
  for (const item of await ctx.table.batchGet(stale.flatMap((m) => Array.from({ length: pageCount(m.nseg) }, (_, p) => pageKey(m.name, p))), budget)) {
    const pool = String(item.pk).slice(poolPk('').length);
    pages.set(pool, [...(pages.get(pool) ?? []), decodePage(item)]);
  }
  const views: PoolView[] = [];
  for (const meta of metas) views.push(await viewOf(ctx, meta, budget, pages.get(meta.name)?.sort((a, b) => a.page - b.page)));
  return views;
}

export async function countsOf(ctx: StoreContext, view: PoolView, budget: Budget): Promise<PoolCounts> {
  const { layout, meta } = view;
  let used = 0;
  let autoUsed = 0;
  for await (const item of ctx.table.queryAll(
    {
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
      ExpressionAttributeValues: { ':pk': poolPk(meta.name), ':c': CHUNK_PREFIX },
      ProjectionExpression: 'sk, used',
      ConsistentRead: true,
    },
    budget,
  )) {
    const n = Number(item.used ?? 0);
    const info = layout.chunk(chunkFromSk(String(item.sk)));
    if (!info) continue;
    used += n;
    if (info.segment.autoAssign) autoUsed += n;
  }
  return {
    name: meta.name,
    type: meta.type,
    delegate: meta.delegate,
    kind: meta.kind,
    scope: meta.scope,
    order: meta.order,
    size: Number(layout.size),
    used,
    autoAssignSize: Number(layout.autoAssignSize()),
    autoAssignUsed: autoUsed,
    runs: layout.runs(),
    maxBlockSize: Number(layout.maxBlockSize()),
    disabled: refusesAllocations(meta),
    createdAt: meta.createdAt,
    updatedAt: meta.updatedAt,
  };
}

/** Values in use in the chunks of the segments `which` picks, from the chunks' counts. */
export async function usedInSegments(ctx: StoreContext, view: PoolView, which: (s: Segment) => boolean, budget: Budget): Promise<number> {
  let used = 0;
  for (const s of view.layout.segments.filter(which)) {
    for await (const item of ctx.table.queryAll(
      {
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
        ExpressionAttributeValues: { ':pk': poolPk(view.meta.name), ':first': chunkSk(s.firstChunk), ':last': chunkSk(s.firstChunk + segmentChunks(s) - 1) },
        ProjectionExpression: 'used',
        ConsistentRead: true,
      },
      budget,
    )) {
      used += Number(item.used ?? 0);
    }
  }
  return used;
}
