/**
 * Reading a pool: its definition, fresh in every call (in one BatchGetItem with whatever else the
 * operation needs), and its layout, from the container's cache when the definition's layout version
 * matches, else from its layout pages. Also where a registration larger than one transaction is
 * resolved for readers: its staged items count only once its intent is committed.
 */
import { type ChunkItem, decodeIntent, decodeMeta, decodePage, type IntentStatus, type MetaItem, type PageItem } from './items.js';
import { intentKey, itemWithKey, type ItemKey, LAYOUT_PREFIX, metaKey, type Native, poolPk, SEGMENTS_PER_PAGE } from './keys.js';
import type { StoreContext } from './context.js';
import { Layout } from './layout.js';
import type { Budget } from './pacing.js';
import type { CachedPool } from './pool-cache.js';
import type { PoolError } from '../errors.js';
import { poolDisabled, poolNotFound, poolReplaced } from './store-errors.js';

export interface PoolView {
  /** The definition as it counts: a committed staged grow applied, markers of uncommitted ones ignored. */
  meta: MetaItem;
  layout: Layout;
  /** Layout pages, trimmed to the definition's segments. */
  pages: PageItem[];
  cached: CachedPool;
}

/** Reads the pool's definition and `extra` items in one request; the view is undefined when the pool does not exist. */
export async function readPool(ctx: StoreContext, pool: string, budget: Budget, extra: readonly ItemKey[] = []): Promise<{ view?: PoolView; items: Native[] }> {
  const key = metaKey(pool);
  const got = extra.length === 0 ? [await ctx.table.get(key, budget)].filter((i): i is Native => i !== undefined) : await ctx.table.batchGet([key, ...extra], budget);
  const metaItem = itemWithKey(got, key);
  const items = got.filter((i) => i !== metaItem);
  if (!metaItem) return { items };
  const meta = await effectiveMeta(ctx, decodeMeta(metaItem), budget);
  if (!meta) return { items };
  return { view: await viewOf(ctx, meta, budget), items };
}

/**
 * The view of a definition already read. Its pages are read after it (never alongside): the segments
 * it counts are then in them, and those past its count, which an aborted registration may have left,
 * are cut off; pages read before it could hold such leftovers where a grow since has put others.
 */
export async function viewOf(ctx: StoreContext, meta: MetaItem, budget: Budget, pages?: PageItem[]): Promise<PoolView> {
  const version = { born: meta.createdAt, lver: meta.lver };
  let cached = ctx.cache.current(meta.name, version);
  if (!cached) {
    pages ??= await readPages(ctx, meta.name, budget);
    cached = ctx.cache.put(meta.name, version, { type: meta.type, delegate: meta.delegate }, layoutOf(pages, meta.nseg), trimPages(pages, meta.nseg));
  }
  cached.order = meta.order;
  return { meta, layout: cached.layout, pages: cached.pages, cached };
}

export async function readPages(ctx: StoreContext, pool: string, budget: Budget): Promise<PageItem[]> {
  const pages: PageItem[] = [];
  for await (const item of ctx.table.queryAll(
    { KeyConditionExpression: 'pk = :pk AND begins_with(sk, :layout)', ExpressionAttributeValues: { ':pk': poolPk(pool), ':layout': LAYOUT_PREFIX }, ConsistentRead: true },
    budget,
  )) {
    pages.push(decodePage(item));
  }
  return pages.sort((a, b) => a.page - b.page);
}

/** Segments beyond `nseg` belong to a registration that has not committed (or was aborted): they do not count. */
export function trimPages(pages: readonly PageItem[], nseg: number): PageItem[] {
  return pages.flatMap((p) => {
    const keep = Math.max(0, Math.min(SEGMENTS_PER_PAGE, nseg - p.page * SEGMENTS_PER_PAGE));
    return keep === 0 ? [] : [{ ...p, segments: p.segments.slice(0, keep), virtual: p.virtual.slice(0, keep) }];
  });
}

export function layoutOf(pages: readonly PageItem[], nseg: number): Layout {
  return new Layout(trimPages(pages, nseg).flatMap((p) => p.segments));
}

/** The definition as readers must see it, or undefined for a pool whose creation has not committed. */
export async function effectiveMeta(ctx: StoreContext, meta: MetaItem, budget: Budget): Promise<MetaItem | undefined> {
  if (meta.pendingIntent) {
    if (!committed(await intentStatus(ctx, meta.pendingIntent, budget))) return undefined;
    meta = { ...meta, pendingIntent: undefined };
  }
  if (meta.staged) {
    const s = meta.staged;
    if (committed(await intentStatus(ctx, s.intent, budget))) {
      return { ...meta, lver: s.lver, nseg: s.nseg, prefix: s.prefix ?? meta.prefix, order: s.order ?? meta.order, updatedAt: s.updatedAt, staged: undefined };
    }
    return { ...meta, staged: undefined };
  }
  return meta;
}

/** A disabled pool, or one being deleted, takes no new allocation; everything else still works. */
export function refusesAllocations(meta: MetaItem): boolean {
  return meta.disabled === true || meta.deleting !== undefined;
}

/**
 * Why a transaction that created a chunk item of the pool as `read` failed its definition check
 * (writes.ts, metaOpen), read afresh: the pool is gone, another pool now has its name, or a deletion
 * has begun. Undefined when it is the same pool and open again (a deletion undone): try again.
 */
export async function closedSince(ctx: StoreContext, read: MetaItem, budget: Budget): Promise<PoolError | undefined> {
  const { view } = await readPool(ctx, read.name, budget);
  if (!view) return poolNotFound(read.name);
  if (view.meta.createdAt !== read.createdAt) return poolReplaced(read.name);
  if (view.meta.deleting) return poolDisabled(read.name, view.meta);
  return undefined;
}

/**
 * A chunk written by another pool of the same name (deleted and registered again since `view` was
 * read): a write on the view's incarnation fails on it however often it is tried.
 */
export function ofAnotherIncarnation(view: PoolView, chunk: ChunkItem | undefined): boolean {
  return chunk?.born !== undefined && chunk.born !== view.meta.createdAt;
}

export const committed = (status: IntentStatus): boolean => status === 'committed' || status === 'settled';

/** An intent no longer in the table was never committed: committed intents are kept, pending ones expire. */
export async function intentStatus(ctx: StoreContext, id: string, budget: Budget): Promise<IntentStatus> {
  const known = ctx.settledIntents.get(id);
  if (known) return known;
  const item = await ctx.table.get(intentKey(id), budget);
  const status = item ? decodeIntent(item).status : 'aborted';
  if (status !== 'pending') ctx.settledIntents.set(id, committed(status) ? 'committed' : 'aborted');
  return status;
}
