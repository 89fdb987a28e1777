/**
 * Choosing what an allocation takes: the chunks to read and, from them as they stand, the pieces of
 * one value or block. An explicit value (block) is its own chunks; otherwise a chunk with room from the
 * container's candidates or the room index, then (for blocks larger than a chunk) windows of whole
 * chunks. The container's cache of places with room is kept here: forgotten when a place turns out
 * full, swept when never-written chunks keep turning out written.
 *
 * A pool's allocation order decides the choices: "random" picks places, bits and windows at random
 * (spreading concurrent callers over the pool); "lowest" takes the lowest chunk with room (the room
 * index from the bottom, or the lowest never-written chunk), its lowest free bit or aligned run, and
 * windows from the bottom, so that each allocation takes the lowest free value as it stands when its
 * write lands.
 */
import { log2 } from '../blocks.js';
import type { AllocationRequest } from '../model.js';
import { emptyBitmap, freeAlignedRuns, lowestClearBit, randomClearBit } from './bitmap.js';
import { BlockSearch, type BlockWindow, largestFreeInWindow, piecesFree } from './block-search.js';
import type { StoreContext } from './context.js';
import { type ChunkItem, decodeChunk } from './items.js';
import { chunkKey } from './keys.js';
import type { Piece } from './layout.js';
import type { Budget } from './pacing.js';
import { type CachedPool, CANDIDATES_TTL_MS, type Candidate } from './pool-cache.js';
import type { PoolView } from './pool-view.js';
import { findCandidates, lowestRoom, lowestVirtualChunk, pickVirtualChunk, sweepSegment } from './room-search.js';

/**
 * Chunks read for one attempt, and how to choose what to take from them as they now stand (after a
 * failed condition, the chunks it handed back replace those read): the pieces of one value or block,
 * or undefined when they hold no room for it (an explicit one: it is taken).
 */
export interface Claim {
  items: Map<number, ChunkItem | undefined>;
  pick(): Piece[] | undefined;
  /** The hint that led to a single chunk, forgotten when the chunk turns out to have no room. */
  from?: Candidate;
  chunk?: number;
}

/** After this many picks of never-written chunks that turned out written and full, a segment is swept. */
const VIRTUAL_MISSES_BEFORE_SWEEP = 2;

/** A chunk to read with the definition, from the cache alone: the explicit value's, or a candidate for a single value. */
export function earlyChunk(ctx: StoreContext, cached: CachedPool, req: AllocationRequest): { chunk: number; from?: Candidate } | undefined {
  if (req.value) {
    const v = req.value(cached.space);
    const pos = v.ok ? cached.layout.locate(v.value) : undefined;
    return pos && { chunk: pos.chunk };
  }
  if (req.size) {
    const size = req.size(cached.space);
    if (!size.ok || size.value !== 1n) return undefined;
  }
  // The lowest free value is whatever the room index says now: a cached place would be a guess at random.
  if (cached.order === 'lowest') return undefined;
  if (cached.candidates.length === 0 || Date.now() - cached.candidatesAt > CANDIDATES_TTL_MS) return undefined;
  const from = cached.candidates[Math.floor(ctx.random() * cached.candidates.length)];
  if (from.kind === 'chunk') return from.chunk < cached.layout.chunkCount ? { chunk: from.chunk, from } : undefined;
  const chunk = pickVirtualChunk(cached, from.page, ctx.random);
  return chunk === undefined ? undefined : { chunk, from };
}

export interface Chooser {
  /** The next claim to try, or undefined when there is certainly no free value (block) to take. */
  next(budget: Budget): Promise<Claim | undefined>;
  /** log2 of the largest free block smaller than the one asked that the search came across, or -1. */
  largestSeen(): number;
}

/** The value or block asked for: its chunks, read once (a failed condition refreshes them). */
export function explicitClaim(ctx: StoreContext, view: PoolView, pieces: Piece[], known: Map<number, ChunkItem | undefined>, budget: Budget): Chooser {
  return {
    async next() {
      const items = new Map(known);
      const missing = pieces.map((p) => p.chunk).filter((c) => !items.has(c));
      if (missing.length > 0) {
        for (const c of missing) items.set(c, undefined);
        for (const item of await ctx.table.batchGet(missing.map((c) => chunkKey(view.meta.name, c)), budget)) {
          const chunk = decodeChunk(item);
          items.set(chunk.chunk, chunk);
        }
      }
      known.clear();
      return { items, pick: () => (piecesFree(items, pieces) ? pieces : undefined) };
    },
    largestSeen: () => -1,
  };
}

