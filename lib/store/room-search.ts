/**
 * Looking for free auto_assign values: the room index queried from a random place (or from the
 * bottom), never-written chunks picked from virtual segments, and the sweep that settles a segment
 * once all of its chunks exist. The rules of the keys are in room.ts; this file sends the reads.
 */
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import type { StoreContext } from './context.js';
import { decodePage, type PageItem } from './items.js';
import { CHUNK_PREFIX, chunkFromSk, chunkSk, LAYOUT_PREFIX, pageFromSk, pageKey, poolPk, SEGMENTS_PER_PAGE, TABLE_KEYS } from './keys.js';
import { type ChunkInfo, largestAlignedOrder, segmentChunks } from './layout.js';
import { isPoolError } from '../errors.js';
import type { Budget } from './pacing.js';
import type { CachedPool, Candidate } from './pool-cache.js';
import type { PoolView } from './pool-view.js';
import { decodeRoom, pageRoom, ROOM_END, roomFrom, virtualOrder } from './room.js';
import type { Page } from './table.js';
import { pageWrite } from './writes.js';

/** How many places with room one look collects: about 4 KB of index keys, one read unit. */
const CANDIDATES_PER_QUERY = 40;
/** Index keys in one read unit (4 KB): a block search reads at least this many at a time. */
const ENTRIES_PER_READ_UNIT = 50;
/** Index keys one look for the lowest single value reads at a time. */
const LOWEST_PER_QUERY = 8;

/**
 * Chunks and pages with a free block of at least 2^order values, starting at a random value of the
 * pool (or at the bottom, for allocation_order "lowest") and wrapping around once. A strongly
 * consistent read: when `complete`, it saw the whole index, and an empty answer means there is no
 * such block. `limit` Infinity reads the whole index.
 */
export async function findCandidates(
  ctx: StoreContext,
  view: PoolView,
  order: number,
  budget: Budget,
  from: 'random' | 'lowest' = 'random',
  limit = CANDIDATES_PER_QUERY,
): Promise<{ candidates: Candidate[]; complete: boolean }> {
  const type = view.meta.type;
  const pk = poolPk(view.meta.name);
  const segments = view.layout.segments;
  const low = segments.reduce((m, s) => (s.start < m ? s.start : m), segments[0]?.start ?? 0n);
  const high = segments.reduce((m, s) => (s.end > m ? s.end : m), 0n);
  // A pool with fewer chunks than one query brings is read whole from the bottom: no second query.
  const small = view.layout.chunkCount + view.pages.length <= limit;
  const start = from === 'lowest' || small || high <= low ? 0n : low + BigInt(Math.floor(ctx.random() * Number(high - low)));
  const candidates: Candidate[] = [];
  /** Reads [lo, hi) of the index until `limit` candidates of the order asked for are found; whether it reached hi. */
  const read = async (lo: string, hi: string): Promise<boolean> => {
    let startKey: Page['last'];
    do {
      const page = await ctx.table.query(
        {
          IndexName: TABLE_KEYS.roomIndex,
          KeyConditionExpression: 'pk = :pk AND #room BETWEEN :lo AND :hi',
          ExpressionAttributeNames: { '#room': TABLE_KEYS.roomIndexSortKey },
          ExpressionAttributeValues: { ':pk': pk, ':lo': lo, ':hi': hi },
          ConsistentRead: true,
          ...(limit === Infinity ? {} : { Limit: Math.max(limit - candidates.length, order > 0 ? ENTRIES_PER_READ_UNIT : 1) }),
        },
        budget,
        startKey,
      );
      for (const item of page.items) {
        const key = String(item[TABLE_KEYS.roomIndexSortKey]);
        if (key >= hi || decodeRoom(key).order < order) continue;
        const sk = String(item.sk);
        if (sk.startsWith(CHUNK_PREFIX)) candidates.push({ kind: 'chunk', chunk: chunkFromSk(sk) });
        else if (sk.startsWith(LAYOUT_PREFIX)) candidates.push({ kind: 'page', page: pageFromSk(sk) });
      }
      startKey = page.last;
      if (candidates.length >= limit) return !startKey;
    } while (startKey);
    return true;
  };
  let complete = await read(roomFrom(type, start), ROOM_END);
  if (complete && start > 0n && candidates.length < limit) complete = await read(roomFrom(type, 0n), roomFrom(type, start));
  return { candidates, complete: complete && candidates.length < limit };
}

/**
 * Indexes (into the layout) of a page's segments that count, are auto_assign, may have never-written
 * chunks, and whose chunks can hold a free block of 2^order values.
 */
