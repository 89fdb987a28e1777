/**
 * Allocating one value for (pool, owner): a random free auto_assign value, or exactly the value asked
 * for. The happy path is one BatchGetItem (the pool's definition and the chunk chosen from the cached
 * layout) and one transaction of two items: the chunk on its version (or its absence) and the
 * allocation record on its absence. The owner is not read first: when it already holds a value, the
 * record's condition fails and hands the holding back.
 */
import { randomUUID } from 'node:crypto';
import { PoolError } from '../errors.js';
import type { Allocated, AllocationRequest } from '../model.js';
import { emptyBitmap, getBit, randomClearBit, withBit } from './bitmap.js';
import type { StoreContext } from './context.js';
import { getChunk, getHolding, holdingAnswer, toAllocation } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import { chunkKey, itemWithKey } from './keys.js';
import type { Position } from './layout.js';
import { type Budget, finalCheck, Pacing } from './pacing.js';
import { type CachedPool, CANDIDATES_TTL_MS, type Candidate } from './pool-cache.js';
import { type PoolView, readPool } from './pool-view.js';
import { chunkRoom } from './room.js';
import { findCandidates, pickVirtualChunk, sweepSegment } from './room-search.js';
import { exhausted, outcomeUnknown, poolNotFound, unavailable, valueInUse, valueNotInPool } from './store-errors.js';
import { usedInSegments } from './counts.js';
import { chunkWrite, holdingPut } from './writes.js';

/** A chunk picked to allocate from, as read, and why it was picked. */
interface Target {
  chunk: number;
  item: ChunkItem | undefined;
  from?: Candidate;
}

/** After this many picks of never-written chunks that turned out written and full, a segment is swept. */
const VIRTUAL_MISSES_BEFORE_SWEEP = 2;

