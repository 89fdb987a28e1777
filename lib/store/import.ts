/**
 * Import: adopts up to 1,000 allocations that exist outside the service (a NICo database, NetBox, a
 * spreadsheet) into a registered pool, all or nothing. Each item is created as an explicit
 * allocation would create it (its bits and its record), keeping `allocated_at` when given; an item
 * the same owner already holds is `unchanged`; any conflict (a value held by another owner, an owner
 * holding another value, a value outside the pool) rejects the whole call with `details` per item,
 * and nothing changes.
 *
 * Everything is read and judged first. The items are then written in transactions of up to 100
 * items each (their chunks, merged, and their records), in value order. A transaction whose
 * condition fails because an allocation took one of its values (or owners) meanwhile undoes the
 * transactions already written (each record released on its request id) and the call fails as if
 * that conflict had been found first. Records carry an import mark, so their history entry (derived
 * from the table's stream) says `imported`.
 */
import { randomUUID } from 'node:crypto';
import { batchFailed, type ItemFailure, PoolError } from '../errors.js';
import { type AllocationRequest, type ImportResult, MAX_IMPORT_ITEMS } from '../model.js';
import { type Asked, askedOf } from './allocate.js';
import { MAX_TRANSACTION_ITEMS } from './batch.js';
import { firstHeld, piecesFree } from './block-search.js';
import { chunkBitsWrite } from './chunk-bits.js';
import type { StoreContext } from './context.js';
import { holdingAnswer } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import { holdingKey, itemWithKey } from './keys.js';
import type { Piece } from './layout.js';
import { closedSince, ofAnotherIncarnation, type PoolView, readPool } from './pool-view.js';
import { readChunks, release } from './release.js';
import { poolDisabled, poolNotFound, poolReplaced, valueInUse } from './store-errors.js';
import { holdingPut, metaOpen, type Write } from './writes.js';

/** An item to import: an explicit allocation, and when it was made. */
export interface ImportItem extends AllocationRequest {
  /** ISO time the allocation was made outside; the import's time when absent. */
  allocatedAt?: string;
}

interface Planned {
  index: number;
  item: ImportItem;
  asked: Asked & { value: bigint; pieces: Piece[] };
}

const NOTHING = 'nothing was imported';