/**
 * Automatic allocation: a chunk with room for 2^order values from the room index (the container's
 * candidates first, for single values); then, for a block larger than some segments' chunks, windows
 * of those segments' chunks. Undefined only when both searches saw everything.
 *
 * `skip` names chunks that have no room for this call although the index says they have: a batch
 * has taken it for its earlier items. They are passed over, and not forgotten as places with room.
 */
export function automaticChooser(
  ctx: StoreContext,
  view: PoolView,
  size: bigint,
  guess: { chunk: number; from?: Candidate } | undefined,
  known: Map<number, ChunkItem | undefined>,
  skip?: (chunk: number) => boolean,
): Chooser {
  const order = log2(size);
  const pool = view.meta.name;
  const lowest = view.meta.order === 'lowest';
  // A guess made before this call's definition was read is a random place: no use to a lowest-first pool.
  let first = guess && known.has(guess.chunk) && !lowest ? guess : undefined;
  let indexDone = !view.layout.segments.some((s) => s.autoAssign && BigInt(s.chunkBits) >= size);
  let search: BlockSearch | undefined;
  let window: BlockWindow | undefined;
  let largest = -1;
  return {
    async next(budget) {
      if (first) {
        const { chunk, from } = first;
        first = undefined;
        return chunkClaim(ctx, view, chunk, known.get(chunk), order, lowest, from);
      }
      if (!indexDone) {
        const found = lowest ? await chooseLowest(ctx, view, order, budget, skip) : await chooseChunk(ctx, view, order, budget, skip);
        if (found) return chunkClaim(ctx, view, found.chunk, await readChunk(ctx, pool, found.chunk, budget), order, lowest, found.from);
        indexDone = true;
      }
      // Lowest first: the windows from the bottom (random() = 0 starts the round at the first one).
      search ??= new BlockSearch(ctx, view, size, lowest ? () => 0 : ctx.random);
      for (;;) {
        window = await search.next(budget);
        if (!window) return undefined;
        const w = window;
        const claim: Claim = {
          items: w.items,
          pick() {
            const free = w.starts.flatMap((start) => {
              const pieces = view.layout.pieces(start, size);
              return pieces && piecesFree(w.items, pieces) ? [pieces] : [];
            });
            // The window's blocks are in value order.
            return free.length === 0 ? undefined : free[lowest ? 0 : Math.floor(ctx.random() * free.length)];
          },
        };
        if (claim.pick()) return claim;
        largest = Math.max(largest, largestFreeInWindow(view.layout, w, size));
      }
    },
    largestSeen: () => largest,
  };
}

/** A claim on one chunk: a free value, or a free aligned run of 2^order values in it, at random or the lowest. */
function chunkClaim(ctx: StoreContext, view: PoolView, chunk: number, item: ChunkItem | undefined, order: number, lowest: boolean, from?: Candidate): Claim {
  const items = new Map([[chunk, item]]);
  return {
    items,
    from,
    chunk,
    pick() {
      const info = view.layout.chunk(chunk);
      if (!info) return undefined;
      const bits = items.get(chunk)?.bits ?? emptyBitmap(info.segment.chunkBits);
      if (order === 0) {
        const bit = lowest ? lowestClearBit(bits, info.from, info.to) : randomClearBit(bits, info.from, info.to, ctx.random);
        return bit < 0 ? undefined : [{ chunk, bit, count: 1 }];
      }
      // In bit order: the first is the lowest.
      const runs = freeAlignedRuns(bits, order, info.from, info.to);
      return runs.length === 0 ? undefined : [{ chunk, bit: runs[lowest ? 0 : Math.floor(ctx.random() * runs.length)], count: 2 ** order }];
    },
  };
}

async function readChunk(ctx: StoreContext, pool: string, chunk: number, budget: Budget): Promise<ChunkItem | undefined> {
  const item = await ctx.table.get(chunkKey(pool, chunk), budget);
  return item ? decodeChunk(item) : undefined;
}

