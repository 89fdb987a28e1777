/**
 * Retiring values: taking free values out of a pool (a range registered by mistake), only if none of
 * them is held, safely next to allocations racing it.
 *
 * 1. The values' chunks are read: a value held answers VALUE_IN_USE listing the held ones, and
 *    nothing changes.
 * 2. Their bits are set in their chunks, on each chunk's version (or its absence), in transactions of
 *    up to 100 chunks: from then on no allocation can take them, whatever layout it read. An
 *    allocation that took one meanwhile fails a transaction here; the bits already set are cleared
 *    again and the answer is VALUE_IN_USE.
 * 3. One transaction records them as retired in their segments (layout pages) and moves the layout
 *    version on, so every reader's next call sees them gone: `size` shrinks, a request naming one is
 *    VALUE_NOT_IN_POOL, and they no longer count for overlap.
 *
 * The bits stay set for good (counts leave them out). Registration stays additive: a later file
 * that holds them adds them back as a new segment. A retirement stopped between 2 and 3 (a crash)
 * leaves set bits with no record, which check reports and repair clears.
 */
import { PoolError } from '../errors.js';
import type { PoolCounts, SizeInput, ValueInput } from '../model.js';
import { getBit } from './bitmap.js';
import { MAX_TRANSACTION_ITEMS } from './batch.js';
import { type ChunkBitsWrite, chunkBitsWrite } from './chunk-bits.js';
import type { StoreContext } from './context.js';
import { countsOf } from './counts.js';
import { type ChunkItem, decodeChunk, type PageItem } from './items.js';
import { SEGMENTS_PER_PAGE } from './keys.js';
import type { Piece, ValueRun } from './layout.js';
import type { Budget } from './pacing.js';
import { closedSince, ofAnotherIncarnation, type PoolView, readPages, readPool } from './pool-view.js';
import { readChunks } from './release.js';
import { poolDisabled, poolNotFound, poolReplaced, unavailable, valueNotInPool } from './store-errors.js';
import { metaGrow, metaOpen, pageWrite } from './writes.js';
import { type Parsed, showValue } from '../values.js';

/** The most chunks one retirement writes: a /16 of an IPv4 pool is 256 of 256 values. */
export const MAX_RETIRE_CHUNKS = 2000;
/** Held values a refusal lists. */
const LISTED = 100;

/** What a retirement names: ranges [start, end) and single values (or CIDR blocks), read once the pool is known. */
export interface RetireRequest {
  pool: string;
  ranges?: readonly { start: ValueInput; end: ValueInput }[];
  values?: readonly { value: ValueInput; size?: SizeInput }[];
}

export interface RetireResult {
  retired: number;
  pool: PoolCounts;
}

