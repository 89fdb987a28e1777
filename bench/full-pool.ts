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
import { encodePage } from '../lib/store/items.js';
import { chunkKey, TABLE_KEYS } from '../lib/store/keys.js';
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
  progress(`full_pool: two pools of ${size.toLocaleString('en-US')} values in ${segments} ranges; one is filled to 99%`);
  // The same shape twice, in values of their own: ranges with gaps between them, each one a segment.
  for (const [name, offset] of [['full', 0], ['empty', 2 * segments * segmentSize]] as const) {
    const ranges = Array.from({ length: segments }, (_, i) => `{ start = ${offset + i * 2 * segmentSize}, end = ${offset + i * 2 * segmentSize + segmentSize} }`);
    await registerFile(bench.store(), `[pools.${name}]\ntype = "integer"\nranges = [${ranges.join(', ')}]`, { source: 'startup', maxPoolSize: 2 ** 24 });
  }
  const fill = await fillPool(bench, 'full');

  // Rounds in ABBA order on the two pools, so that the JVM's warming and the machine's drift fall on both.
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  const latencies = { full: [] as number[], empty: [] as number[] };
  let serial = 0;
  for (const s of stores) for (const pool of ['full', 'empty'] as const) await s.allocate({ pool, owner: `warm-${serial++}` });
  for (let round = 0; round < T.rounds; round++) {
    for (const pool of round % 2 === 0 ? (['full', 'empty'] as const) : (['empty', 'full'] as const)) {
      progress(`full_pool: ${pool} pool, round ${round + 1} of ${T.rounds}, ${CLIENTS} clients (${T.phaseS} s)`);
      const r = await closedLoop(CLIENTS, T.phaseS, (c) => stores[c].allocate({ pool, owner: `${pool}-${serial++}` }));
      latencies[pool].push(...r.latencies);
    }
  }
  const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
  const full = await meter(bench, 'full');
  const empty = await meter(bench, 'empty');

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
    p50_ms: round(p50(latencies.full), 1),
    empty_rcu_per_alloc: round(empty.rcu),
    empty_wcu_per_alloc: round(empty.wcu),
    empty_index_wcu_per_alloc: round(empty.indexWcu),
    empty_p50_ms: round(p50(latencies.empty), 1),
    p50_ratio_vs_empty: round(p50(latencies.full) / p50(latencies.empty)),
  });
}

interface Metered {
  rcu: number;
  wcu: number;
  indexWcu: number;
  largestItem: number;
}

/** Read and write units per allocation, on a metered store warmed by one allocation (its cache filled). */
async function meter(bench: Bench, pool: string): Promise<Metered> {
  progress(`full_pool: metering read and write units on the ${pool} pool`);
  const writes = new WriteMeter(bench.ddb.endpoint, bench.tableName, [TABLE_KEYS.valueIndexPartitionKey, TABLE_KEYS.ownerIndexPartitionKey]);
  const reads = new ReadMeter(writes.client);
  const metered = new PoolStore({ client: writes.client, tableName: bench.tableName });
  await metered.allocate({ pool, owner: `${pool}-meter-warm` });
  reads.take();
  writes.take();
  for (let i = 0; i < T.meterOps; i++) {
    await metered.allocate({ pool, owner: `${pool}-meter-${i}` });
    reads.operation();
  }
  const r = reads.take();
  const w = writes.take();
  return { rcu: r.units / r.operations, wcu: w.tableUnits / r.operations, indexWcu: w.indexUnits / r.operations, largestItem: Math.max(r.largestItem, w.largestItem) };
}

/** Writes every chunk of the pool as allocations would have left it, and settles the layout pages. */
async function fillPool(bench: Bench, pool: string): Promise<{ chunks: number; fill: number; fullChunks: number }> {
  progress(`full_pool: writing the chunks of pool '${pool}', 99% full`);
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
  const clients = Array.from({ length: 16 }, () => localDynamoClient(bench.ddb.endpoint));
  let next = 0;
  const started = performance.now();
  await Promise.all(clients.map((client) => writeBatches(client, bench.tableName, items, () => next++)));
  progress(`full_pool: ${items.length.toLocaleString('en-US')} chunk items written in ${((performance.now() - started) / 1000).toFixed(0)} s`);
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
