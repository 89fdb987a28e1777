/**
 * A batch of allocations, in one or several pools, all or nothing: one transaction writes every new
 * allocation record and, once per chunk, every bit the batch takes in it (a transaction may name an
 * item only once, and several items may land in one chunk). The owners' records are read with the
 * pools' definitions, one BatchGetItem per pool, in parallel; an item whose owner already holds what
 * it asks is satisfied (its record is checked, not written, in the same transaction), an owner that
 * holds something else is OWNER_CONFLICT. The rest are placed as single allocations are, explicit
 * values first, then automatic ones, each seeing what the earlier items of the batch took.
 *
 * Every record carries one request id for the whole call: a record with it was written by this call,
 * which is how an attempt whose answer was lost is recognized. Nothing is answered but every item
 * held, or an error with nothing allocated: a failed condition hands back what moved, and the batch is
 * placed again; a call that runs out of time answers UNAVAILABLE only once the records show that no
 * attempt landed.
 */
import { randomUUID } from 'node:crypto';
import { blockName } from '../blocks.js';
import { batchFailed, type ItemFailure, PoolError } from '../errors.js';
import type { AllocationRequest, BatchAllocated } from '../model.js';
import { type Asked, askedOf, exhaustion, leaseOf } from './allocate.js';
import { emptyBitmap, largestFreeOrder, withBits } from './bitmap.js';
import { MAX_TRANSACTION_ITEMS, readBatch, readHoldings } from './batch.js';
import { firstHeld, piecesFree } from './block-search.js';
import { automaticChooser, type Chooser, type Claim, forgetChunk, noRoom } from './choose.js';
import { chunkBitsWrite } from './chunk-bits.js';
import type { StoreContext } from './context.js';
import { holdingAnswer, toAllocation } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import type { Native } from './keys.js';
import type { Piece } from './layout.js';
import { finalCheck, Pacing } from './pacing.js';
import { closedSince, ofAnotherIncarnation, type PoolView, refusesAllocations } from './pool-view.js';
import { readMissing } from './release.js';
import { outcomeUnknown, poolDisabled, transactionTooLarge, undecided, unavailable, valueInUse } from './store-errors.js';
import { holdingPut, holdingStill, metaOpen, type Write } from './writes.js';

const NOTHING = 'nothing was allocated';
const WHAT = 'batch of allocations';

interface Item {
  index: number;
  req: AllocationRequest;
  view: PoolView;
  asked: Asked;
  /** The owner's record when it holds what the item asks: the item is satisfied. */
  held?: HoldingItem;
}

/** Bits the batch takes in one chunk: the chunk as read (the write's condition) and what earlier items took. */
interface Taken {
  before: ChunkItem | undefined;
  bits: Uint8Array;
  pieces: Piece[];
}

/** Automatic items of one pool and one size share a search, and the claim it is on. */
interface Group {
  chooser: Chooser;
  claim?: Claim;
  /** The search saw everything: later items of the group fail as the first did. */
  exhausted?: PoolError;
}

/** What one transaction item of an attempt is, to read its cancellation reason. */
type Part = { kind: 'chunk'; pool: string; chunk: number } | { kind: 'open'; pool: string } | { kind: 'record' | 'check'; item: Item };