export async function retire(ctx: StoreContext, req: RetireRequest, opts: { dryRun?: boolean } = {}): Promise<RetireResult> {
  const { pool } = req;
  const budget = ctx.budget();
  const { view } = await readPool(ctx, pool, budget);
  if (!view) throw poolNotFound(pool);
  if (view.meta.deleting) throw poolDisabled(pool, view.meta);
  const wanted = merged(runsOf(view, req));
  if (wanted.length === 0) throw new PoolError('INVALID_ARGUMENT', 'name the values to retire: ranges, values, or both');
  const pieces: Piece[] = [];
  for (const r of wanted) {
    const p = view.layout.pieces(r.start, r.end - r.start);
    if (!p) throw notAllInPool(view, r);
    pieces.push(...p);
  }
  const byChunk = new Map<number, Piece[]>();
  for (const p of pieces) byChunk.set(p.chunk, [...(byChunk.get(p.chunk) ?? []), p]);
  if (byChunk.size > MAX_RETIRE_CHUNKS) {
    throw new PoolError('INVALID_ARGUMENT', `these values lie in ${byChunk.size} chunks of the pool's bitmap; one retirement writes at most ${MAX_RETIRE_CHUNKS}: retire them in parts`);
  }
  const count = wanted.reduce((n, r) => n + (r.end - r.start), 0n);

  const chunks = await readChunks(ctx, pool, [...byChunk.keys()], budget);
  const held = heldValues(view, byChunk, chunks);
  if (held.length > 0) throw inUse(view, held);
  if (opts.dryRun) return { retired: Number(count), pool: await countsOf(ctx, view, budget) };

  const fenced: number[] = [];
  const order = [...byChunk.keys()].sort((a, b) => a - b);
  for (let i = 0; i < order.length; ) {
    // Room for the definition check that creating a chunk item carries: a deletion must not miss it.
    const part = order.slice(i, i + MAX_TRANSACTION_ITEMS - 1);
    const creates = part.some((c) => chunks.get(c) === undefined);
    const writes = part.map((c) => fenceWrite(ctx, view, c, chunks.get(c), byChunk.get(c) as Piece[], true));
    const outcome = await ctx.tx([...writes.map((w) => w.write), ...(creates ? [metaOpen(view.meta)] : [])], budget);
    if (outcome.kind === 'conflict' && creates && outcome.items[part.length] !== null) {
      const closed = await closedSince(ctx, view.meta, budget);
      if (closed) {
        await unfence(ctx, view, fenced, byChunk, budget);
        throw closed;
      }
    }
    if (outcome.kind === 'ok') {
      for (const w of writes) chunks.set(w.chunk, w.after);
      fenced.push(...part);
      i += part.length;
      continue;
    }
    if (outcome.kind === 'conflict') {
      part.forEach((c, k) => {
        const now = outcome.items[k];
        if (now !== null) chunks.set(c, now ? decodeChunk(now) : undefined);
      });
      if (part.some((c) => ofAnotherIncarnation(view, chunks.get(c)))) {
        await unfence(ctx, view, fenced, byChunk, budget);
        throw poolReplaced(pool);
      }
      const taken = heldValues(view, new Map(part.map((c) => [c, byChunk.get(c) as Piece[]])), chunks);
      if (taken.length > 0) {
        await unfence(ctx, view, fenced, byChunk, budget);
        throw inUse(view, taken);
      }
      continue;
    }
    if (!budget.open()) {
      await unfence(ctx, view, fenced, byChunk, budget);
      throw unavailable(`retirement in pool '${pool}'`);
    }
    for (const [c, item] of await readChunks(ctx, pool, part, budget)) chunks.set(c, item);
  }

  await commit(ctx, view, wanted, budget);
  ctx.cache.forget(pool);
  const { view: now } = await readPool(ctx, pool, budget);
  if (!now) throw poolNotFound(pool);
  return { retired: Number(count), pool: await countsOf(ctx, now, budget) };
}

/** The request's ranges and values as runs of the pool's values; INVALID_ARGUMENT names the field at fault. */
function runsOf(view: PoolView, req: RetireRequest): ValueRun[] {
  const space = view.cached.space;
  const read = (field: string, p: Parsed<bigint>): bigint => {
    if (!p.ok) throw new PoolError('INVALID_ARGUMENT', `${field}: ${p.message}`);
    return p.value;
  };
  const out: ValueRun[] = [];
  (req.ranges ?? []).forEach((r, i) => {
    const start = read(`ranges[${i}].start`, r.start(space));
    const end = read(`ranges[${i}].end`, r.end(space));
    if (end <= start) throw new PoolError('INVALID_ARGUMENT', `ranges[${i}]: end must be above start (end is exclusive); got ${showValue(space, start)} to ${showValue(space, end)}`);
    out.push({ start, end });
  });
  (req.values ?? []).forEach((v, i) => {
    const start = read(`values[${i}]`, v.value(space));
    const size = v.size ? read(`values[${i}]`, v.size(space)) : 1n;
    out.push({ start, end: start + size });
  });
  return out;
}

/** Sorted, merged runs. */
function merged(runs: readonly ValueRun[]): ValueRun[] {
  const sorted = [...runs].filter((r) => r.end > r.start).sort((a, b) => (a.start < b.start ? -1 : 1));
  const out: ValueRun[] = [];
  for (const r of sorted) {
    const last = out[out.length - 1];
    if (last && r.start <= last.end) last.end = r.end > last.end ? r.end : last.end;
    else out.push({ ...r });
  }
  return out;
}

function notAllInPool(view: PoolView, r: ValueRun): PoolError {
  for (let v = r.start; v < r.end; v++) if (view.layout.segmentIndexOf(v) < 0) return valueNotInPool(view.meta.name, view.cached.space, v);
  return valueNotInPool(view.meta.name, view.cached.space, r.start, Number(r.end - r.start));
}

