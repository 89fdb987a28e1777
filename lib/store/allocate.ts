/**
 * Allocating for (pool, owner): one value or an aligned block of 2^k values, chosen at random among
 * the free auto_assign ones, or exactly the value (block) asked for. The happy path of a single value
 * is one BatchGetItem (the pool's definition and the chunk chosen from the cached layout) and one
 * transaction of two items: the chunk on its version (or its absence) and the allocation record on
 * its absence. A block writes every chunk it covers in the same transaction (at most 64, with the
 * record): all of it or nothing. The owner is not read first: when it already holds something, the
 * record's condition fails and hands the holding back.
 */
import { randomUUID } from 'node:crypto';
import { alignment, log2 } from '../blocks.js';
import { PoolError } from '../errors.js';
import type { Allocated, AllocationRequest } from '../model.js';
import { emptyBitmap, freeAlignedRuns, randomClearBit, withBits } from './bitmap.js';
import { BlockSearch, type BlockWindow, firstHeld, largestFreeInWindow, piecesFree } from './block-search.js';
import type { StoreContext } from './context.js';
import { usedInSegments } from './counts.js';
import { getHolding, holdingAnswer, toAllocation } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import { chunkKey, itemWithKey, type Native } from './keys.js';
import { MAX_BLOCK_CHUNKS, type Piece } from './layout.js';
import { type Budget, finalCheck, Pacing } from './pacing.js';
import { type CachedPool, CANDIDATES_TTL_MS, type Candidate } from './pool-cache.js';
import { type PoolView, readPool } from './pool-view.js';
import { chunkRoom } from './room.js';
import { findCandidates, largestRoom, pickVirtualChunk, sweepSegment } from './room-search.js';
import { blockExhausted, blockTooLarge, exhausted, outcomeUnknown, poolNotFound, unavailable, valueInUse, valueNotInPool } from './store-errors.js';
import { chunkWrite, holdingPut } from './writes.js';

/**
 * Chunks read for one attempt, and how to choose what to take from them as they now stand (after a
 * failed condition, the chunks it handed back replace those read): the pieces of one value or block,
 * or undefined when they hold no room for it (an explicit one: it is taken).
 */
interface Claim {
  items: Map<number, ChunkItem | undefined>;
  pick(): Piece[] | undefined;
  /** The hint that led to a single chunk, forgotten when the chunk turns out to have no room. */
  from?: Candidate;
  chunk?: number;
}

/** After this many picks of never-written chunks that turned out written and full, a segment is swept. */
const VIRTUAL_MISSES_BEFORE_SWEEP = 2;

export async function allocate(ctx: StoreContext, req: AllocationRequest): Promise<Allocated> {
  const started = performance.now();
  const budget = ctx.budget();
  const rid = randomUUID();
  const { pool, owner } = req;

  // One read for the definition and, when the cached layout lets us choose now, the chunk.
  const early = ctx.cache.get(pool);
  const guess = early ? earlyChunk(ctx, early, req) : undefined;
  const { view, items } = await readPool(ctx, pool, budget, guess ? [chunkKey(pool, guess.chunk)] : []);
  if (!view) throw poolNotFound(pool);
  const space = view.cached.space;
  const { layout } = view;

  const size = parsed(req.size ? req.size(space) : { ok: true, value: 1n });
  const largest = layout.maxBlockSize();
  if (size > largest) throw blockTooLarge(pool, space, size, largest);

  let wantedValue: bigint | undefined;
  let wanted: Piece[] | undefined;
  if (req.value) {
    wantedValue = parsed(req.value(space));
    if (size > 1n) parsed(alignment(space, wantedValue, size));
    wanted = layout.pieces(wantedValue, size);
    if (!wanted) throw valueNotInPool(pool, space, wantedValue, Number(size));
    if (wanted.length > MAX_BLOCK_CHUNKS) throw blockTooLarge(pool, space, size, BigInt(MAX_BLOCK_CHUNKS * layout.segments[layout.segmentIndexOf(wantedValue)].chunkBits));
  }

  const known = new Map<number, ChunkItem | undefined>();
  if (guess && layout.chunk(guess.chunk)) {
    const item = itemWithKey(items, chunkKey(pool, guess.chunk));
    known.set(guess.chunk, item ? decodeChunk(item) : undefined);
  }
  const choose = wanted ? explicitClaim(ctx, view, wanted, known, budget) : automaticChooser(ctx, view, size, guess, known);

  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  /** A send whose answer was lost may have landed: the allocation record must be asked before answering UNAVAILABLE. */
  let unsure = false;
  /** Once unsure, anything that stops this call (a read that fails, the budget) is settled by the record. */
  const findOut = async (cause?: unknown): Promise<Allocated> => {
    const held = await getHolding(ctx, pool, owner, finalCheck()).catch((e: unknown) => {
      throw outcomeUnknown(`allocation in pool '${pool}'`, 'with the same owner answers what it holds', e);
    });
    if (held) return answerHolding(ctx, held, rid, wantedValue, size, started);
    throw unavailable(`allocation in pool '${pool}'`, cause);
  };

  try {
    let claim: Claim | undefined;
    while (pacing.more()) {
      claim ??= await choose.next(budget);
      if (!claim) return noFreeBlock(ctx, view, owner, rid, size, choose.largestSeen(), budget);
      const pieces = claim.pick();
      if (!pieces) {
        if (wanted) return valueTaken(ctx, view, owner, rid, wantedValue as bigint, size, firstHeld(layout, claim.items, wanted), budget);
        await noRoom(ctx, view, claim, budget);
        claim = undefined;
        pacing.reread();
        continue;
      }

      const writes = pieces.map((p) => takeWrite(ctx, view, p, claim!.items.get(p.chunk)));
      const holding: HoldingItem = { pool, type: space.type, delegate: space.delegate, owner, value: valueOf(view, pieces[0]), size: Number(size), at: ctx.isoNow(), rid };
      const outcome = await ctx.tx([...writes.map((w) => w.write), holdingPut(holding)], budget);
      if (outcome.kind === 'ok') {
        // This allocation took the chunk's last free value: no need to find that out by reading it again.
        for (const w of writes) if (!w.room) forgetChunk(view.cached, w.chunk);
        ctx.events.allocated?.(pool, performance.now() - started);
        return { allocation: toAllocation(holding), created: true };
      }
      if (outcome.kind === 'conflict') {
        unsure ||= outcome.maybeLanded;
        const holdingNow = outcome.items[pieces.length];
        if (holdingNow) return answerHolding(ctx, decodeHolding(holdingNow), rid, wantedValue, size, started);
        // The chunks as they now stand, handed back by their failed conditions: fresher than reading them again.
        pieces.forEach((p, i) => refresh(claim!.items, p.chunk, outcome.items[i]));
        await pacing.conflict();
      } else {
        unsure ||= outcome.kind === 'unknown';
        // Read again before choosing; a window of blocks is kept (moving on would skip its free blocks).
        if (wanted || claim.chunk !== undefined) claim = undefined;
        await pacing.failure();
      }
    }
  } catch (e) {
    // An answer decided on a fresh read (VALUE_IN_USE, RESOURCE_EXHAUSTED…) stands; a failure to get one is settled by the record.
    if (unsure && (!(e instanceof PoolError) || e.code === 'UNAVAILABLE' || e.code === 'INTERNAL')) return findOut(e);
    throw e;
  }
  // Every attempt failed; one may still have landed where the answer was lost: the allocation record says.
  if (unsure) return findOut();
  throw unavailable(`allocation in pool '${pool}'`);
}