export function virtualSegments(view: CachedPool, page: number, order = 0): number[] {
  const p = view.pages.find((x) => x.page === page);
  if (!p) return [];
  return p.segments.flatMap((s, i) => (p.virtual[i] && s.autoAssign && virtualOrder(s) >= order ? [page * SEGMENTS_PER_PAGE + i] : []));
}

/**
 * A chunk of one of the page's virtual segments, at random, weighted by their sizes, that can hold a
 * block of 2^order values when wholly free (and is not `passOver`); undefined when there is none.
 */
export function pickVirtualChunk(view: CachedPool, page: number, random: () => number, order = 0, passOver?: (chunk: number) => boolean): number | undefined {
  const segments = virtualSegments(view, page, order);
  const choices = segments.map((i) => {
    const all = view.virtualChunks.get(i) ?? range(view.layout.segments[i].firstChunk, segmentChunks(view.layout.segments[i]));
    // Only a segment's first and last chunk may hold fewer values than bits.
    const fit = order === 0 ? all : all.filter((c) => holdsBlock(view.layout.chunk(c), order));
    return passOver ? fit.filter((c) => !passOver(c)) : fit;
  });
  const total = choices.reduce((n, c) => n + c.length, 0);
  if (total === 0) return undefined;
  let k = Math.floor(random() * total);
  for (const c of choices) {
    if (k < c.length) return c[k];
    k -= c.length;
  }
  return undefined;
}

function holdsBlock(info: ChunkInfo | undefined, order: number): boolean {
  return info !== undefined && largestAlignedOrder(BigInt(info.from), BigInt(info.to)) >= order;
}

/**
 * log2 of the largest free block any chunk offers to automatic allocation, from the whole room index
 * (strongly consistent), or -1 when there is no free auto_assign value at all. A layout page's key
 * only says that a never-written chunk may exist (explicit allocations write chunks without settling
 * the page), so its segments are swept first and count only if one really is missing: this answers
 * what an exhausted block request names, which must be true.
 */
export async function largestRoom(ctx: StoreContext, view: PoolView, budget: Budget): Promise<number> {
  let best = -1;
  const pages: number[] = [];
  for await (const item of ctx.table.queryAll(
    {
      IndexName: TABLE_KEYS.roomIndex,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': poolPk(view.meta.name) },
      ConsistentRead: true,
    },
    budget,
  )) {
    const sk = String(item.sk);
    if (sk.startsWith(LAYOUT_PREFIX)) pages.push(pageFromSk(sk));
    else best = Math.max(best, decodeRoom(String(item[TABLE_KEYS.roomIndexSortKey])).order);
  }
  for (const page of pages) {
    for (const segment of virtualSegments(view.cached, page)) {
      await sweepSegment(ctx, view, segment, budget);
      if ((view.cached.virtualChunks.get(segment)?.length ?? 0) > 0) best = Math.max(best, virtualOrder(view.layout.segments[segment]));
    }
  }
  return best;
}

/**
 * The lowest chunk, by value, that the virtual segments of every page may not have written yet and
 * that can hold a block of 2^order values (and is not `passOver`), with its page (allocation_order
 * "lowest"). A segment never swept offers its first chunk, the lowest it may lack; a swept one its
 * never-written chunks as the sweep found them: chunks are never deleted, so no chunk below the lowest
 * of them can be missing now. Either may since have been written, which reading it shows. `onPages`
 * limits the look to those pages (the ones the room index lists).
 */
export function lowestVirtualChunk(
  view: CachedPool,
  order = 0,
  passOver?: (chunk: number) => boolean,
  onPages?: ReadonlySet<number>,
): { chunk: number; page: number; base: bigint } | undefined {
  let best: { chunk: number; page: number; base: bigint } | undefined;
  for (const p of view.pages) {
    if (onPages && !onPages.has(p.page)) continue;
    for (const i of virtualSegments(view, p.page, order)) {
      const s = view.layout.segments[i];
      const chunks = view.virtualChunks.get(i);
      const count = chunks ? chunks.length : segmentChunks(s);
      // Chunks of a segment rise with its values: the first that fits is its lowest.
      for (let k = 0; k < count; k++) {
        const chunk = chunks ? chunks[k] : s.firstChunk + k;
        const info = view.layout.chunk(chunk);
        if (!info || passOver?.(chunk) || (order > 0 && !holdsBlock(info, order))) continue;
        if (!best || info.base < best.base) best = { chunk, page: p.page, base: info.base };
        break;
      }
    }
  }
  return best;
}

