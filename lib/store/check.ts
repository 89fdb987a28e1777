/**
 * `check`: recounts pools from their stored state while they are in use, and reports a disagreement
 * only when it persists once the items involved are read again.
 *
 * A pool is read in two passes, each a page at a time: its chunks segment by segment, each page of
 * chunks with the by-value index over the same values (every set bit must have exactly one record,
 * every record a set bit, each chunk its count and room key); then its allocation records shard by
 * shard (each must lie in the pool, over a set bit). Single-item rules (a count, bits past the end,
 * a room key) need no second read: one item is always read whole. Rules across items are confirmed:
 * the chunk is read again after a pause longer than the index's lag, and only if it has not changed
 * in between (same version) does the disagreement count, because no transaction could have touched
 * the record without touching the chunk.
 *
 * Every call is bounded: a few seconds, a read rate (so that a check cannot throttle allocations),
 * at most MAX_PROBLEMS listed per pool; `next_cursor` continues where it stopped.
 */
import { PoolError } from '../errors.js';
import type { CheckReport, PoolCheck } from '../model.js';
import { showValue, valueSortKey } from '../values.js';
import { getBit, popcount } from './bitmap.js';
import type { StoreContext } from './context.js';
import { covers, getHolding, recordsBelow } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding } from './items.js';
import { confirmed, ReadMeter, type Suspect } from './check-confirm.js';
import { allViews } from './counts.js';
import { chunkFromSk, chunkSk, holdingPk, OWNER_SHARDS, poolPk, SEGMENTS_PER_PAGE, TABLE_KEYS } from './keys.js';
import { type ChunkInfo, type Layout, segmentChunks } from './layout.js';
import { Budget } from './pacing.js';
import { type PoolView, readPages, readPool, trimPages } from './pool-view.js';
import { chunkRoom, pageRoom } from './room.js';
import { poolNotFound } from './store-errors.js';

export interface CheckOptions {
  pool?: string;
  /** Where the mends that the confirmed disagreements call for are collected (repair.ts). */
  repairs?: Repair[];
  cursor?: string;
  /** How long to wait before reading an item again to confirm a disagreement. @default INDEX_LAG_MS */
  indexLagMs?: number;
  /** At most this many pages (of chunks or of records) per call, besides the time bound. @default unlimited */
  pagesPerCall?: number;
}

/**
 * A mend a confirmed disagreement calls for, on the chunk as the check read it (its version is the
 * condition of the mend: a chunk changed since is not touched). Problems that no mend can settle
 * alone (a value held by two records, a record outside the pool) have none.
 */
export type Repair =
  | { pool: string; problem: string; kind: 'chunk'; chunk: number; ver: number | undefined; clear: Run[]; set: OwnedRun[] }
  | { pool: string; problem: string; kind: 'page'; page: number };

/** `count` bits of a chunk from `bit`. */
export interface Run {
  bit: number;
  count: number;
}

export interface OwnedRun extends Run {
  owner: string;
}

/** Where a check stopped: the pool, the pass and the position in it. */
interface Cursor {
  pool: string;
  pass: 'chunks' | 'records';
  /** chunks: the next chunk number; records: the next shard and where in it. */
  chunk?: number;
  shard?: number;
  after?: string;
}

const CALL_MS = 3000;
const MAX_PROBLEMS = 100;
/** Chunk items read per page. */
const CHUNKS_PER_PAGE = 200;
/** DynamoDB propagates to a global index within a second in normal operation; a confirmation waits longer than that. */
export const INDEX_LAG_MS = 1500;

export async function check(ctx: StoreContext, opts: CheckOptions = {}): Promise<CheckReport> {
  // Pages stop being read after CALL_MS; confirming what they raised may take a few seconds more.
  const budget = Budget.of(CALL_MS + 5000);
  const stopAt = Date.now() + CALL_MS;
  let pages = 0;
  const full = () => Date.now() > stopAt || pages++ >= (opts.pagesPerCall ?? Infinity);
  const lag = opts.indexLagMs ?? INDEX_LAG_MS;
  let cursor = opts.cursor ? decodeCursor(opts.cursor) : undefined;
  if (opts.pool && cursor && cursor.pool !== opts.pool) throw new PoolError('INVALID_ARGUMENT', 'query.cursor: continues a check of another pool');

  let views: PoolView[];
  if (opts.pool) {
    const { view } = await readPool(ctx, opts.pool, budget);
    if (!view) throw poolNotFound(opts.pool);
    views = [view];
  } else {
    views = await allViews(ctx, budget);
  }
  if (cursor) views = views.filter((v) => v.meta.name >= (cursor as Cursor).pool);

  const meter = new ReadMeter();
  const pools: PoolCheck[] = [];
  for (const view of views) {
    const name = view.meta.name;
    const at: Cursor = cursor?.pool === name ? cursor : { pool: name, pass: 'chunks', chunk: 0 };
    cursor = undefined;
    const result: PoolCheck = { name, ok: true, size: Number(view.layout.size), used: 0, allocations: 0, problems: [] };
    pools.push(result);
    const next = await checkPool(ctx, view, at, result, { full, lag, meter, budget, repairs: opts.repairs });
    result.ok = result.problems.length === 0;
    if (next) return { ok: pools.every((p) => p.ok), pools, next_cursor: encodeCursor(next) };
  }
  return { ok: pools.every((p) => p.ok), pools, next_cursor: null };
}