function parsed<T>(p: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!p.ok) throw new PoolError('INVALID_ARGUMENT', p.message);
  return p.value;
}

function refresh(items: Map<number, ChunkItem | undefined>, chunk: number, now: Native | undefined | null): void {
  if (now !== null) items.set(chunk, now ? decodeChunk(now) : undefined);
}

function valueOf(view: PoolView, p: Piece): bigint {
  const info = view.layout.chunk(p.chunk);
  if (!info) throw new PoolError('INTERNAL', `chunk ${p.chunk} lies outside pool '${view.meta.name}'`);
  return info.base + BigInt(p.bit);
}

/** The write that sets a piece's bits in its chunk (as read), with the chunk's new count and room key. */
function takeWrite(ctx: StoreContext, view: PoolView, p: Piece, before: ChunkItem | undefined) {
  const info = view.layout.chunk(p.chunk);
  if (!info) throw new PoolError('INTERNAL', `chunk ${p.chunk} lies outside pool '${view.meta.name}'`);
  const after = withBits(before?.bits ?? emptyBitmap(info.segment.chunkBits), p.bit, p.count, true);
  const room = chunkRoom(view.cached.space, info, after);
  const write = chunkWrite(view.meta.name, p.chunk, before, { bits: after, used: (before?.used ?? 0) + p.count, room, at: ctx.now().getTime() });
  return { chunk: p.chunk, room, write };
}

function answerHolding(ctx: StoreContext, held: HoldingItem, rid: string, wanted: bigint | undefined, size: bigint, started: number): Allocated {
  const answer = holdingAnswer(held, rid, wanted, size);
  if (answer.created) ctx.events.allocated?.(held.pool, performance.now() - started);
  return answer;
}

/** A chunk to read with the definition, from the cache alone: the explicit value's, or a candidate for a single value. */
function earlyChunk(ctx: StoreContext, cached: CachedPool, req: AllocationRequest): { chunk: number; from?: Candidate } | undefined {
  if (req.value) {
    const v = req.value(cached.space);
    const pos = v.ok ? cached.layout.locate(v.value) : undefined;
    return pos && { chunk: pos.chunk };
  }
  if (req.size) {
    const size = req.size(cached.space);
    if (!size.ok || size.value !== 1n) return undefined;
  }
  if (cached.candidates.length === 0 || Date.now() - cached.candidatesAt > CANDIDATES_TTL_MS) return undefined;
  const from = cached.candidates[Math.floor(ctx.random() * cached.candidates.length)];
  if (from.kind === 'chunk') return from.chunk < cached.layout.chunkCount ? { chunk: from.chunk, from } : undefined;
  const chunk = pickVirtualChunk(cached, from.page, ctx.random);
  return chunk === undefined ? undefined : { chunk, from };
}

