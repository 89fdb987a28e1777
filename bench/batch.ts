/**
 * The `batch` line: 8 clients allocate single values through batches of 25 (POST /v1/allocations'
 * store call: one transaction of a record per value and one write per chunk the batch lands in)
 * against the same clients allocating the same values one call at a time, on two pools of the same
 * size, in alternating phases of the same length after one unmeasured phase of each (DynamoDB Local
 * keeps getting faster as it warms up; alternating gives neither side the later, faster turns).
 * `ratio` = values_per_s / single_values_per_s.
 */
import { type Bench, closedLoop, emit, type PhaseResult, percentile, progress, round, T } from './harness.js';

const CLIENTS = 8;
const ITEMS = 25;
const POOL_SIZE = 250_000;

export async function batchBench(bench: Bench): Promise<void> {
  progress(`batch: ${CLIENTS} clients, batches of ${ITEMS} values against single allocations, ${T.rounds} rounds of two ${T.phaseS} s phases, alternating`);
  await bench.pool('batch-singles', POOL_SIZE);
  await bench.pool('batch-batches', POOL_SIZE);
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  let serial = 0;
  const single = (c: number) => stores[c].allocate({ pool: 'batch-singles', owner: `s-${serial++}` });
  const batch = (c: number) => stores[c].allocateBatch(Array.from({ length: ITEMS }, () => ({ pool: 'batch-batches', owner: `b-${serial++}` })));

  await closedLoop(CLIENTS, T.phaseS, single);
  const warm = await closedLoop(CLIENTS, T.phaseS, batch);
  bench.takeRetries();
  const sides = { single: [] as PhaseResult[], batch: [] as PhaseResult[] };
  let batchRetries = 0;
  for (let r = 0; r < T.rounds; r++) {
    for (const side of r % 2 === 0 ? (['single', 'batch'] as const) : (['batch', 'single'] as const)) {
      sides[side].push(await closedLoop(CLIENTS, T.phaseS, side === 'single' ? single : batch));
      if (side === 'batch') batchRetries += bench.takeRetries();
      else bench.takeRetries();
    }
  }
  const total = (results: PhaseResult[]) => ({
    ok: results.reduce((n, p) => n + p.ok, 0),
    seconds: results.reduce((n, p) => n + p.seconds, 0),
    latencies: results.flatMap((p) => p.latencies).sort((a, b) => a - b),
    errors: results.reduce((n, p) => n + [...p.errors.values()].reduce((a, b) => a + b, 0), 0),
    codes: [...new Set(results.flatMap((p) => [...p.errors.keys()]))],
  });
  const singles = total(sides.single);
  const batches = total(sides.batch);
  const valuesPerS = (batches.ok * ITEMS) / batches.seconds;
  const singlePerS = singles.ok / singles.seconds;
  const used = (await bench.store().pool('batch-batches')).used;
  emit({
    bench: 'batch',
    items: ITEMS,
    clients: CLIENTS,
    values_per_s: round(valuesPerS, 1),
    single_values_per_s: round(singlePerS, 1),
    ratio: round(valuesPerS / singlePerS),
    batch_p50_ms: round(percentile(batches.latencies, 0.5), 1),
    batch_p99_ms: round(percentile(batches.latencies, 0.99), 1),
    single_p50_ms: round(percentile(singles.latencies, 0.5), 1),
    retries_per_batch: round(batchRetries / Math.max(1, batches.ok)),
    // Every value of every acknowledged batch is held, and nothing else (the warm-up's batches included).
    batch_values_acknowledged: (warm.ok + batches.ok) * ITEMS,
    batch_values_held: used,
    errors: batches.errors + singles.errors,
    error_codes: [...batches.codes, ...singles.codes].join(',') || 'none',
  });
}
