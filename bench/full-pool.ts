/**
 * The full_pool line: what an allocation reads and writes on a pool of 2^24 values in 256 ranges when
 * it is 99% full, against the same pool empty. The full state is written as allocations would have
 * left the chunks (bits, counts, room keys; the layout pages settled), without the allocation
 * records of the prefilled values, which no allocation reads. To make it hard, most chunks are
 * wholly full and the rest nearly so: the room index has to route around them.
 */
import { BatchWriteItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { registerFile } from '../lib/registration.js';
import { emptyBitmap, popcount, withBit } from '../lib/store/bitmap.js';
import { chunkKey, encodePage } from '../lib/store/items.js';
import { PoolStore } from '../lib/store/index.js';
import { layoutOf, readPages } from '../lib/store/pool-view.js';
import { chunkRoom } from '../lib/store/room.js';
import { StoreContext } from '../lib/store/context.js';
import { localDynamoClient } from '../local/dynamodb-local.js';
import { type Bench, closedLoop, emit, percentile, progress, QUICK, round, T } from './harness.js';
import { ReadMeter, WriteMeter } from './meter.js';

const CLIENTS = 16;
/** Share of chunks with no free value; the others keep FREE_PER_OPEN_CHUNK free values each. */
const FREE_PER_OPEN_CHUNK = 4;

export async function fullPoolBench(bench: Bench): Promise<void> {
  const segments = QUICK ? 32 : 256;
  const segmentSize = QUICK ? 8192 : 65_536;
  const size = segments * segmentSize;
  const pool = 'full';
  progress(`full_pool: a ${size.toLocaleString('en-US')}-value pool in ${segments} ranges, empty, then 99% full`);
  // Ranges with gaps between them, so that each one is a segment of its own.
  const ranges = Array.from({ length: segments }, (_, i) => `{ start = ${i * 2 * segmentSize}, end = ${i * 2 * segmentSize + segmentSize} }`);
  await registerFile(bench.store(), `[pools.${pool}]\ntype = "integer"\nranges = [${ranges.join(', ')}]`, { source: 'startup', maxPoolSize: 2 ** 24 });

  const empty = await measure(bench, pool, 'empty');
  progress('full_pool: writing the chunks of a 99% full pool');
  const fill = await fillPool(bench, pool);
  const full = await measure(bench, pool, 'full');

  emit({
    bench: 'full_pool',
    pool_size: size,
    segments,
    chunks: fill.chunks,
    fill: round(fill.fill, 3),
    full_chunks: round(fill.fullChunks, 2),
    rcu_per_alloc: round(full.rcu),
    wcu_per_alloc: round(full.wcu),
    index_wcu_per_alloc: round(full.indexWcu),
    largest_item_bytes: full.largestItem,
    p50_ms: round(full.p50, 1),
    empty_rcu_per_alloc: round(empty.rcu),
    empty_wcu_per_alloc: round(empty.wcu),
    empty_p50_ms: round(empty.p50, 1),
    p50_ratio_vs_empty: round(full.p50 / empty.p50),
  });
}

interface Measured {
  rcu: number;
  wcu: number;
  indexWcu: number;
  largestItem: number;
  p50: number;
}

/** Latency with CLIENTS clients (each its own store, warmed by one allocation), then units on a metered store. */
async function measure(bench: Bench, pool: string, label: string): Promise<Measured> {
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  let serial = 0;
  for (const s of stores) await s.allocate({ pool, owner: `${label}-warm-${serial++}` });
  progress(`full_pool: ${label}, ${CLIENTS} clients (${T.phaseS} s)`);
  const timed = await closedLoop(CLIENTS, T.phaseS, (c) => stores[c].allocate({ pool, owner: `${label}-${serial++}` }));

  const writes = new WriteMeter(bench.ddb.endpoint, bench.tableName, 'gpk');
  const reads = new ReadMeter(writes.client);
  const metered = new PoolStore({ client: writes.client, tableName: bench.tableName });
  await metered.allocate({ pool, owner: `${label}-meter-warm` });
  reads.take();
  writes.take();
  for (let i = 0; i < T.meterOps; i++) {
    await metered.allocate({ pool, owner: `${label}-meter-${i}` });
    reads.operation();
  }
  const r = reads.take();
  const w = writes.take();
  return {
    rcu: r.units / r.operations,
    wcu: w.tableUnits / r.operations,
    indexWcu: w.indexUnits / r.operations,
    largestItem: Math.max(r.largestItem, w.largestItem),
    p50: percentile(timed.latencies, 0.5),
  };
}

/** Writes every chunk of the pool as allocations would have left it, and settles the layout pages. */
async function fillPool(bench: Bench, pool: string): Promise<{ chunks: number; fill: number; fullChunks: number }> {
  const ctx = new StoreContext({ client: bench.db, tableName: bench.tableName });
  const budget = ctx.budget();
  const pages = await readPages(ctx, pool, budget);
  const layout = layoutOf(pages, pages.reduce((n, p) => n + p.segments.length, 0));
  const at = Date.now() - 60_000;
  let set = 0;
  let fullChunks = 0;
  const items: Record<string, unknown>[] = [];
  for (let c = 0; c < layout.chunkCount; c++) {
    const info = layout.chunk(c);
    if (!info) continue;
    const count = info.to - info.from;
    const open = Math.random() < openShare(count);
    let bits = emptyBitmap(info.segment.chunkBits);
    for (let b = info.from; b < info.to; b++) bits = withBit(bits, b, true);
    if (open) {
      for (let k = 0; k < FREE_PER_OPEN_CHUNK; ) {
        const b = info.from + Math.floor(Math.random() * count);
        if (!bits.length || (bits[b >> 3] & (1 << (b & 7))) === 0) continue;
        bits = withBit(bits, b, false);
        k++;
      }
    } else {
      fullChunks++;
    }
    const used = popcount(bits, info.from, info.to);
    set += used;
    items.push({ ...chunkKey(pool, c), bits, used, ver: 1, at, room: chunkRoom('integer', info, bits) });
  }
  const clients = Array.from({ length: 8 }, () => localDynamoClient(bench.ddb.endpoint));
  let next = 0;
  await Promise.all(clients.map((client) => writeBatches(client, bench.tableName, items, () => next++)));
  for (const page of pages) {
    await clients[0].send(
      new BatchWriteItemCommand({
        RequestItems: { [bench.tableName]: [{ PutRequest: { Item: marshall(encodePage(pool, { ...page, virtual: page.virtual.map(() => false), room: undefined, ver: page.ver + 1 }), { removeUndefinedValues: true }) } }] },
      }),
    );
  }
  return { chunks: items.length, fill: set / Number(layout.size), fullChunks: fullChunks / items.length };
}

/** Chunks left open so that 99% of all values are taken. */
function openShare(valuesPerChunk: number): number {
  return Math.min(1, (0.01 * valuesPerChunk) / FREE_PER_OPEN_CHUNK);
}

async function writeBatches(client: DynamoDBClient, table: string, items: Record<string, unknown>[], take: () => number): Promise<void> {
  for (let b = take(); b * 25 < items.length; b = take()) {
    let requests = items.slice(b * 25, b * 25 + 25).map((item) => ({ PutRequest: { Item: marshall(item, { removeUndefinedValues: true }) } }));
    while (requests.length > 0) {
      const out = await client.send(new BatchWriteItemCommand({ RequestItems: { [table]: requests } }));
      requests = (out.UnprocessedItems?.[table] ?? []) as typeof requests;
    }
  }
}