export async function allocateBatch(ctx: StoreContext, reqs: readonly AllocationRequest[]): Promise<BatchAllocated> {
  const started = performance.now();
  const budget = ctx.budget();
  const rid = randomUUID();
  const read = await readBatch(ctx, reqs, budget);
  const failures: ItemFailure[] = [...read.failures];
  const items: Item[] = [];
  reqs.forEach((req, index) => {
    if (failures.some((f) => f.index === index)) return;
    const view = read.views.get(req.pool) as PoolView;
    const found = attempt(index, () => {
      const asked = askedOf(view, req);
      const held = read.holdings[index] && heldAsAsked(read.holdings[index], rid, asked);
      if (!held && refusesAllocations(view.meta)) throw poolDisabled(req.pool, view.meta);
      return { index, req, view, asked, held };
    });
    if (found) items.push(found);
  });
  /** Chunks as last read or handed back by a failed condition, by pool. */
  const known = new Map<string, Map<number, ChunkItem | undefined>>();
  const knownIn = (pool: string) => getOr(known, pool, () => new Map<number, ChunkItem | undefined>());
  /** What this attempt's plan takes, by pool and chunk. */
  let taken = new Map<string, Map<number, Taken>>();
  const groups = new Map<string, Group>();
  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  /** An attempt may have landed without our hearing of it: the records must be asked before answering an error. */
  let unsure = false;

  /** Runs a check of one item; a PoolError is that item's failure. */
  function attempt<T>(index: number, check: () => T): T | undefined {
    try {
      return check();
    } catch (e) {
      if (!(e instanceof PoolError)) throw e;
      failures.push({ index, error: e });
      return undefined;
    }
  }

  /** The chunk as the batch's plan has it: its bits with what earlier items took. */
  function takenBits(pool: string, chunk: number): Uint8Array | undefined {
    return taken.get(pool)?.get(chunk)?.bits;
  }

  /** Whether the batch took what room the chunk had for a block of 2^order: the search passes it over. */
  function full(view: PoolView, chunk: number, order: number): boolean {
    const bits = takenBits(view.meta.name, chunk);
    const info = view.layout.chunk(chunk);
    return bits !== undefined && info !== undefined && largestFreeOrder(bits, info.segment.chunkBits, info.from, info.to) < order;
  }

  function take(view: PoolView, pieces: readonly Piece[]): void {
    const pool = view.meta.name;
    const mine = getOr(taken, pool, () => new Map<number, Taken>());
    for (const p of pieces) {
      const t = getOr(mine, p.chunk, () => {
        const before = knownIn(pool).get(p.chunk);
        return { before, bits: before?.bits ?? emptyBitmap(view.layout.chunk(p.chunk)?.segment.chunkBits ?? 0), pieces: [] };
      });
      t.bits = withBits(t.bits, p.bit, p.count, true);
      t.pieces.push(p);
    }
  }

  /** The chunks of a claim as the plan has them (what earlier items took is taken), for one pick. */
  function pickAround(pool: string, claim: Claim): Piece[] | undefined {
    const saved: [number, ChunkItem | undefined][] = [];
    for (const [chunk, item] of claim.items) {
      const bits = takenBits(pool, chunk);
      if (!bits) continue;
      saved.push([chunk, item]);
      claim.items.set(chunk, { ...(item ?? { chunk, used: 0, ver: 0 }), bits });
    }
    try {
      return claim.pick();
    } finally {
      for (const [chunk, item] of saved) claim.items.set(chunk, item);
    }
  }

  /** Places every item not satisfied; what cannot be placed is a failure. */
  async function plan(): Promise<Map<Item, Piece[]>> {
    taken = new Map();
    const placed = new Map<Item, Piece[]>();
    const open = items.filter((i) => !i.held);
    const explicit = open.filter((i) => i.asked.pieces);
    // Every chunk the explicit items name, one read per pool for those not known.
    const byPool = new Map<string, number[]>();
    for (const i of explicit) getOr(byPool, i.req.pool, () => []).push(...(i.asked.pieces as Piece[]).map((p) => p.chunk));
    await Promise.all([...byPool].map(([pool, chunks]) => readMissing(ctx, pool, knownIn(pool), chunks, budget)));
    for (const item of explicit) {
      const pieces = item.asked.pieces as Piece[];
      const { view } = item;
      const pool = view.meta.name;
      const now = knownIn(pool);
      const planned = new Map(pieces.map((p) => [p.chunk, { chunk: p.chunk, used: 0, ver: 0, bits: takenBits(pool, p.chunk) ?? now.get(p.chunk)?.bits ?? emptyBitmap(0) }]));
      if (piecesFree(planned, pieces)) {
        take(view, pieces);
        placed.set(item, pieces);
        continue;
      }
      const value = item.asked.value as bigint;
      const size = item.asked.size;
      if (piecesFree(now, pieces)) {
        const other = explicit.find((o) => o.index < item.index && o.req.pool === pool && placed.has(o) && overlaps(o.asked, value, size));
        failures.push({ index: item.index, error: new PoolError('INVALID_ARGUMENT', `what it asks for overlaps what item ${other?.index ?? 'another item'} of this batch asks for in pool '${pool}'`) });
      } else {
        failures.push({ index: item.index, error: valueInUse(pool, view.cached.space, value, Number(size), firstHeld(view.layout, now, pieces)) });
      }
    }
    for (const item of open.filter((i) => !i.asked.pieces)) {
      const pieces = await placeAutomatic(item);
      if (pieces) {
        take(item.view, pieces);
        placed.set(item, pieces);
      }
    }
    return placed;
  }

  /** A free auto_assign value (block) for the item that earlier items of the batch did not take. */
  async function placeAutomatic(item: Item): Promise<Piece[] | undefined> {
    const { view } = item;
    const pool = view.meta.name;
    const { size } = item.asked;
    const order = size.toString(2).length - 1;
    const group = getOr(groups, `${pool}#${size}`, (): Group => ({ chooser: automaticChooser(ctx, view, size, undefined, new Map(), (chunk) => full(view, chunk, order)) }));
    for (let looks = 0; looks < ctx.retry.maxAttempts && budget.open(); looks++) {
      if (group.exhausted) return void failures.push({ index: item.index, error: group.exhausted });
      if (!group.claim) {
        group.claim = await group.chooser.next(budget);
        if (!group.claim) {
          group.exhausted = await exhaustedFor(item, group.chooser.largestSeen());
          return void failures.push({ index: item.index, error: group.exhausted });
        }
        for (const [chunk, state] of group.claim.items) knownIn(pool).set(chunk, state);
      } else {
        // A claim kept from an earlier attempt: its chunks as they now stand.
        for (const chunk of group.claim.items.keys()) if (knownIn(pool).has(chunk)) group.claim.items.set(chunk, knownIn(pool).get(chunk));
      }
      const pieces = pickAround(pool, group.claim);
      if (pieces) return pieces;
      // No room as read (the hint was stale): forgotten, as a single allocation forgets it. Room the batch took: passed over.
      if (!group.claim.pick()) await noRoom(ctx, view, group.claim, budget);
      group.claim = undefined;
    }
    throw unavailable(`${WHAT} (pool '${pool}')`);
  }

  async function exhaustedFor(item: Item, largestSeen: number): Promise<PoolError> {
    const { view } = item;
    const { size } = item.asked;
    if (!taken.has(view.meta.name)) return exhaustion(ctx, view, size, largestSeen, budget);
    ctx.events.exhausted?.(view.meta.name);
    const what = size === 1n ? 'value' : blockName(view.cached.space, size);
    return new PoolError('RESOURCE_EXHAUSTED', `no free auto-assignable ${what} is left in pool '${view.meta.name}' for this item: the earlier items of the batch take the last ones`);
  }

  /** Learns the owners' records as they now stand: satisfied items, OWNER_CONFLICT, items to place again. */
  function learn(item: Item, now: HoldingItem | undefined): void {
    item.held = now && attempt(item.index, () => heldAsAsked(now, rid, item.asked));
  }

  function answer(fresh: readonly HoldingItem[]): BatchAllocated {
    const ms = performance.now() - started;
    for (const h of fresh) ctx.events.allocated?.(h.pool, ms);
    // Records an earlier attempt of this call wrote (its answer was lost): created by this call all the same.
    for (const i of items) if (i.held?.rid === rid && !fresh.includes(i.held)) ctx.events.allocated?.(i.held.pool, ms);
    return { allocations: items.map((i) => toAllocation(i.held as HoldingItem)), created: items.some((i) => i.held?.rid === rid) };
  }

  /** Once unsure: the records say whether an attempt landed (our request id) and what is held. */
  const findOut = async (cause?: unknown): Promise<BatchAllocated> => {
    const now = await readHoldings(ctx, reqs, finalCheck()).catch((e: unknown) => {
      throw outcomeUnknown(WHAT, 'answers what each owner holds', e);
    });
    if (!now.some((h) => h?.rid === rid)) throw unavailable(WHAT, cause);
    for (const item of items) {
      const h = now[item.index];
      if (!h) throw outcomeUnknown(WHAT, 'answers what each owner holds', cause);
      item.held = heldAsAsked(h, rid, item.asked);
    }
    return answer([]);
  };

  if (failures.length > 0) {
    // The status is the lowest index that fails: an earlier item may fail only once placed (VALUE_IN_USE…).
    const lowest = Math.min(...failures.map((f) => f.index));
    if (items.some((i) => i.index < lowest)) await plan().catch((e: unknown) => void failureOf(e));
    throw batchFailed(failures, NOTHING);
  }
  const least = leastWrites(items);
  if (least > MAX_TRANSACTION_ITEMS) throw transactionTooLarge(least, MAX_TRANSACTION_ITEMS);

  try {
    while (pacing.more()) {
      const placed = await plan();
      if (failures.length > 0) {
        // A value taken, no room left: by these very owners, perhaps (an identical batch, a single
        // allocation of the same owner)? Their records say, as a single allocation asks before VALUE_IN_USE.
        const now = await readHoldings(ctx, reqs, budget);
        const moved = items.filter((i) => !i.held && now[i.index]);
        if (moved.length === 0) throw batchFailed(failures, NOTHING);
        failures.length = 0;
        for (const item of moved) learn(item, now[item.index]);
        if (failures.length > 0) throw batchFailed(failures, NOTHING);
        pacing.reread();
        continue;
      }
      if (placed.size === 0) return answer([]);

      const takenAt = ctx.now();
      const at = takenAt.toISOString();
      const parts: Part[] = [];
      const writes: Write[] = [];
      /** Chunks this attempt fills: no longer places with room. */
      const filled: [PoolView, number][] = [];
      for (const [pool, chunks] of taken) {
        const view = read.views.get(pool) as PoolView;
        for (const [chunk, t] of chunks) {
          const w = chunkBitsWrite(ctx, view, chunk, t.before, t.pieces, true);
          if (!w.room) filled.push([view, chunk]);
          parts.push({ kind: 'chunk', pool, chunk });
          writes.push(w.write);
        }
        if ([...chunks.values()].some((t) => t.before === undefined)) {
          parts.push({ kind: 'open', pool });
          writes.push(metaOpen(view.meta));
        }
      }
      const fresh = new Map<Item, HoldingItem>();
      for (const [item, pieces] of placed) {
        const { view, req } = item;
        const value = view.layout.valueAt(pieces[0]);
        if (value === undefined) throw new PoolError('INTERNAL', `chunk ${pieces[0].chunk} bit ${pieces[0].bit} lies outside pool '${view.meta.name}'`);
        const space = view.cached.space;
        const holding: HoldingItem = { pool: req.pool, type: space.type, delegate: space.delegate, owner: req.owner, value, size: Number(item.asked.size), at, rid, labels: req.labels, by: req.by, expires: leaseOf(req, takenAt) };
        fresh.set(item, holding);
        parts.push({ kind: 'record', item });
        writes.push(holdingPut(holding));
      }
      for (const item of items) {
        if (!item.held) continue;
        parts.push({ kind: 'check', item });
        writes.push(holdingStill(item.req.pool, item.req.owner, item.held.rid));
      }
      if (writes.length > MAX_TRANSACTION_ITEMS) throw transactionTooLarge(writes.length, MAX_TRANSACTION_ITEMS);

      const outcome = await ctx.tx(writes, budget);
      if (outcome.kind === 'ok') {
        for (const [item, holding] of fresh) item.held = holding;
        for (const [view, chunk] of filled) forgetChunk(view.cached, chunk);
        return answer([...fresh.values()]);
      }
      if (outcome.kind === 'conflict') {
        unsure ||= outcome.maybeLanded;
        const closed: string[] = [];
        outcome.items.forEach((now, i) => {
          if (now === null) return;
          const part = parts[i];
          if (part.kind === 'open') closed.push(part.pool);
          else if (part.kind === 'chunk') {
            const chunk = now ? decodeChunk(now) : undefined;
            knownIn(part.pool).set(part.chunk, chunk);
            if (ofAnotherIncarnation(read.views.get(part.pool) as PoolView, chunk)) closed.push(part.pool);
          } else learn(part.item, now ? decodeHolding(now as Native) : undefined);
        });
        for (const pool of new Set(closed)) {
          const error = await closedSince(ctx, (read.views.get(pool) as PoolView).meta, budget);
          // Open again (a deletion undone): the next attempt tries it again.
          if (!error) continue;
          for (const item of items) if (item.req.pool === pool && !item.held) failures.push({ index: item.index, error });
        }
        if (failures.length > 0) throw batchFailed(failures, NOTHING);
        // Automatic items of a lowest-first pool meet every other caller on its lowest chunk by design.
        if (items.some((i) => !i.held && !i.asked.pieces && i.view.meta.order === 'lowest')) await pacing.contended();
        else await pacing.conflict();
      } else {
        // Nothing is known to have moved, but the plan is read again, and after a lost answer the owners' records too.
        known.clear();
        for (const g of groups.values()) g.claim = undefined;
        if (outcome.kind === 'unknown') {
          unsure = true;
          const now = await readHoldings(ctx, reqs, budget);
          for (const item of items) learn(item, now[item.index]);
          if (failures.length > 0) throw batchFailed(failures, NOTHING);
        }
        await pacing.failure();
      }
    }
  } catch (e) {
    // A verdict on what was read (VALUE_IN_USE, OWNER_CONFLICT…) stands; a failure to reach one is settled by the records.
    if (unsure && undecided(e)) return findOut(e);
    throw e;
  }
  if (unsure) return findOut();
  throw unavailable(WHAT);
}