/** A repair as a pool's check finds it, before the pool and the problem are added. */
type RepairOf = { kind: 'chunk'; chunk: number; ver: number | undefined; clear: Run[]; set: OwnedRun[] } | { kind: 'page'; page: number };

type Report = (problem: string, repair?: RepairOf) => void;

interface Pass {
  repairs?: Repair[];
  /** Whether this call has done all it may: then it stops before its next page. */
  full: () => boolean;
  lag: number;
  meter: ReadMeter;
  budget: Budget;
}

/** Checks one pool from `at`; answers where to continue, or undefined when the pool is done. */
async function checkPool(ctx: StoreContext, view: PoolView, at: Cursor, out: PoolCheck, pass: Pass): Promise<Cursor | undefined> {
  const report = (problem: string, repair?: RepairOf) => {
    if (out.problems.length < MAX_PROBLEMS) out.problems.push(problem);
    else if (out.problems.length === MAX_PROBLEMS) out.problems.push('(more problems not listed: check this pool again after repairing these)');
    if (repair) pass.repairs?.push({ pool: view.meta.name, problem, ...repair } as Repair);
  };
  /** Against a layout read after the items that seemed outside it: a grow during the check is no problem. */
  const outside = async (v: bigint, size = 1): Promise<boolean> => {
    const fresh = (await readPool(ctx, view.meta.name, pass.budget)).view;
    return !fresh?.layout.pieces(v, BigInt(size));
  };
  if (at.pass === 'chunks') {
    let chunk = at.chunk ?? 0;
    // Read before the chunks: a segment settled by then has all of its chunks written, forever.
    const pages = await readPages(ctx, view.meta.name, pass.budget);
    const settled = new Set(trimPages(pages, view.layout.segments.length).flatMap((p) => p.virtual.flatMap((v, i) => (v ? [] : [p.page * SEGMENTS_PER_PAGE + i]))));
    if (chunk === 0) {
      for (const p of pages) {
        if (p.room !== pageRoom(view.cached.space, p.segments, p.virtual)) {
          report(`layout page ${p.page} has the wrong room key: never-written chunks of its segments ${p.room ? 'are looked for where there are none' : 'would never be handed out'}`, { kind: 'page', page: p.page });
        }
      }
    }
    while (chunk < view.layout.chunkCount) {
      if (pass.full()) return { pool: view.meta.name, pass: 'chunks', chunk };
      chunk = await checkChunkPage(ctx, view, chunk, out, report, pass, settled);
    }
    for await (const item of ctx.table.queryAll(
      {
        KeyConditionExpression: 'pk = :pk AND sk > :last',
        ExpressionAttributeValues: { ':pk': poolPk(view.meta.name), ':last': chunkSk(Math.max(0, view.layout.chunkCount - 1)) },
        ProjectionExpression: 'sk',
        ConsistentRead: true,
      },
      pass.budget,
    )) {
      const sk = String(item.sk);
      if (!sk.startsWith('CHUNK#') || chunkFromSk(sk) < view.layout.chunkCount) continue;
      const fresh = (await readPool(ctx, view.meta.name, pass.budget)).view;
      if (!fresh || chunkFromSk(sk) >= fresh.layout.chunkCount) report(`chunk item ${chunkFromSk(sk)} lies outside the pool's layout`);
    }
    at = { pool: view.meta.name, pass: 'records', shard: 0 };
  }
  for (let shard = at.shard ?? 0; shard < OWNER_SHARDS; shard++) {
    let after = shard === at.shard ? at.after : undefined;
    for (;;) {
      if (pass.full()) return { pool: view.meta.name, pass: 'records', shard, after };
      const page = await ctx.table.query(
        {
          KeyConditionExpression: after ? 'pk = :pk AND sk > :after' : 'pk = :pk',
          ExpressionAttributeValues: { ':pk': holdingPk(view.meta.name, shard), ...(after ? { ':after': after } : {}) },
          ConsistentRead: true,
          Limit: CHUNKS_PER_PAGE,
        },
        pass.budget,
      );
      await pass.meter.spend(page.items.length * 0.05);
      for (const item of page.items) {
        const h = decodeHolding(item);
        out.allocations++;
        if (!view.layout.pieces(h.value, BigInt(h.size)) && (await getHolding(ctx, h.pool, h.owner, pass.budget)) && (await outside(h.value, h.size))) {
          report(`owner '${h.owner}' holds ${showValue(h, h.value, h.size)}, which is not a value of the pool`);
        }
      }
      const last = page.items[page.items.length - 1];
      if (!page.last || !last) break;
      after = String(last.sk);
    }
  }
  return undefined;
}

