/**
 * The lease sweeper: releasing allocations whose lease ran out. The lease index (`by-expiry`, sparse,
 * keys only, LEASE_SHARDS partitions sorted by expiry time) names the records whose expiry is past,
 * one Query per partition; the index trails the table, so the records are read again by key and only
 * those still past their expiry are released, each in one transaction as a release is: its chunks
 * with their bits cleared (on their versions), the record deleted on its request id, the expiry read
 * and that expiry being past (holdingExpire), and its `expired` history entry. A renewal that lands
 * first moves the expiry and the delete fails: the value stays held. A run is bounded (a number of
 * records per partition and a time budget); what it leaves, the next run finds.
 */
import { randomUUID } from 'node:crypto';
import { LEASE_SWEEPER } from '../leases.js';
import type { Allocation } from '../model.js';
import type { StoreContext } from './context.js';
import { getHolding, toAllocation } from './holdings.js';
import { type ChunkItem, decodeChunk, decodeHolding, type HoldingItem } from './items.js';
import { type ItemKey, LEASE_SHARDS, leaseShardPk, TABLE_KEYS } from './keys.js';
import { type Budget, Pacing } from './pacing.js';
import { type PoolView, readPool } from './pool-view.js';
import { clearWrite, readMissing, releasedEntry } from './release.js';
import { unavailable } from './store-errors.js';
import { historyPut, holdingExpire } from './writes.js';

/** Records a run takes from each partition of the lease index: 8 × 250 = 2,000 a run, at most. */
export const EXPIRIES_PER_SHARD = 250;
/** What one run may take in all; the Lambda's timeout leaves room above it. */
export const SWEEP_BUDGET_MS = 40_000;
/** Records released at once: each is a transaction of its own. */
const PARALLEL = 4;

export interface ExpireOptions {
  /** The time leases are judged at. @default the store's clock */
  now?: Date;
  /** Records taken from each partition of the lease index in one run. @default EXPIRIES_PER_SHARD */
  perShard?: number;
}

export interface ExpiredLeases {
  /** What was released, as it was held. */
  expired: Allocation[];
  /** Records that could not be released in this run (contention, throttling): the next run tries again. */
  failed: number;
  /** The run stopped at its bound with more listed as past: the next run continues. */
  more: boolean;
}

export async function expireLeases(ctx: StoreContext, opts: ExpireOptions = {}): Promise<ExpiredLeases> {
  const now = (opts.now ?? ctx.now()).toISOString();
  const perShard = opts.perShard ?? EXPIRIES_PER_SHARD;
  const run = ctx.budget(Date.now() + SWEEP_BUDGET_MS);
  const listed = await Promise.all(Array.from({ length: LEASE_SHARDS }, (_, shard) => pastLeases(ctx, shard, now, perShard, run)));
  const keys = listed.flatMap((l) => l.keys);
  const more = listed.some((l) => l.more);
  const out: ExpiredLeases = { expired: [], failed: 0, more };
  if (keys.length === 0) return out;

  // The index may name records renewed or released since: only what the table says now counts.
  const records = (await ctx.table.batchGet(keys, run)).map(decodeHolding).filter((h) => isPast(h, now));
  const views = new Map<string, Promise<PoolView | undefined>>();
  const viewOf = (pool: string) => {
    let v = views.get(pool);
    if (!v) views.set(pool, (v = readPool(ctx, pool, run).then((r) => r.view)));
    return v;
  };
  let next = 0;
  const worker = async () => {
    while (next < records.length && run.open()) {
      const h = records[next++];
      try {
        const view = await viewOf(h.pool);
        const done = view && (await expireOne(ctx, view, h, now));
        if (done) out.expired.push(done);
      } catch {
        // One record that could not be released stops nothing else; it is still listed next run.
        out.failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  out.more ||= next < records.length;
  return out;
}

/** Keys of records in one partition of the lease index whose expiry is at or before `now`, oldest first. */
async function pastLeases(ctx: StoreContext, shard: number, now: string, limit: number, budget: Budget): Promise<{ keys: ItemKey[]; more: boolean }> {
  const keys: ItemKey[] = [];
  const input = {
    IndexName: TABLE_KEYS.leaseIndex,
    KeyConditionExpression: '#lpk = :pk AND #exp <= :now',
    ExpressionAttributeNames: { '#lpk': TABLE_KEYS.leaseIndexPartitionKey, '#exp': TABLE_KEYS.leaseIndexSortKey },
    ExpressionAttributeValues: { ':pk': leaseShardPk(shard), ':now': now },
    ScanIndexForward: true,
  };
  let start;
  do {
    const page = await ctx.table.query({ ...input, Limit: limit - keys.length }, budget, start);
    for (const item of page.items) keys.push({ pk: String(item.pk), sk: String(item.sk) });
    start = page.last;
  } while (start && keys.length < limit);
  return { keys, more: start !== undefined };
}

function isPast(h: HoldingItem, now: string): boolean {
  return h.expires !== undefined && h.expires <= now;
}

/**
 * Releases one record whose lease ran out, as a release does, with an `expired` entry; answers it, or
 * undefined when it turned out renewed or released meanwhile.
 */
async function expireOne(ctx: StoreContext, view: PoolView, read: HoldingItem, now: string): Promise<Allocation | undefined> {
  const budget = ctx.budget();
  const pool = view.meta.name;
  // A record naming values outside its pool is for check to report, not for the sweeper to guess at.
  const pieces = view.layout.pieces(read.value, BigInt(read.size));
  if (!pieces) return undefined;
  const chunks = new Map<number, ChunkItem | undefined>();
  const pacing = new Pacing(ctx.retry, ctx.random, budget);
  const requestId = randomUUID();
  let h: HoldingItem | undefined = read;
  /** An attempt whose answer was lost may have landed: a record gone then is ours. */
  let unsure = false;
  while (pacing.more()) {
    // Gone or replaced: released by its owner meanwhile, or by an attempt of ours whose answer was lost.
    if (!h || h.rid !== read.rid) return unsure ? toAllocation(read) : undefined;
    if (!isPast(h, now)) return undefined;
    await readMissing(ctx, pool, chunks, pieces.map((p) => p.chunk), budget);
    const entry = releasedEntry(h, { at: ctx.isoNow(), by: LEASE_SWEEPER, requestId }, 'expired');
    const outcome = await ctx.tx([...pieces.map((p) => clearWrite(ctx, view, p, chunks.get(p.chunk))), holdingExpire(h, now), historyPut(entry, ctx.historyDays)], budget);
    if (outcome.kind === 'ok') return toAllocation(h);
    if (outcome.kind === 'conflict') {
      unsure ||= outcome.maybeLanded;
      pieces.forEach((p, i) => {
        const item = outcome.items[i];
        if (item !== null) chunks.set(p.chunk, item ? decodeChunk(item) : undefined);
      });
      const record = outcome.items[pieces.length];
      if (record !== null) h = record ? decodeHolding(record) : undefined;
      await pacing.conflict();
    } else {
      unsure ||= outcome.kind === 'unknown';
      chunks.clear();
      h = await getHolding(ctx, pool, read.owner, budget);
      await pacing.failure();
    }
  }
  throw unavailable(`the expiry of the lease of '${read.owner}' in pool '${pool}'`);
}