/**
 * A chunk that may have a free auto_assign block of 2^order values, or undefined when the room index
 * (read strongly consistent in this call, and whole) shows there is none. For single values the
 * container's candidates are tried first; then the index from two random places; then the whole index.
 */
async function chooseChunk(ctx: StoreContext, view: PoolView, order: number, budget: Budget, skip?: (chunk: number) => boolean): Promise<{ chunk: number; from: Candidate } | undefined> {
  const cached = view.cached;
  for (let look = 0; look < 3; look++) {
    let list: Candidate[];
    let complete = false;
    const fresh = order === 0 && cached.candidates.length > 0 && Date.now() - cached.candidatesAt <= CANDIDATES_TTL_MS;
    if (look === 0 && fresh) {
      list = [...cached.candidates];
    } else {
      const found = await findCandidates(ctx, view, order, budget, 'random', look === 2 ? Infinity : undefined);
      ({ complete } = found);
      list = [...found.candidates];
      if (order === 0) {
        cached.candidates = found.candidates;
        cached.candidatesAt = Date.now();
      }
    }
    while (list.length > 0) {
      const i = Math.floor(ctx.random() * list.length);
      const from = list[i];
      const pick = (passOver?: (chunk: number) => boolean) =>
        from.kind === 'chunk' ? (view.layout.chunk(from.chunk) && !passOver?.(from.chunk) ? from.chunk : undefined) : pickVirtualChunk(cached, from.page, ctx.random, order, passOver);
      const chunk = pick(skip);
      if (chunk !== undefined) return { chunk, from };
      list.splice(i, 1);
      // Points at segments that do not count (yet), or at never-written chunks that are all written now;
      // not a place this call merely took already.
      if (!skip || pick() === undefined) cached.candidates = cached.candidates.filter((c) => c !== from);
    }
    if (complete) return undefined;
  }
  return undefined;
}

/**
 * The lowest place that may have a free block of 2^order values (allocation_order "lowest"): the
 * lower of the first chunk the room index lists from the bottom and the lowest chunk the container
 * knows may never have been written; undefined when the index, read whole, lists neither. The
 * container's candidates are neither used nor changed: they are places found at random.
 */
async function chooseLowest(ctx: StoreContext, view: PoolView, order: number, budget: Budget, skip?: (chunk: number) => boolean): Promise<{ chunk: number; from: Candidate } | undefined> {
  const found = await lowestRoom(ctx, view, order, budget, skip);
  // Read whole, the index names every page that still has never-written chunks: only those count.
  const virtual = lowestVirtualChunk(view.cached, order, skip, found.chunk === undefined ? new Set(found.pages) : undefined);
  const base = (chunk: number) => view.layout.chunk(chunk)?.base ?? 0n;
  if (found.chunk !== undefined && (!virtual || base(found.chunk) <= virtual.base)) return { chunk: found.chunk, from: { kind: 'chunk', chunk: found.chunk } };
  if (virtual) return { chunk: virtual.chunk, from: { kind: 'page', page: virtual.page } };
  // The whole index, read in this call, lists no chunk with room, and its pages (if any) only segments
  // this container's sweeps found written through: there is nothing to take.
  return undefined;
}

/** The chunk read has no room for what is asked: forget the hint that led there. */
export async function noRoom(ctx: StoreContext, view: PoolView, claim: Claim, budget: Budget): Promise<void> {
  if (claim.chunk === undefined) return;
  const cached = view.cached;
  const { from, chunk } = claim;
  if (from?.kind === 'chunk' || !from) return forgetChunk(cached, chunk);
  const segment = view.layout.chunk(chunk)?.segmentIndex;
  if (segment === undefined) return;
  const known = cached.virtualChunks.get(segment)?.filter((c) => c !== chunk);
  if (known) cached.virtualChunks.set(segment, known);
  const misses = (cached.virtualMisses.get(segment) ?? 0) + 1;
  cached.virtualMisses.set(segment, misses);
  if (misses >= VIRTUAL_MISSES_BEFORE_SWEEP || known?.length === 0) {
    await sweepSegment(ctx, view, segment, budget);
    if (cached.virtualChunks.get(segment)?.length === 0) cached.candidates = cached.candidates.filter((c) => c !== from);
  }
}

export function forgetChunk(cached: CachedPool, chunk: number): void {
  cached.candidates = cached.candidates.filter((c) => !(c.kind === 'chunk' && c.chunk === chunk));
}