export async function importAllocations(ctx: StoreContext, pool: string, items: readonly ImportItem[], opts: { dryRun?: boolean; by?: string } = {}): Promise<ImportResult> {
  if (items.length === 0 || items.length > MAX_IMPORT_ITEMS) {
    throw new PoolError('INVALID_ARGUMENT', `an import takes 1-${MAX_IMPORT_ITEMS} allocations; got ${items.length} (split a larger file: the CLI sends it ${MAX_IMPORT_ITEMS} at a time)`);
  }
  const budget = ctx.budget();
  const { view: read } = await readPool(ctx, pool, budget);
  if (!read) throw poolNotFound(pool);
  const view: PoolView = read;
  // A disabled pool takes imports (that is how a paused site is adopted); one being deleted does not.
  if (view.meta.deleting) throw poolDisabled(pool, view.meta);

  const failures: ItemFailure[] = [];
  const planned: Planned[] = [];
  const owners = new Map<string, number>();
  items.forEach((item, index) => {
    try {
      const asked = askedOf(view, item);
      if (asked.value === undefined || !asked.pieces) throw new PoolError('INVALID_ARGUMENT', 'an imported allocation names its value');
      const earlier = owners.get(item.owner);
      if (earlier !== undefined) throw new PoolError('INVALID_ARGUMENT', `owner '${item.owner}' is also item ${earlier}'s: an owner holds one allocation per pool`);
      owners.set(item.owner, index);
      planned.push({ index, item, asked: asked as Planned['asked'] });
    } catch (e) {
      if (!(e instanceof PoolError)) throw e;
      failures.push({ index, error: e });
    }
  });
  overlapsWithin(planned, failures);

  const rid = randomUUID();
  const holdings = await readRecords(ctx, pool, planned, budget);
  const chunks = await readChunks(ctx, pool, chunksOf(planned), budget);
  const fresh = judge(view, planned, holdings, chunks, rid, failures);
  if (failures.length > 0) throw batchFailed(failures, NOTHING);
  const result = { imported: fresh.length, unchanged: planned.length - fresh.length };
  if (opts.dryRun || fresh.length === 0) return result;

  const at = ctx.isoNow();
  const written: HoldingItem[] = [];
  /** Why the import stops: the first failure any group met. */
  let stop: PoolError | undefined;

  /** Writes one group, retrying what moved under it while it still holds; the reason to stop if not. */
  async function writeGroup(group: Planned[]): Promise<PoolError | undefined> {
    for (;;) {
      if (stop) return undefined;
      const records = group.map((p) => recordOf(view, p, rid, at, opts.by));
      const writes = groupWrites(ctx, view, group, chunks);
      const outcome = await ctx.tx([...writes.map((w) => w.write), ...records.map(holdingPut)], budget);
      if (outcome.kind === 'ok') {
        written.push(...records);
        for (const w of writes) if (w.after) chunks.set(w.chunk, w.after);
        return undefined;
      }
      if (outcome.kind === 'conflict' && writes.some((w, i) => !w.after && outcome.items[i] !== null)) {
        // The pool went, or began to go, under the import (or a deletion was undone: try again).
        const closed = await closedSince(ctx, view.meta, budget);
        if (closed) return closed;
      }
      if (outcome.kind === 'conflict') {
        // The chunks and records as they now stand: what moved decides whether the import still holds.
        writes.forEach((w, i) => {
          const now = outcome.items[i];
          if (now !== null && w.after) chunks.set(w.chunk, now ? decodeChunk(now) : undefined);
        });
        if (writes.some((w) => ofAnotherIncarnation(view, chunks.get(w.chunk)))) return poolReplaced(pool);
        const moved = new Map<string, HoldingItem>();
        group.forEach((p, i) => {
          const now = outcome.items[writes.length + i];
          if (now) moved.set(p.item.owner, decodeHolding(now));
        });
        const taken: ItemFailure[] = [];
        const still = judge(view, group, moved, chunks, rid, taken);
        if (taken.length > 0) return batchFailed(taken, NOTHING);
        if (still.length < group.length) return batchFailed(group.filter((p) => !still.includes(p)).map((p) => ({ index: p.index, error: ownerTaken(view, p) })), NOTHING);
        continue;
      }
      // Busy, or the answer lost: the group's records say whether it landed; its chunks are read again either way.
      for (const [c, item] of await readChunks(ctx, pool, chunksOf(group), budget)) chunks.set(c, item);
      const now = await readRecords(ctx, pool, group, budget);
      if (group.every((p) => now.get(p.item.owner)?.rid === rid)) {
        written.push(...records);
        return undefined;
      }
      if (!budget.open()) return new PoolError('UNAVAILABLE', `import into pool '${pool}' did not complete in time; ${NOTHING}, retry shortly`, { retryAfterSeconds: 1 });
    }
  }

  // Groups that share no chunk are written in parallel; one that shares a chunk with an earlier group waits for it.
  const groups = transactions(fresh);
  const done: Promise<void>[] = [];
  const running = new Set<Promise<void>>();
  for (const [i, group] of groups.entries()) {
    const mine = new Set(group.flatMap((p) => p.asked.pieces.map((x) => x.chunk)));
    const after = groups.slice(0, i).flatMap((g, j) => (g.some((p) => p.asked.pieces.some((x) => mine.has(x.chunk))) ? [done[j]] : []));
    while (running.size >= GROUPS_AT_ONCE) await Promise.race(running);
    const task = Promise.all(after)
      .then(() => writeGroup(group))
      .then((failure) => {
        stop ??= failure;
      });
    const tracked = task.finally(() => running.delete(tracked));
    running.add(tracked);
    done.push(task);
  }
  const settled = await Promise.allSettled(done);
  const crashed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (stop || crashed) {
    await undo(ctx, pool, written, opts.by);
    throw stop ?? crashed?.reason;
  }
  return result;
}

/** Transactions of one import in flight at once. */
const GROUPS_AT_ONCE = 4;

/** The chunks the items' values lie in. */
function chunksOf(planned: readonly Planned[]): number[] {
  return [...new Set(planned.flatMap((p) => p.asked.pieces.map((x) => x.chunk)))];
}

/** Items whose values overlap an earlier item's: a file that names one value twice is wrong. */
function overlapsWithin(planned: Planned[], failures: ItemFailure[]): void {
  const sorted = [...planned].sort((a, b) => (a.asked.value < b.asked.value ? -1 : a.asked.value > b.asked.value ? 1 : a.index - b.index));
  for (let i = 1; i < sorted.length; i++) {
    const before = sorted[i - 1];
    const p = sorted[i];
    if (p.asked.value < before.asked.value + before.asked.size) {
      const [first, second] = before.index < p.index ? [before, p] : [p, before];
      failures.push({ index: second.index, error: new PoolError('INVALID_ARGUMENT', `its value overlaps item ${first.index}'s: a value is held by one owner`) });
    }
  }
  const bad = new Set(failures.map((f) => f.index));
  planned.splice(0, planned.length, ...planned.filter((p) => !bad.has(p.index)));
}