interface Chooser {
  /** The next claim to try, or undefined when there is certainly no free value (block) to take. */
  next(budget: Budget): Promise<Claim | undefined>;
  /** log2 of the largest free block smaller than the one asked that the search came across, or -1. */
  largestSeen(): number;
}

/** The value or block asked for: its chunks, read once (a failed condition refreshes them). */
function explicitClaim(ctx: StoreContext, view: PoolView, pieces: Piece[], known: Map<number, ChunkItem | undefined>, budget: Budget): Chooser {
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
 */
function automaticChooser(ctx: StoreContext, view: PoolView, size: bigint, guess: { chunk: number; from?: Candidate } | undefined, known: Map<number, ChunkItem | undefined>): Chooser {
  const order = log2(size);
  const pool = view.meta.name;
  let first = guess && known.has(guess.chunk) ? guess : undefined;
  let indexDone = !view.layout.segments.some((s) => s.autoAssign && BigInt(s.chunkBits) >= size);
  let search: BlockSearch | undefined;
  let window: BlockWindow | undefined;
  let largest = -1;
  return {
    async next(budget) {
      if (first) {
        const { chunk, from } = first;
        first = undefined;
        return chunkClaim(ctx, view, chunk, known.get(chunk), order, from);
      }
      if (!indexDone) {
        const found = await chooseChunk(ctx, view, order, budget);
        if (found) return chunkClaim(ctx, view, found.chunk, await readChunk(ctx, pool, found.chunk, budget), order, found.from);
        indexDone = true;
      }
      search ??= new BlockSearch(ctx, view, size, ctx.random);
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
            return free.length === 0 ? undefined : free[Math.floor(ctx.random() * free.length)];
          },
        };
        if (claim.pick()) return claim;
        largest = Math.max(largest, largestFreeInWindow(view.layout, w, size));
      }
    },
    largestSeen: () => largest,
  };
}

/** A claim on one chunk: a random free value, or a random free aligned run of 2^order values in it. */
function chunkClaim(ctx: StoreContext, view: PoolView, chunk: number, item: ChunkItem | undefined, order: number, from?: Candidate): Claim {
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
        const bit = randomClearBit(bits, info.from, info.to, ctx.random);
        return bit < 0 ? undefined : [{ chunk, bit, count: 1 }];
      }
      const runs = freeAlignedRuns(bits, order, info.from, info.to);
      return runs.length === 0 ? undefined : [{ chunk, bit: runs[Math.floor(ctx.random() * runs.length)], count: 2 ** order }];
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
async function chooseChunk(ctx: StoreContext, view: PoolView, order: number, budget: Budget): Promise<{ chunk: number; from: Candidate } | undefined> {
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
      const chunk = from.kind === 'chunk' ? (view.layout.chunk(from.chunk) ? from.chunk : undefined) : pickVirtualChunk(cached, from.page, ctx.random, order);
      if (chunk !== undefined) return { chunk, from };
      // Points at segments that do not count (yet), or at never-written chunks that are all written now.
      list.splice(i, 1);
      cached.candidates = cached.candidates.filter((c) => c !== from);
    }
    if (complete) return undefined;
  }
  return undefined;
}

/** The chunk read has no room for what is asked: forget the hint that led there. */
async function noRoom(ctx: StoreContext, view: PoolView, claim: Claim, budget: Budget): Promise<void> {
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

function forgetChunk(cached: CachedPool, chunk: number): void {
  cached.candidates = cached.candidates.filter((c) => !(c.kind === 'chunk' && c.chunk === chunk));
}

/** No auto_assign value (block) is free: exhausted, unless the owner already holds one. */
async function noFreeBlock(ctx: StoreContext, view: PoolView, owner: string, rid: string, size: bigint, largestSeen: number, budget: Budget): Promise<Allocated> {
  const pool = view.meta.name;
  const held = await getHolding(ctx, pool, owner, budget);
  if (held) return holdingAnswer(held, rid, undefined, size);
  ctx.events.exhausted?.(pool);
  if (size > 1n) {
    const largest = Math.max(largestSeen, await largestRoom(ctx, view, budget));
    throw blockExhausted(pool, view.cached.space, size, largest < 0 ? 0n : 1n << BigInt(largest));
  }
  const autoAssignSize = Number(view.layout.autoAssignSize());
  const used = autoAssignSize + (await usedInSegments(ctx, view, (s) => !s.autoAssign, budget));
  throw exhausted(pool, { size: Number(view.layout.size), used, autoAssignSize });
}

/** The explicit value (block) is taken: by this owner (the idempotent retry), or by someone else. */
async function valueTaken(ctx: StoreContext, view: PoolView, owner: string, rid: string, value: bigint, size: bigint, taken: bigint | undefined, budget: Budget): Promise<Allocated> {
  const held = await getHolding(ctx, view.meta.name, owner, budget);
  if (held) return holdingAnswer(held, rid, value, size);
  throw valueInUse(view.meta.name, view.cached.space, value, Number(size), taken);
}
