/**
 * Releasing what an owner holds, by owner or by value (any value inside a block names the block; only
 * its owner may release it). One BatchGetItem (the pool's definition, the allocation record, and the
 * chunk when the value is named), the block's other chunks if any, then one transaction: every chunk
 * the holding covers with its values cleared, each on its version, and the record deleted on its
 * request id, so a release never deletes a newer allocation of the same owner, nor half a block. The
 * history entry `released` is written in the same transaction: only the caller knows who released,
 * and the entry can be neither lost nor written for a release that did not happen.
 */
import { randomUUID } from 'node:crypto';
import { PoolError } from '../errors.js';
import type { Allocation, HistoryEntry, ReleaseRequest } from '../model.js';
import { showValue } from '../values.js';
import { getBit } from './bitmap.js';
import { chunkBitsWrite } from './chunk-bits.js';
import type { StoreContext } from './context.js';
import { covers, getChunk, getHolding, toAllocation } from './holdings.js';
import type { Piece } from './layout.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import { chunkKey, holdingKey, itemWithKey } from './keys.js';
import { type Budget, finalCheck, Pacing } from './pacing.js';
import { type PoolView, readPool } from './pool-view.js';
import { ownerHoldsNothing, ownerMismatch, outcomeUnknown, poolNotFound, undecided, unavailable, valueNotAllocated, valueNotInPool } from './store-errors.js';
import { historyPut, holdingDelete, type Write } from './writes.js';

/** Releases the owner's holding (the one named by `value`, if given) and answers what was released. */
export async function release(ctx: StoreContext, req: ReleaseRequest): Promise<Allocation> {
  const budget = ctx.budget();
  const { pool, owner } = req;
  const holdKey = holdingKey(pool, owner);
  const named = req.value ? expectedChunk(ctx, pool, req) : undefined;
  const { view, items } = await readPool(ctx, pool, budget, named === undefined ? [holdKey] : [holdKey, chunkKey(pool, named)]);
  if (!view) throw poolNotFound(pool);
  const type = view.cached.space;

  let wanted: bigint | undefined;
  if (req.value) {
    const parsed = req.value(type);
    if (!parsed.ok) throw new PoolError('INVALID_ARGUMENT', parsed.message);
    if (!view.layout.locate(parsed.value)) throw valueNotInPool(pool, type, parsed.value);
    wanted = parsed.value;
  }

  const found = itemWithKey(items, holdKey);
  let holding: HoldingItem | undefined = found ? decodeHolding(found) : undefined;
  /** Chunks as last read: the named value's chunk was read with the definition. */
  const chunks = new Map<number, ChunkItem | undefined>();
  if (named !== undefined) {
    const item = itemWithKey(items, chunkKey(pool, named));
    chunks.set(named, item ? decodeChunk(item) : undefined);
  }
  /** An earlier attempt may have landed without our hearing of it. */
  let unsure = false;
  let released: Allocation | undefined;
  let releasedRid: string | undefined;
  /** The allocation this call read was released by another call (and the owner may hold a newer one). */
  let superseded = false;
  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  const requestId = randomUUID();
  /** Once unsure, anything that stops this call is settled by the record: gone means the release landed. */
  const findOut = async (cause?: unknown): Promise<Allocation> => {
    const still = await getHolding(ctx, pool, owner, finalCheck()).catch((e: unknown) => {
      throw outcomeUnknown(`release in pool '${pool}'`, 'answers NOT_ALLOCATED if it landed', e);
    });
    // Gone, or a newer allocation of the owner in its place: ours landed.
    if (released && (!still || still.rid !== releasedRid)) return released;
    throw unavailable(`release in pool '${pool}'`, cause);
  };

  try {
    while (pacing.more()) {
      if (!holding || (wanted !== undefined && !covers(holding, wanted))) {
        if (unsure && !holding && released) return released;
        if (superseded) throw new PoolError('NOT_ALLOCATED', `what owner '${owner}' held in pool '${pool}' when this release was sent was released by another call meanwhile; nothing was released`);
        throw await notReleasable(ctx, view, owner, wanted, budget);
      }
      released = toAllocation(holding);
      releasedRid = holding.rid;
      const pieces = view.layout.pieces(holding.value, BigInt(holding.size));
      if (!pieces) throw new PoolError('INTERNAL', `the allocation record of '${owner}' names ${showValue(type, holding.value, holding.size)}, outside pool '${pool}'; check reports it`);
      await readMissing(ctx, pool, chunks, pieces.map((p) => p.chunk), budget);
      const entry = releasedEntry(holding, { at: ctx.isoNow(), by: req.by ?? 'unknown', requestId });
      const outcome = await ctx.tx([...pieces.map((p) => clearWrite(ctx, view, p, chunks.get(p.chunk))), holdingDelete(pool, owner, holding.rid), historyPut(entry, ctx.historyDays)], budget);
      if (outcome.kind === 'ok') {
        ctx.events.released?.(pool);
        return released;
      }
      if (outcome.kind === 'conflict') {
        unsure ||= outcome.maybeLanded;
        pieces.forEach((p, i) => {
          const now = outcome.items[i];
          if (now !== null) chunks.set(p.chunk, now ? decodeChunk(now) : undefined);
        });
        const holdingNow = outcome.items[pieces.length];
        if (holdingNow !== null) {
          holding = sameAllocation(holdingNow ? decodeHolding(holdingNow) : undefined, holding.rid);
          superseded ||= !holding && holdingNow !== undefined;
        }
        await pacing.conflict();
      } else {
        unsure ||= outcome.kind === 'unknown';
        chunks.clear();
        const now = await getHolding(ctx, pool, owner, budget);
        holding = sameAllocation(now, holding.rid);
        superseded ||= !holding && now !== undefined;
        await pacing.failure();
      }
    }
  } catch (e) {
    if (unsure && released && undecided(e)) return findOut(e);
    throw e;
  }
  if (unsure && released) return findOut();
  throw unavailable(`release in pool '${pool}'`);
}