/** The values among the pieces whose bits are set, in value order. */
function heldValues(view: PoolView, byChunk: ReadonlyMap<number, readonly Piece[]>, chunks: ReadonlyMap<number, ChunkItem | undefined>): bigint[] {
  const out: bigint[] = [];
  for (const [c, pieces] of byChunk) {
    const bits = chunks.get(c)?.bits;
    if (!bits) continue;
    for (const p of pieces) for (let b = p.bit; b < p.bit + p.count; b++) if (getBit(bits, b)) out.push(view.layout.valueAt({ chunk: c, bit: b }) as bigint);
  }
  return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

function inUse(view: PoolView, held: readonly bigint[]): PoolError {
  const space = view.cached.space;
  const listed = held.slice(0, LISTED).map((v) => showValue(space, v));
  const more = held.length > LISTED ? ` and ${held.length - LISTED} more` : '';
  return new PoolError('VALUE_IN_USE', `${held.length === 1 ? `${listed[0]} is` : `${held.length} of these values are`} held in pool '${view.meta.name}' (${listed.join(', ')}${more}); release ${held.length === 1 ? 'it' : 'them'} first (nothing was retired)`, {
    details: { held: held.slice(0, LISTED).map((v) => (space.type === 'integer' ? Number(v) : showValue(space, v))) },
  });
}

/** The chunk with the pieces' bits set (or cleared again); its count is left alone: retired values are not used values. */
function fenceWrite(ctx: StoreContext, view: PoolView, chunk: number, before: ChunkItem | undefined, pieces: readonly Piece[], on: boolean): ChunkBitsWrite {
  return chunkBitsWrite(ctx, view, chunk, before, pieces, on, false);
}

/** Clears the bits a retirement set before it met a held value, each chunk on its version as it now stands. */
async function unfence(ctx: StoreContext, view: PoolView, fenced: readonly number[], byChunk: ReadonlyMap<number, Piece[]>, budget: Budget): Promise<void> {
  let open = [...fenced];
  for (let attempt = 0; open.length > 0 && attempt < 10; attempt++) {
    const now = await readChunks(ctx, view.meta.name, open, budget);
    const next: number[] = [];
    for (let i = 0; i < open.length; i += MAX_TRANSACTION_ITEMS) {
      const part = open.slice(i, i + MAX_TRANSACTION_ITEMS);
      const outcome = await ctx.tx(part.map((c) => fenceWrite(ctx, view, c, now.get(c), byChunk.get(c) as Piece[], false).write), budget);
      if (outcome.kind !== 'ok') next.push(...part);
    }
    open = next;
  }
  // What is left is set bits with no record: check reports them and repair clears them.
}

/** Records the runs as retired in the segments holding them, and moves the layout version on. */
async function commit(ctx: StoreContext, view: PoolView, runs: readonly ValueRun[], budget: Budget): Promise<void> {
  const pool = view.meta.name;
  for (let attempt = 0; attempt < 10; attempt++) {
    const { view: fresh } = await readPool(ctx, pool, budget);
    if (!fresh) throw poolNotFound(pool);
    const pages = await readPages(ctx, pool, budget);
    const changed = new Map<number, PageItem>();
    for (const r of runs) {
      for (let v = r.start; v < r.end; ) {
        const segment = fresh.layout.segmentIndexOf(v);
        const s = fresh.layout.segments[segment];
        // The part of the run inside this segment's stretch of values.
        const pieceEnd = [r.end, s.end, ...(s.retired ?? []).filter((x) => x.start > v).map((x) => x.start)].reduce((m, x) => (x < m ? x : m));
        const pageNo = Math.floor(segment / SEGMENTS_PER_PAGE);
        const page = changed.get(pageNo) ?? structuredPage(pages.find((p) => p.page === pageNo) as PageItem);
        const index = segment % SEGMENTS_PER_PAGE;
        const seg = page.segments[index];
        page.segments[index] = { ...seg, retired: [...(seg.retired ?? []), { start: v, end: pieceEnd }] };
        changed.set(pageNo, page);
        v = pieceEnd;
      }
    }
    const writes = [...changed.values()].map((p) => pageWrite(pool, pages.find((x) => x.page === p.page), p));
    const meta = metaGrow(fresh.meta, { lver: fresh.meta.lver + 1, nseg: fresh.meta.nseg, updatedAt: ctx.isoNow() });
    const outcome = await ctx.tx([...writes, meta], budget);
    if (outcome.kind === 'ok') return;
    if (outcome.kind === 'unknown') throw unavailable(`retirement in pool '${pool}' (its values are fenced: no one can take them; repair clears them if it did not land)`);
  }
  throw unavailable(`retirement in pool '${pool}' (a registration kept changing the pool; its values are fenced: no one can take them until repair clears them)`);
}

function structuredPage(p: PageItem): PageItem {
  return { ...p, segments: [...p.segments], virtual: [...p.virtual] };
}