/** A placement that could not be finished (out of time): the failures found before it stand. */
function failureOf(e: unknown): void {
  if (!(e instanceof PoolError)) throw e;
}

/** The owner's record, if it is what the item asks (OWNER_CONFLICT otherwise). */
function heldAsAsked(held: HoldingItem, rid: string, asked: Asked): HoldingItem {
  holdingAnswer(held, rid, asked.value, asked.size);
  return held;
}

function overlaps(a: Asked, value: bigint, size: bigint): boolean {
  return a.value !== undefined && a.value < value + size && value < a.value + a.size;
}

/**
 * The fewest items the batch's transaction can write: a record per item not yet held, a check per
 * item held, and for each block larger than a chunk the chunks it must span at the least (smaller
 * ones may share a chunk, whose write is merged).
 */
function leastWrites(items: readonly Item[]): number {
  const open = items.filter((i) => !i.held);
  if (open.length === 0) return 0;
  return items.reduce((n, i) => {
    if (i.held) return n + 1;
    if (i.asked.pieces && i.asked.pieces.length > 1) return n + 1 + i.asked.pieces.length;
    const widest = BigInt(Math.max(...i.view.layout.segments.map((s) => s.chunkBits)));
    return n + 1 + (i.asked.size > widest ? Number(i.asked.size / widest) : 0);
  }, 0);
}

function getOr<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = make();
    map.set(key, v);
  }
  return v;
}
