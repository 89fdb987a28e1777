/**
 * Pool-shape benchmarks: a 1,024-value pool drained by 32 clients, a huge pool against a small one,
 * what registering 250,000 values writes, and the chunk-size sweep.
 */
import { randomUUID } from 'node:crypto';
import { isPoolError } from '../lib/errors.js';
import type { StoreOptions } from '../lib/store/index.js';
import { localDynamoClient } from '../local/dynamodb-local.js';
import { type Bench, CLIENTS, emit, percentile, progress, round, T } from './harness.js';


interface DrainResult {
  allocated: number;
  distinct: number;
  exhausted: number;
  other: number;
  perSecond: number;
  latencies: number[];
  retries: number;
}

/** `clients` clients hand out a pool of `size` values, one request per value, until it is full. */
export async function drain(bench: Bench, size: number, options: Partial<StoreOptions> = {}): Promise<DrainResult> {
  const name = `drain-${randomUUID().slice(0, 8)}`;
  await bench.pool(name, size, options);
  const stores = Array.from({ length: CLIENTS }, () => bench.store(options));
  bench.takeRetries();
  const values: bigint[] = [];
  const latencies: number[] = [];
  let exhausted = 0;
  let other = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    stores.map(async (store) => {
      while (next < size) {
        const owner = `d-${next++}`;
        const t = performance.now();
        try {
          values.push((await store.allocate({ pool: name, owner })).allocation.value);
          latencies.push(performance.now() - t);
        } catch (e) {
          if (isPoolError(e, 'RESOURCE_EXHAUSTED')) exhausted++;
          else other++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    allocated: values.length,
    distinct: new Set(values).size,
    exhausted,
    other,
    perSecond: values.length / elapsed,
    latencies,
    retries: bench.takeRetries(),
  };
}

export async function drainBench(bench: Bench): Promise<void> {
  progress(`drain: ${CLIENTS} clients empty a 1,024-value pool`);
  const r = await drain(bench, 1024);
  emit({
    bench: 'drain',
    pool_size: 1024,
    clients: CLIENTS,
    allocs_per_s: round(r.perSecond, 1),
    p50_ms: round(percentile(r.latencies, 0.5), 1),
    p99_ms: round(percentile(r.latencies, 0.99), 1),
    p99_over_p50: round(percentile(r.latencies, 0.99) / percentile(r.latencies, 0.5)),
    allocated: r.allocated,
    distinct: r.distinct,
    exhausted_errors: r.exhausted,
    other_errors: r.other,
    retries_per_alloc: round(r.retries / Math.max(1, r.allocated), 3),
  });
}

export async function sizeBench(bench: Bench): Promise<void> {
  const small = 1024;
  const large = 16_777_216;
  progress(`size: median latency on a ${large.toLocaleString('en-US')}-value pool vs a ${small.toLocaleString('en-US')}-value one`);
  await bench.pool('small', small);
  await bench.pool('large', large, {}, large);
  const store = bench.store();
  const times = { small: [] as number[], large: [] as number[] };
  // Interleaved, one request at a time: latency without queueing, drift shared by both.
  for (let i = 0; i < T.sizeSamples; i++) {
    for (const pool of ['small', 'large'] as const) {
      const t = performance.now();
      await store.allocate({ pool, owner: `s-${i}` });
      times[pool].push(performance.now() - t);
    }
  }
  const p50 = (xs: number[]) => percentile([...xs].sort((a, b) => a - b), 0.5);
  emit({
    bench: 'size',
    small_pool: small,
    large_pool: large,
    small_p50_ms: round(p50(times.small)),
    large_p50_ms: round(p50(times.large)),
    p50_ratio: round(p50(times.large) / p50(times.small)),
  });
}

export async function registerBench(bench: Bench): Promise<void> {
  progress('register: items written to register 250,000 values');
  const client = localDynamoClient(bench.ddb.endpoint);
  let items = 0;
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const input = args.input as { TransactItems?: unknown[]; RequestItems?: Record<string, unknown[]> };
      if (context.commandName === 'TransactWriteItemsCommand') items += input.TransactItems?.length ?? 0;
      else if (['PutItemCommand', 'UpdateItemCommand', 'DeleteItemCommand'].includes(context.commandName as string)) items += 1;
      else if (context.commandName === 'BatchWriteItemCommand') items += Object.values(input.RequestItems ?? {}).flat().length;
      return next(args);
    },
    { step: 'initialize' },
  );
  const started = performance.now();
  await bench.pool('registered', 250_000, { client });
  emit({ bench: 'register', values: 250_000, items_written: items, ms: round(performance.now() - started, 1) });
}

/** The chunk size, chosen by measurement: the 1,024-value drain at several chunk sizes. */
export async function chunkSweep(bench: Bench): Promise<void> {
  for (const chunkBits of T.sweep) {
    progress(`chunk size: drain of 1,024 values in ${chunkBits}-bit chunks`);
    const r = await drain(bench, 1024, { targetChunksPerSegment: Math.max(1, 1024 / chunkBits) });
    emit({
      bench: 'chunk_size',
      pool_size: 1024,
      chunk_bits: chunkBits,
      chunks: 1024 / chunkBits,
      clients: CLIENTS,
      allocs_per_s: round(r.perSecond, 1),
      p50_ms: round(percentile(r.latencies, 0.5), 1),
      p99_ms: round(percentile(r.latencies, 0.99), 1),
      retries_per_alloc: round(r.retries / Math.max(1, r.allocated), 3),
      other_errors: r.other,
    });
  }
}