export async function allocate(ctx: StoreContext, req: AllocationRequest): Promise<Allocated> {
  const started = performance.now();
  const budget = ctx.budget();
  const rid = randomUUID();
  const { pool, owner } = req;

  // One read for the definition and, when the cached layout lets us choose now, the chunk.
  const cached = ctx.cache.get(pool);
  let guess: Target | undefined;
  if (cached && req.value) {
    const parsed = req.value(cached.space);
    const pos = parsed.ok ? cached.layout.locate(parsed.value) : undefined;
    if (pos) guess = { chunk: pos.chunk, item: undefined };
  } else if (cached) {
    guess = pickFromCache(ctx, cached);
  }
  const { view, items } = await readPool(ctx, pool, budget, guess ? [chunkKey(pool, guess.chunk)] : []);
  if (!view) throw poolNotFound(pool);
  const type = view.cached.space;

  let wanted: Position | undefined;
  let wantedValue: bigint | undefined;
  if (req.value) {
    const parsed = req.value(type);
    if (!parsed.ok) throw new PoolError('INVALID_ARGUMENT', parsed.message);
    wantedValue = parsed.value;
    wanted = view.layout.locate(parsed.value);
    if (!wanted) throw valueNotInPool(pool, type, parsed.value);
  }

  let target: Target | undefined;
  if (guess && view.layout.chunk(guess.chunk) && (!wanted || wanted.chunk === guess.chunk)) {
    const item = itemWithKey(items, chunkKey(pool, guess.chunk));
    target = { ...guess, item: item ? decodeChunk(item) : undefined };
  }
  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  /** A send whose answer was lost may have landed: the allocation record must be asked before answering UNAVAILABLE. */
  let unsure = false;
  /** Once unsure, anything that stops this call (a read that fails, the budget) is settled by the record. */
  const findOut = async (cause?: unknown): Promise<Allocated> => {
    const held = await getHolding(ctx, pool, owner, finalCheck()).catch((e: unknown) => {
      throw outcomeUnknown(`allocation in pool '${pool}'`, 'with the same owner answers what it holds', e);
    });
    if (held) return answerHolding(ctx, held, rid, wantedValue, started);
    throw unavailable(`allocation in pool '${pool}'`, cause);
  };

  try {
    while (pacing.more()) {
      if (!target) {
        if (wanted) target = { chunk: wanted.chunk, item: await getChunk(ctx, pool, wanted.chunk, budget) };
        else {
          const chosen = await chooseChunk(ctx, view, budget);
          if (!chosen) return noFreeValue(ctx, view, owner, rid, budget);
          target = chosen;
        }
      }
      const info = view.layout.chunk(target.chunk);
      if (!info) throw new PoolError('INTERNAL', `chunk ${target.chunk} lies outside pool '${pool}'`);
      const bits = target.item?.bits ?? emptyBitmap(info.segment.chunkBits);

      let bit: number;
      if (wanted) {
        bit = wanted.bit;
        if (getBit(bits, bit)) return valueTaken(ctx, view, owner, rid, info.base + BigInt(bit), budget);
      } else {
        bit = randomClearBit(bits, info.from, info.to, ctx.random);
        if (bit < 0) {
          await noRoom(ctx, view, target, budget);
          target = undefined;
          pacing.reread();
          continue;
        }
      }

      const after = withBit(bits, bit, true);
      const room = chunkRoom(type, info, after);
      const holding: HoldingItem = { pool, type: type.type, delegate: type.delegate, owner, value: info.base + BigInt(bit), size: 1, at: ctx.isoNow(), rid };
      const outcome = await ctx.tx(
        [chunkWrite(pool, target.chunk, target.item, { bits: after, used: (target.item?.used ?? 0) + 1, room, at: ctx.now().getTime() }), holdingPut(holding)],
        budget,
      );
      if (outcome.kind === 'ok') {
        // This allocation took the chunk's last free value: no need to find that out by reading it again.
        if (!room) forgetChunk(view.cached, target.chunk);
        ctx.events.allocated?.(pool, performance.now() - started);
        return { allocation: toAllocation(holding), created: true };
      }
      if (outcome.kind === 'conflict') {
        unsure ||= outcome.maybeLanded;
        const [chunkNow, holdingNow] = outcome.items;
        if (holdingNow) return answerHolding(ctx, decodeHolding(holdingNow), rid, wantedValue, started);
        // The chunk as it now stands, handed back by its failed condition: fresher than reading it again.
        if (chunkNow !== null) target = { ...target, item: chunkNow ? decodeChunk(chunkNow) : undefined };
        await pacing.conflict();
      } else {
        unsure ||= outcome.kind === 'unknown';
        target = undefined;
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

function answerHolding(ctx: StoreContext, held: HoldingItem, rid: string, wanted: bigint | undefined, started: number): Allocated {
  const answer = holdingAnswer(held, rid, wanted);
  if (answer.created) ctx.events.allocated?.(held.pool, performance.now() - started);
  return answer;
}

/** A chunk to try first, from the cache alone (no read): a candidate, or a never-written chunk of a virtual page. */
function pickFromCache(ctx: StoreContext, cached: CachedPool): Target | undefined {
  if (cached.candidates.length === 0 || Date.now() - cached.candidatesAt > CANDIDATES_TTL_MS) return undefined;
  const from = cached.candidates[Math.floor(ctx.random() * cached.candidates.length)];
  if (from.kind === 'chunk') return from.chunk < cached.layout.chunkCount ? { chunk: from.chunk, item: undefined, from } : undefined;
  const chunk = pickVirtualChunk(cached, from.page, ctx.random);
  return chunk === undefined ? undefined : { chunk, item: undefined, from };
}

/**
 * A chunk that may have a free auto_assign value, read fresh, or undefined when the room index (read
 * strongly consistent in this call, and whole) shows there is none. The container's candidates are
 * tried first; then the index from two random places; then the whole index.
 */
async function chooseChunk(ctx: StoreContext, view: PoolView, budget: Budget): Promise<Target | undefined> {
  const cached = view.cached;
  for (let look = 0; look < 3; look++) {
    let list: Candidate[];
    let complete = false;
    const fresh = cached.candidates.length > 0 && Date.now() - cached.candidatesAt <= CANDIDATES_TTL_MS;
    if (look === 0 && fresh) {
      list = [...cached.candidates];
    } else {
      const found = await findCandidates(ctx, view, 0, budget, 'random', look === 2 ? Infinity : undefined);
      ({ complete } = found);
      list = [...found.candidates];
      cached.candidates = found.candidates;
      cached.candidatesAt = Date.now();
    }
    while (list.length > 0) {
      const i = Math.floor(ctx.random() * list.length);
      const from = list[i];
      const chunk = from.kind === 'chunk' ? (view.layout.chunk(from.chunk) ? from.chunk : undefined) : pickVirtualChunk(cached, from.page, ctx.random);
      if (chunk !== undefined) return { chunk, item: await getChunk(ctx, view.meta.name, chunk, budget), from };
      // Points at segments that do not count (yet), or at never-written chunks that are all written now.
      list.splice(i, 1);
      cached.candidates = cached.candidates.filter((c) => c !== from);
    }
    if (complete) return undefined;
  }
  return undefined;
}

/** The chunk read has no free auto_assign value: forget the hint that led there. */
async function noRoom(ctx: StoreContext, view: PoolView, target: Target, budget: Budget): Promise<void> {
  const cached = view.cached;
  const from = target.from;
  if (from?.kind === 'chunk' || !from) return forgetChunk(cached, target.chunk);
  const segment = view.layout.chunk(target.chunk)?.segmentIndex;
  if (segment === undefined) return;
  const known = cached.virtualChunks.get(segment)?.filter((c) => c !== target.chunk);
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

/** No auto_assign chunk has a free value: exhausted, unless the owner already holds one. */
async function noFreeValue(ctx: StoreContext, view: PoolView, owner: string, rid: string, budget: Budget): Promise<Allocated> {
  const pool = view.meta.name;
  const held = await getHolding(ctx, pool, owner, budget);
  if (held) return holdingAnswer(held, rid, undefined);
  ctx.events.exhausted?.(pool);
  const autoAssignSize = Number(view.layout.autoAssignSize());
  const used = autoAssignSize + (await usedInSegments(ctx, view, (s) => !s.autoAssign, budget));
  throw exhausted(pool, { size: Number(view.layout.size), used, autoAssignSize });
}

/** The explicit value is taken: by this owner (the idempotent retry), or by someone else. */
async function valueTaken(ctx: StoreContext, view: PoolView, owner: string, rid: string, value: bigint, budget: Budget): Promise<Allocated> {
  const held = await getHolding(ctx, view.meta.name, owner, budget);
  if (held) return holdingAnswer(held, rid, value);
  throw valueInUse(view.meta.name, view.cached.space, value);
}