/** Checks up to CHUNKS_PER_PAGE chunks of one segment from `first`; answers the next chunk number. */
async function checkChunkPage(
  ctx: StoreContext,
  view: PoolView,
  first: number,
  out: PoolCheck,
  report: Report,
  pass: Pass,
  settled: ReadonlySet<number>,
): Promise<number> {
  const { layout, meta } = view;
  const info = layout.chunk(first);
  if (!info) return layout.chunkCount;
  const segmentEnd = info.segment.firstChunk + segmentChunks(info.segment);
  const last = Math.min(segmentEnd, first + CHUNKS_PER_PAGE) - 1;
  const chunks = new Map<number, ChunkItem>();
  for await (const item of ctx.table.queryAll(
    {
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
      ExpressionAttributeValues: { ':pk': poolPk(meta.name), ':first': chunkSk(first), ':last': chunkSk(last) },
      ConsistentRead: true,
    },
    pass.budget,
  )) {
    const c = decodeChunk(item);
    chunks.set(c.chunk, c);
  }
  await pass.meter.spend(chunks.size * 0.05);

  // The records of every value these chunks hold, from the by-value index (eventually consistent):
  // those starting in the page, and those starting below it whose block reaches into it.
  const lo = (layout.chunk(first) ?? info).base;
  const hi = (layout.chunk(last) ?? info).base + BigInt(info.segment.chunkBits);
  const records: Covering[] = [];
  for await (const item of ctx.table.queryAll(
    {
      IndexName: TABLE_KEYS.valueIndex,
      KeyConditionExpression: 'gpk = :pk AND gsk BETWEEN :lo AND :hi',
      ExpressionAttributeValues: { ':pk': poolPk(meta.name), ':lo': valueSortKey(meta.type, lo), ':hi': valueSortKey(meta.type, hi - 1n) },
    },
    pass.budget,
  )) {
    const h = decodeHolding(item);
    records.push({ value: h.value, end: h.value + BigInt(h.size), owner: h.owner });
  }
  if (lo > 0n) for (const h of await recordsBelow(ctx, view, lo, pass.budget, false)) if (covers(h, lo)) records.push({ value: h.value, end: h.value + BigInt(h.size), owner: h.owner });
  await pass.meter.spend(records.length * 0.05);
  records.sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));

  const suspects: Suspect[] = [];
  for (let c = first; c <= last; c++) {
    const ci = layout.chunk(c);
    if (!ci) continue;
    const item = chunks.get(c);
    if (!item && settled.has(ci.segmentIndex) && ci.segment.autoAssign) {
      report(`chunk ${c} was never written although its segment is settled: its free values are never handed out`, { kind: 'page', page: Math.floor(ci.segmentIndex / SEGMENTS_PER_PAGE) });
    }
    const bits = item?.bits ?? new Uint8Array(0);
    // Retired values keep their bits set for good, without a record and outside the count.
    const retired = retiredBits(layout, ci);
    const open = retired.filter((b) => !getBit(bits, b));
    if (open.length > 0) report(`${open.length === 1 ? 'a retired value has its bit' : `${open.length} retired values have their bits`} clear in chunk ${c} (they could be handed out)`);
    const inside = popcount(bits, ci.from, ci.to);
    const set = inside - (retired.length - open.length);
    out.used += item?.used ?? 0;
    // Single-item rules: the chunk rewritten from its own bits mends them.
    const rewrite: RepairOf | undefined = item && { kind: 'chunk', chunk: c, ver: item.ver, clear: [], set: [] };
    if (popcount(bits) !== inside) report(`chunk ${c} has bits set outside the values it holds`, rewrite);
    if (item && item.used !== set) report(`chunk ${c} counts ${item.used} used but has ${set} bits set`, rewrite);
    const room = chunkRoom(meta.type, ci, bits);
    if (item && item.room !== room) {
      report(
        room
          ? `chunk ${c} has free values but is missing from the room index (they would never be handed out)`
          : `chunk ${c} is in the room index but has no free auto_assign value`,
        rewrite,
      );
    }
    suspects.push(...disagreements(ci, bits, records, new Set(retired)));
  }

  for (const s of await confirmed(ctx, view, suspects, pass)) {
    const base = layout.chunk(s.chunk)?.base ?? 0n;
    const first = base + BigInt(s.bit);
    const space = view.cached.space;
    const v = s.count === 1 ? showValue(space, first) : `${showValue(space, first)} to ${showValue(space, first + BigInt(s.count) - 1n)} (${s.count} values)`;
    const are = s.count === 1 ? 'is' : 'are';
    const run = { bit: s.bit, count: s.count };
    if (s.kind === 'unrecorded') {
      report(`${v} ${are} marked allocated but ${s.count === 1 ? 'has' : 'have'} no allocation record (leaked)`, { kind: 'chunk', chunk: s.chunk, ver: s.ver, clear: [run], set: [] });
    } else if (s.kind === 'clear') {
      report(`owner '${s.owners[0]}' holds ${v} but ${s.count === 1 ? 'its bit is' : 'their bits are'} clear (${s.count === 1 ? 'the value' : 'they'} could be handed out again)`, {
        kind: 'chunk',
        chunk: s.chunk,
        ver: s.ver,
        clear: [],
        set: [{ ...run, owner: s.owners[0] }],
      });
    }
    else report(`${v} ${are} held by ${[...s.owners].sort().map((o) => `'${o}'`).join(' and ')}`);
  }
  return last + 1;
}

