/**
 * The `block` line: 32 clients allocate /24 blocks from a /16 until it is full, against the same
 * clients draining a pool of as many single values (256 addresses) in the same run: the same number
 * of allocations, down to the last one, so that both sides meet the same end-of-pool contention
 * (`p50_ratio_vs_single`). Also against 256 single values taken from a pool that stays almost empty
 * (`p50_ratio_vs_single_in_large_pool`): what a block costs over a value when nobody competes.
 * Every block must be handed out once and none may overlap.
 */
import { isPoolError } from '../lib/errors.js';
import type { Allocation } from '../lib/model.js';
import { registerFile } from '../lib/registration.js';
import { type Bench, CLIENTS, emit, percentile, progress, round } from './harness.js';

interface Phase {
  allocations: Allocation[];
  latencies: number[];
  perSecond: number;
  exhausted: number;
  other: number;
  /** The codes of the other errors: under a loaded machine, UNAVAILABLE when a call ran out of budget. */
  otherCodes: Set<string>;
}

/** The clients allocate from `pool` until it answers RESOURCE_EXHAUSTED to each of them, or `limit` allocations are made. */
async function phase(bench: Bench, pool: string, prefixLength: number | undefined, limit: number): Promise<Phase> {
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  const allocations: Allocation[] = [];
  const latencies: number[] = [];
  let exhausted = 0;
  let other = 0;
  const otherCodes = new Set<string>();
  let next = 0;
  const size = prefixLength === undefined ? undefined : () => ({ ok: true as const, value: 1n << BigInt(32 - prefixLength) });
  const started = performance.now();
  await Promise.all(
    stores.map(async (store) => {
      for (;;) {
        const owner = `b-${next++}`;
        if (allocations.length >= limit) return;
        const t = performance.now();
        try {
          allocations.push((await store.allocate({ pool, owner, size })).allocation);
          latencies.push(performance.now() - t);
        } catch (e) {
          if (isPoolError(e, 'RESOURCE_EXHAUSTED')) return void exhausted++;
          other++;
          otherCodes.add(isPoolError(e) ? e.code : String(e));
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { allocations, latencies, perSecond: allocations.length / elapsed, exhausted, other, otherCodes };
}

function overlaps(allocations: readonly Allocation[]): number {
  const sorted = [...allocations].sort((a, b) => (a.value < b.value ? -1 : a.value > b.value ? 1 : 0));
  let n = 0;
  for (let i = 1; i < sorted.length; i++) if (sorted[i - 1].value + BigInt(sorted[i - 1].size) > sorted[i].value) n++;
  return n;
}

export async function blockBench(bench: Bench): Promise<void> {
  progress(`block: ${CLIENTS} clients take /24s from 10.0.0.0/16 until it is full, drain 256 single addresses, and take 256 from another /16`);
  const file = [
    '[pools.blocks]\ntype = "ipv4"\nranges = [{ start = "10.0.0.0", end = "10.1.0.0" }]',
    '[pools.singles]\ntype = "ipv4"\nranges = [{ start = "10.1.0.0", end = "10.1.1.0" }]',
    '[pools.large]\ntype = "ipv4"\nranges = [{ start = "10.2.0.0", end = "10.3.0.0" }]',
  ].join('\n');
  await registerFile(bench.store(), file, { source: 'startup', maxPoolSize: 250_000 });
  // Singles first: DynamoDB Local only gets faster as it warms up, so the ratio errs against blocks.
  const singles = await phase(bench, 'singles', undefined, Number.POSITIVE_INFINITY);
  const large = await phase(bench, 'large', undefined, 256);
  const blocks = await phase(bench, 'blocks', 24, Number.POSITIVE_INFINITY);
  const aligned = blocks.allocations.every((a) => a.size === 256 && a.value % 256n === 0n);
  emit({
    bench: 'block',
    pool: '10.0.0.0/16',
    prefix_length: 24,
    clients: CLIENTS,
    blocks_per_s: round(blocks.perSecond, 1),
    single_values_per_s: round(singles.perSecond, 1),
    p50_ms: round(percentile(blocks.latencies, 0.5), 1),
    single_p50_ms: round(percentile(singles.latencies, 0.5), 1),
    p50_ratio_vs_single: round(percentile(blocks.latencies, 0.5) / percentile(singles.latencies, 0.5)),
    large_pool_single_p50_ms: round(percentile(large.latencies, 0.5), 1),
    p50_ratio_vs_single_in_large_pool: round(percentile(blocks.latencies, 0.5) / percentile(large.latencies, 0.5)),
    allocated: blocks.allocations.length,
    distinct: new Set(blocks.allocations.map((a) => a.value)).size,
    overlapping: overlaps(blocks.allocations),
    aligned,
    single_values: singles.allocations.length,
    exhausted_errors: blocks.exhausted,
    other_errors: blocks.other + singles.other + large.other,
    ...(blocks.other + singles.other + large.other > 0 ? { other_error_codes: [...blocks.otherCodes, ...singles.otherCodes, ...large.otherCodes].join(',') } : {}),
  });
}
