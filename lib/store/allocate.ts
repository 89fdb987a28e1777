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
import { alignment } from '../blocks.js';
import { PoolError } from '../errors.js';
import { checkLease, leaseEnd } from '../leases.js';
import type { Allocated, AllocationRequest } from '../model.js';
import { firstHeld } from './block-search.js';
import { automaticChooser, type Claim, earlyChunk, explicitClaim, forgetChunk, noRoom } from './choose.js';
import type { StoreContext } from './context.js';
import { usedInSegments } from './counts.js';
import { getHolding, holdingAnswer, toAllocation } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import { chunkKey, itemWithKey, type Native } from './keys.js';
import { MAX_BLOCK_CHUNKS, type Piece } from './layout.js';
import { type Budget, finalCheck, Pacing } from './pacing.js';
import { closedSince, ofAnotherIncarnation, type PoolView, readPool, refusesAllocations } from './pool-view.js';
import { largestRoom } from './room-search.js';
import { blockExhausted, blockTooLarge, blockTooLargeHere, exhausted, outcomeUnknown, poolDisabled, poolNotFound, poolReplaced, undecided, unavailable, valueInUse, valueNotInPool } from './store-errors.js';
import { holdingPut, metaOpen } from './writes.js';
import { chunkBitsWrite } from './chunk-bits.js';

export async function allocate(ctx: StoreContext, req: AllocationRequest): Promise<Allocated> {
  const started = performance.now();
  const budget = ctx.budget();
  const rid = randomUUID();
  const { pool, owner } = req;
  checkLease(req.leaseSeconds);

  // One read for the definition and, when the cached layout lets us choose now, the chunk.
  const early = ctx.cache.get(pool);
  const guess = early ? earlyChunk(ctx, early, req) : undefined;
  const { view, items } = await readPool(ctx, pool, budget, guess ? [chunkKey(pool, guess.chunk)] : []);
  if (!view) throw poolNotFound(pool);
  const space = view.cached.space;
  const { layout } = view;

  const { size, value: wantedValue, pieces: wanted } = askedOf(view, req);
  if (refusesAllocations(view.meta)) return refused(ctx, view, owner, rid, wantedValue, size, budget);

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
      const takenAt = ctx.now();
      const holding: HoldingItem = { pool, type: space.type, delegate: space.delegate, owner, value: valueOf(view, pieces[0]), size: Number(size), at: takenAt.toISOString(), rid, labels: req.labels, by: req.by, expires: leaseOf(req, takenAt) };
      const creates = pieces.some((p) => claim!.items.get(p.chunk) === undefined);
      const outcome = await ctx.tx([...writes.map((w) => w.write), holdingPut(holding), ...(creates ? [metaOpen(view.meta)] : [])], budget);
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
        if (creates && outcome.items[pieces.length + 1] !== null) {
          const answer = await refusedNow(ctx, view, owner, rid, wantedValue, size, budget);
          if (answer) return answer;
          claim = undefined;
          pacing.reread();
          continue;
        }
        // The chunks as they now stand, handed back by their failed conditions: fresher than reading them again.
        pieces.forEach((p, i) => refresh(claim!.items, p.chunk, outcome.items[i]));
        if (pieces.some((p) => ofAnotherIncarnation(view, claim!.items.get(p.chunk)))) throw poolReplaced(pool);
        if (!wanted && view.meta.order === 'lowest') await pacing.contended();
        else await pacing.conflict();
      } else {
        unsure ||= outcome.kind === 'unknown';
        // Read again before choosing; a window of blocks is kept (moving on would skip its free blocks).
        if (wanted || claim.chunk !== undefined) claim = undefined;
        await pacing.failure();
      }
    }
  } catch (e) {
    // An answer decided on a fresh read (VALUE_IN_USE, RESOURCE_EXHAUSTED…) stands; a failure to get one is settled by the record.
    if (unsure && undecided(e)) return findOut(e);
    throw e;
  }
  // Every attempt failed; one may still have landed where the answer was lost: the allocation record says.
  if (unsure) return findOut();
  throw unavailable(`allocation in pool '${pool}'`);
}

/** When the lease asked for ends, counted from the attempt's time (the record's `at`: one clock reading, so it lasts exactly what was asked). */
export function leaseOf(req: AllocationRequest, at: Date): string | undefined {
  return req.leaseSeconds === undefined ? undefined : leaseEnd(at, req.leaseSeconds);
}

function parsed<T>(p: { ok: true; value: T } | { ok: false; message: string }): T {
  if (!p.ok) throw new PoolError('INVALID_ARGUMENT', p.message);
  return p.value;
}

/** What a request asks of a pool: a block's size (1: one value) and, if named, the value and its pieces. */
export interface Asked {
  size: bigint;
  value?: bigint;
  pieces?: Piece[];
}