/**
 * The lowest chunk with a free block of at least 2^order values (not `passOver`), from the room
 * index read strongly consistent from the bottom (allocation_order "lowest"), with the layout pages
 * whose keys came before it; undefined when the whole index holds none, `pages` then being every page
 * it lists. Keys sort by the chunk's first value, so the first chunk key is the lowest chunk with room.
 */
export async function lowestRoom(
  ctx: StoreContext,
  view: PoolView,
  order: number,
  budget: Budget,
  passOver?: (chunk: number) => boolean,
): Promise<{ chunk?: number; pages: number[] }> {
  const pages: number[] = [];
  let startKey: Page['last'];
  do {
    const page = await ctx.table.query(
      {
        IndexName: TABLE_KEYS.roomIndex,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': poolPk(view.meta.name) },
        ConsistentRead: true,
        // The first key is usually the one: a few more cover the pages and full-for-this-block chunks before it.
        Limit: order > 0 ? ENTRIES_PER_READ_UNIT : LOWEST_PER_QUERY,
      },
      budget,
      startKey,
    );
    for (const item of page.items) {
      const sk = String(item.sk);
      if (sk.startsWith(LAYOUT_PREFIX)) {
        pages.push(pageFromSk(sk));
        continue;
      }
      if (!sk.startsWith(CHUNK_PREFIX) || decodeRoom(String(item[TABLE_KEYS.roomIndexSortKey])).order < order) continue;
      const chunk = chunkFromSk(sk);
      if (view.layout.chunk(chunk) && !passOver?.(chunk)) return { chunk, pages };
    }
    startKey = page.last;
  } while (startKey);
  return { pages };
}

function range(first: number, count: number): number[] {
  // A lazily built list would do as well; segments have at most ~1,025 chunks.
  return Array.from({ length: count }, (_, i) => first + i);
}

/**
 * Reads which chunks of a segment exist (one query, at most ~1,025 small items). When all do, the
 * segment is settled: its page stops listing it as virtual, so the room index no longer points there.
 * Otherwise the never-written ones are cached for the next picks.
 */
export async function sweepSegment(ctx: StoreContext, view: PoolView, segment: number, budget: Budget): Promise<void> {
  const s = view.layout.segments[segment];
  const count = segmentChunks(s);
  const seen = new Set<number>();
  for await (const item of ctx.table.queryAll(
    {
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: { ':pk': poolPk(view.meta.name), ':first': chunkSk(s.firstChunk), ':last': chunkSk(s.firstChunk + count - 1) },
      ProjectionExpression: 'sk',
      ConsistentRead: true,
    },
    budget,
  )) {
    seen.add(chunkFromSk(String(item.sk)));
  }
  const missing = range(s.firstChunk, count).filter((c) => !seen.has(c));
  view.cached.virtualMisses.delete(segment);
  if (missing.length > 0) {
    view.cached.virtualChunks.set(segment, missing);
    return;
  }
  view.cached.virtualChunks.set(segment, []);
  await settleSegment(ctx, view, segment, budget);
}

/** Clears a segment's virtual flag on its page (and the page's room key with it, if none is left). */
async function settleSegment(ctx: StoreContext, view: PoolView, segment: number, budget: Budget): Promise<void> {
  const pageNo = Math.floor(segment / SEGMENTS_PER_PAGE);
  const index = segment % SEGMENTS_PER_PAGE;
  for (let attempt = 0; attempt < 3 && budget.open(); attempt++) {
    const page = await readPage(ctx, view.meta.name, pageNo, budget);
    if (!page || !page.virtual[index]) return;
    const virtual = page.virtual.map((v, i) => (i === index ? false : v));
    const after: PageItem = { ...page, virtual, room: pageRoom(view.meta.type, page.segments, virtual) };
    try {
      await ctx.table.write(pageWrite(view.meta.name, page, after), budget);
      const cachedPage = view.cached.pages.find((p) => p.page === pageNo);
      if (cachedPage) cachedPage.virtual[index] = false;
      return;
    } catch (e) {
      // Another writer changed the page (a grow, another sweep): read it again.
      if (e instanceof ConditionalCheckFailedException) continue;
      // Settling is an optimisation: a later sweep will try again.
      if (isPoolError(e, 'UNAVAILABLE')) return;
      throw e;
    }
  }
}

async function readPage(ctx: StoreContext, pool: string, page: number, budget: Budget): Promise<PageItem | undefined> {
  const item = await ctx.table.get(pageKey(pool, page), budget);
  return item ? decodePage(item) : undefined;
}
