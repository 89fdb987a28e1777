/**
 * The `order` line: 32 clients drain a 1,024-value pool with allocation_order "lowest", and the same
 * clients drain a pool of the same size with "random", in the same run: alternating drains of fresh
 * pools after one unmeasured drain of each (DynamoDB Local keeps getting faster as it warms up). Each
 * pool is in a scope of its own, so their values need not avoid the other benchmarks' pools.
 * `ratio` = lowest_per_s / random_per_s; `lowest_dense` says every lowest drain handed out each value
 * exactly once and the values held after each measured phase of it were the lowest ones. A call
 * answered UNAVAILABLE (its budget ran out while it waited its turn) is retried as a client would,
 * and counted.
 */
import { isPoolError } from '../lib/errors.js';
import type { AllocationOrder } from '../lib/orders.js';
import { registerFile } from '../lib/registration.js';
import { type Bench, CLIENTS, emit, percentile, progress, QUICK, round } from './harness.js';

const POOL_SIZE = 1024;

interface Drained {
  allocated: number;
  seconds: number;
  latencies: number[];
  retries: number;
  /** Every value once, and (for lowest) exactly the lowest ones. */
  exact: boolean;
  /** UNAVAILABLE answers (out of time), each retried as a client would: nothing was allocated by them. */
  unavailable: number;
  errors: number;
}

let serial = 0;

async function drainOnce(bench: Bench, order: AllocationOrder, take: number): Promise<Drained> {
  const name = `order-${order}-${serial++}`;
  await registerFile(bench.store(), `[pools.${name}]\ntype = "integer"\nscope = "${name}"\nallocation_order = "${order}"\nranges = [{ start = 0, end = ${POOL_SIZE} }]\n`, {
    source: 'startup',
    maxPoolSize: 250_000,
  });
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  bench.takeRetries();
  const values: number[] = [];
  const latencies: number[] = [];
  let errors = 0;
  let unavailable = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    stores.map(async (store) => {
      while (next < take) {
        const owner = `o-${next++}`;
        const t = performance.now();
        for (;;) {
          try {
            values.push(Number((await store.allocate({ pool: name, owner })).allocation.value));
            latencies.push(performance.now() - t);
          } catch (e) {
            if (!isPoolError(e)) throw e;
            // "Retry shortly": the latency counted is the caller's, retries included.
            if (e.code === 'UNAVAILABLE') {
              unavailable++;
              continue;
            }
            errors++;
          }
          break;
        }
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  const sorted = [...values].sort((a, b) => a - b);
  const distinct = new Set(values).size === values.length;
  const lowest = sorted.every((v, i) => v === i);
  return { allocated: values.length, seconds, latencies, retries: bench.takeRetries(), exact: distinct && (order === 'random' || lowest), unavailable, errors };
}

export async function orderBench(bench: Bench): Promise<void> {
  const rounds = QUICK ? 1 : 3;
  progress(`order: ${CLIENTS} clients drain a ${POOL_SIZE}-value pool, allocation_order "lowest" against "random", ${rounds} round(s) of each, alternating`);
  // Unmeasured: the JVM's first turns go to neither side.
  await drainOnce(bench, 'random', POOL_SIZE / 4);
  await drainOnce(bench, 'lowest', POOL_SIZE / 4);
  const sides: Record<AllocationOrder, Drained[]> = { lowest: [], random: [] };
  for (let r = 0; r < rounds; r++) {
    for (const order of r % 2 === 0 ? (['lowest', 'random'] as const) : (['random', 'lowest'] as const)) sides[order].push(await drainOnce(bench, order, POOL_SIZE));
  }
  const total = (ds: Drained[]) => {
    const allocated = ds.reduce((n, d) => n + d.allocated, 0);
    return {
      perS: allocated / ds.reduce((n, d) => n + d.seconds, 0),
      allocated,
      latencies: ds.flatMap((d) => d.latencies).sort((a, b) => a - b),
      retriesPerAlloc: ds.reduce((n, d) => n + d.retries, 0) / Math.max(1, allocated),
      exact: ds.every((d) => d.exact && d.allocated === POOL_SIZE),
      unavailable: ds.reduce((n, d) => n + d.unavailable, 0),
      errors: ds.reduce((n, d) => n + d.errors, 0),
    };
  };
  const lowest = total(sides.lowest);
  const random = total(sides.random);
  emit({
    bench: 'order',
    pool_size: POOL_SIZE,
    clients: CLIENTS,
    lowest_per_s: round(lowest.perS, 1),
    random_per_s: round(random.perS, 1),
    ratio: round(lowest.perS / random.perS),
    lowest_p50_ms: round(percentile(lowest.latencies, 0.5), 1),
    lowest_p99_ms: round(percentile(lowest.latencies, 0.99), 1),
    random_p50_ms: round(percentile(random.latencies, 0.5), 1),
    lowest_retries_per_alloc: round(lowest.retriesPerAlloc),
    random_retries_per_alloc: round(random.retriesPerAlloc),
    lowest_dense: lowest.exact,
    random_distinct: random.exact,
    lowest_unavailable_retried: lowest.unavailable,
    random_unavailable_retried: random.unavailable,
    errors: lowest.errors + random.errors,
  });
}