/**
 * The request read against the pool, in the contract's order once the pool is known (a lease's length
 * first, for a batch's items, which are read with their pools): the value's and
 * the size's form for the pool's type (INVALID_ARGUMENT), a block the pool does not serve
 * (INVALID_ARGUMENT), then VALUE_NOT_IN_POOL. Pure.
 */
export function askedOf(view: PoolView, req: AllocationRequest): Asked {
  const pool = view.meta.name;
  const space = view.cached.space;
  const { layout } = view;
  checkLease(req.leaseSeconds);
  const size = parsed(req.size ? req.size(space) : { ok: true, value: 1n });
  const largest = layout.maxBlockSize();
  if (size > largest) throw blockTooLarge(pool, space, size, largest);
  if (!req.value) return { size };
  const value = parsed(req.value(space));
  if (size > 1n) parsed(alignment(space, value, size));
  const pieces = layout.pieces(value, size);
  if (!pieces) throw valueNotInPool(pool, space, value, Number(size));
  if (pieces.length > MAX_BLOCK_CHUNKS) throw blockTooLargeHere(pool, space, value, size, BigInt(MAX_BLOCK_CHUNKS * layout.segments[layout.segmentIndexOf(value)].chunkBits), largest);
  return { size, value, pieces };
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
  return chunkBitsWrite(ctx, view, p.chunk, before, [p], true);
}

function answerHolding(ctx: StoreContext, held: HoldingItem, rid: string, wanted: bigint | undefined, size: bigint, started: number): Allocated {
  const answer = holdingAnswer(held, rid, wanted, size);
  if (answer.created) ctx.events.allocated?.(held.pool, performance.now() - started);
  return answer;
}

/** No auto_assign value (block) is free: exhausted, unless the owner already holds one. */
async function noFreeBlock(ctx: StoreContext, view: PoolView, owner: string, rid: string, size: bigint, largestSeen: number, budget: Budget): Promise<Allocated> {
  const pool = view.meta.name;
  const held = await getHolding(ctx, pool, owner, budget);
  if (held) return holdingAnswer(held, rid, undefined, size);
  throw await exhaustion(ctx, view, size, largestSeen, budget);
}

/**
 * RESOURCE_EXHAUSTED for a pool found to have no free auto_assign value (block) of `size`: how full
 * it is, or the largest block still free (`largestSeen`: what a block search came across, log2 or -1).
 */
export async function exhaustion(ctx: StoreContext, view: PoolView, size: bigint, largestSeen: number, budget: Budget): Promise<PoolError> {
  const pool = view.meta.name;
  ctx.events.exhausted?.(pool);
  if (size > 1n) {
    const largest = Math.max(largestSeen, await largestRoom(ctx, view, budget));
    return blockExhausted(pool, view.cached.space, size, largest < 0 ? 0n : 1n << BigInt(largest));
  }
  const autoAssignSize = Number(view.layout.autoAssignSize());
  const used = autoAssignSize + (await usedInSegments(ctx, view, (s) => !s.autoAssign, budget));
  return exhausted(pool, { size: Number(view.layout.size), used, autoAssignSize });
}

/** A pool that refuses new allocations still answers an owner what it already holds. */
async function refused(ctx: StoreContext, view: PoolView, owner: string, rid: string, wanted: bigint | undefined, size: bigint, budget: Budget): Promise<Allocated> {
  const held = await getHolding(ctx, view.meta.name, owner, budget);
  if (held) return holdingAnswer(held, rid, wanted, size);
  throw poolDisabled(view.meta.name, view.meta);
}

/**
 * The pool's definition changed under a transaction that created a chunk item: deleted, being deleted
 * (the owner's holding, if any, is still the answer), or registered again. Undefined when the pool is
 * open again: the caller tries again.
 */
async function refusedNow(ctx: StoreContext, read: PoolView, owner: string, rid: string, wanted: bigint | undefined, size: bigint, budget: Budget): Promise<Allocated | undefined> {
  const closed = await closedSince(ctx, read.meta, budget);
  if (!closed) return undefined;
  if (closed.code !== 'POOL_DISABLED') throw closed;
  const held = await getHolding(ctx, read.meta.name, owner, budget);
  if (held) return holdingAnswer(held, rid, wanted, size);
  throw closed;
}

/** The explicit value (block) is taken: by this owner (the idempotent retry), or by someone else. */
async function valueTaken(ctx: StoreContext, view: PoolView, owner: string, rid: string, value: bigint, size: bigint, taken: bigint | undefined, budget: Budget): Promise<Allocated> {
  const held = await getHolding(ctx, view.meta.name, owner, budget);
  if (held) return holdingAnswer(held, rid, value, size);
  throw valueInUse(view.meta.name, view.cached.space, value, Number(size), taken);
}