/** The bits of a chunk whose values were retired from its segment. */
function retiredBits(layout: Layout, ci: ChunkInfo): number[] {
  if (!ci.segment.retired?.length) return [];
  const out: number[] = [];
  for (let b = ci.from; b < ci.to; b++) if (layout.retiredAt(ci.segmentIndex, ci.base + BigInt(b))) out.push(b);
  return out;
}

/** A record as the chunk pass sees it: the values [value, end) it covers, and whose they are. */
interface Covering {
  value: bigint;
  end: bigint;
  owner: string;
}

/**
 * Where a chunk's bits and the records covering it disagree, as runs of consecutive bits with the same
 * disagreement (a block's bits are one run, not thousands of suspects): a set bit no record covers, a
 * clear bit a record covers, a bit two records cover.
 */
export function disagreements(ci: ChunkInfo, bits: Uint8Array, records: readonly Covering[], retired: ReadonlySet<number> = new Set()): Suspect[] {
  const spanEnd = ci.base + BigInt(ci.to);
  const owners: string[][] = Array.from({ length: ci.to }, () => []);
  for (const r of records) {
    if (r.end <= ci.base + BigInt(ci.from) || r.value >= spanEnd) continue;
    const from = Number((r.value > ci.base ? r.value : ci.base) - ci.base);
    const to = Number((r.end < spanEnd ? r.end : spanEnd) - ci.base);
    for (let b = Math.max(from, ci.from); b < to; b++) owners[b].push(r.owner);
  }
  const out: Suspect[] = [];
  for (let b = ci.from; b < ci.to; b++) {
    if (retired.has(b)) continue;
    const held = owners[b];
    const isSet = getBit(bits, b);
    const kind = isSet && held.length === 0 ? 'unrecorded' : !isSet && held.length > 0 ? 'clear' : held.length > 1 ? 'double' : undefined;
    if (!kind) continue;
    const last = out[out.length - 1];
    if (last && last.kind === kind && last.bit + last.count === b && last.owners.join('\n') === held.join('\n')) last.count++;
    else out.push({ chunk: ci.chunk, bit: b, count: 1, kind, owners: [...held] });
  }
  return out;
}

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify(c)).toString('base64url');
}

function decodeCursor(text: string): Cursor {
  let c: unknown;
  try {
    c = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    c = undefined;
  }
  const x = c as Partial<Cursor> | null;
  const count = (n: unknown, max: number) => n === undefined || (Number.isInteger(n) && (n as number) >= 0 && (n as number) < max);
  const ok =
    typeof x === 'object' &&
    x !== null &&
    typeof x.pool === 'string' &&
    (x.pass === 'chunks' || x.pass === 'records') &&
    count(x.chunk, 2 ** 31) &&
    count(x.shard, OWNER_SHARDS) &&
    (x.after === undefined || typeof x.after === 'string');
  if (!ok) throw new PoolError('INVALID_ARGUMENT', 'query.cursor: not a cursor this service gave; pass next_cursor exactly as it came');
  return c as Cursor;
}