async function readRecords(ctx: StoreContext, pool: string, planned: readonly Planned[], budget: ReturnType<StoreContext['budget']>): Promise<Map<string, HoldingItem>> {
  const keys = planned.map((p) => holdingKey(pool, p.item.owner));
  const got = await ctx.table.batchGet(keys, budget);
  return new Map(planned.flatMap((p) => {
    const item = itemWithKey(got, holdingKey(pool, p.item.owner));
    return item ? [[p.item.owner, decodeHolding(item)]] : [];
  }));
}

/**
 * The items to write: those whose owner holds nothing yet and whose values are free. An owner that
 * already holds exactly the item is unchanged; holding anything else, or a value held, is a failure.
 */
function judge(view: PoolView, planned: readonly Planned[], holdings: ReadonlyMap<string, HoldingItem>, chunks: ReadonlyMap<number, ChunkItem | undefined>, rid: string, failures: ItemFailure[]): Planned[] {
  const fresh: Planned[] = [];
  const pool = view.meta.name;
  for (const p of planned) {
    const held = holdings.get(p.item.owner);
    if (held) {
      try {
        holdingAnswer(held, rid, p.asked.value, p.asked.size);
      } catch (e) {
        if (!(e instanceof PoolError)) throw e;
        failures.push({ index: p.index, error: e });
      }
      continue;
    }
    if (!piecesFree(chunks, p.asked.pieces)) {
      failures.push({ index: p.index, error: valueInUse(pool, view.cached.space, p.asked.value, Number(p.asked.size), firstHeld(view.layout, chunks, p.asked.pieces)) });
      continue;
    }
    fresh.push(p);
  }
  return fresh;
}

function ownerTaken(view: PoolView, p: Planned): PoolError {
  return new PoolError('OWNER_CONFLICT', `owner '${p.item.owner}' was given a value in pool '${view.meta.name}' while the import ran`);
}

/** Items in value order, cut into groups whose chunks and records fit one transaction (with its definition check). */
function transactions(fresh: readonly Planned[]): Planned[][] {
  const sorted = [...fresh].sort((a, b) => (a.asked.value < b.asked.value ? -1 : 1));
  const out: Planned[][] = [];
  let group: Planned[] = [];
  let chunks = new Set<number>();
  for (const p of sorted) {
    const more = new Set([...chunks, ...p.asked.pieces.map((x) => x.chunk)]);
    if (group.length > 0 && more.size + group.length + 1 + 1 > MAX_TRANSACTION_ITEMS) {
      out.push(group);
      group = [];
      chunks = new Set(p.asked.pieces.map((x) => x.chunk));
    } else {
      chunks = more;
    }
    group.push(p);
  }
  if (group.length > 0) out.push(group);
  return out;
}

/** One write per chunk the group takes bits in (and, when it creates a chunk item, the definition check). */
function groupWrites(ctx: StoreContext, view: PoolView, group: readonly Planned[], chunks: ReadonlyMap<number, ChunkItem | undefined>) {
  const byChunk = new Map<number, Piece[]>();
  for (const p of group) for (const piece of p.asked.pieces) byChunk.set(piece.chunk, [...(byChunk.get(piece.chunk) ?? []), piece]);
  /** `after`: the chunk as written; absent for the definition check. */
  const out: { chunk: number; write: Write; after?: ChunkItem }[] = [];
  let creates = false;
  for (const [chunk, pieces] of byChunk) {
    const before = chunks.get(chunk);
    creates ||= before === undefined;
    const w = chunkBitsWrite(ctx, view, chunk, before, pieces, true);
    out.push({ chunk, write: w.write, after: w.after });
  }
  if (creates) out.push({ chunk: -1, write: metaOpen(view.meta) });
  return out;
}

function recordOf(view: PoolView, p: Planned, rid: string, at: string, by?: string): HoldingItem {
  const space = view.cached.space;
  return {
    pool: view.meta.name,
    type: space.type,
    delegate: space.delegate,
    owner: p.item.owner,
    value: p.asked.value,
    size: Number(p.asked.size),
    at: p.item.allocatedAt ?? at,
    rid,
    labels: p.item.labels,
    by: by ?? p.item.by,
    importedAt: at,
  };
}

/** Releases what an import wrote before it found a conflict: each record on its own request id. */
async function undo(ctx: StoreContext, pool: string, written: readonly HoldingItem[], by?: string): Promise<void> {
  // Naming the value: a record of the owner that is not the import's is never released.
  for (const h of written) await release(ctx, { pool, owner: h.owner, value: () => ({ ok: true, value: h.value }), by: by ?? 'import' }).catch(() => undefined);
}