/**
 * The owner's record as it now stands, if it is still the allocation this call set out to release: a
 * newer allocation of the same owner (made after another call released this one) is never released
 * by this call, which may have been sent long before it.
 */
function sameAllocation(now: HoldingItem | undefined, rid: string): HoldingItem | undefined {
  return now && now.rid === rid ? now : undefined;
}

/** The history entry of a holding's release (or of its expiry: the lease sweeper's release). */
export function releasedEntry(h: HoldingItem, how: { at: string; by: string; requestId: string }, event: 'released' | 'expired' = 'released'): HistoryEntry {
  return { pool: h.pool, type: h.type, delegate: h.delegate, value: h.value, size: h.size, owner: h.owner, event, labels: h.labels ?? {}, ...how };
}

/** The chunks, read now (a never-written one is wholly free: undefined). */
export async function readChunks(ctx: StoreContext, pool: string, numbers: readonly number[], budget: Budget): Promise<Map<number, ChunkItem | undefined>> {
  const chunks = new Map<number, ChunkItem | undefined>();
  await readMissing(ctx, pool, chunks, numbers, budget);
  return chunks;
}

/** Reads the chunks not read yet (a never-written one is wholly free: undefined). */
export async function readMissing(ctx: StoreContext, pool: string, chunks: Map<number, ChunkItem | undefined>, wanted: readonly number[], budget: Budget): Promise<void> {
  const missing = [...new Set(wanted)].filter((c) => !chunks.has(c));
  if (missing.length === 0) return;
  for (const c of missing) chunks.set(c, undefined);
  for (const item of await ctx.table.batchGet(missing.map((c) => chunkKey(pool, c)), budget)) {
    const chunk = decodeChunk(item);
    chunks.set(chunk.chunk, chunk);
  }
}

/** The write that clears a piece's bits in its chunk (as read), with the chunk's new count and room key. */
export function clearWrite(ctx: StoreContext, view: PoolView, p: Piece, before: ChunkItem | undefined): Write {
  return chunkBitsWrite(ctx, view, p.chunk, before, [p], false).write;
}

/** The chunk of the value a release names, when the cached layout already knows the pool. */
function expectedChunk(ctx: StoreContext, pool: string, req: ReleaseRequest): number | undefined {
  const cached = ctx.cache.get(pool);
  const parsed = cached && req.value?.(cached.space);
  return parsed && parsed.ok ? cached.layout.locate(parsed.value)?.chunk : undefined;
}

/** Why (pool, owner, value) cannot be released: nothing held, or held by someone else. */
async function notReleasable(ctx: StoreContext, view: PoolView, owner: string, wanted: bigint | undefined, budget: Budget): Promise<PoolError> {
  const { name } = view.meta;
  const type = view.cached.space;
  if (wanted === undefined) return ownerHoldsNothing(name, owner);
  const pos = view.layout.locate(wanted);
  const current = pos ? await getChunk(ctx, name, pos.chunk, budget) : undefined;
  if (pos && current && getBit(current.bits, pos.bit)) return ownerMismatch(name, owner, type, wanted);
  return valueNotAllocated(name, type, wanted);
}

