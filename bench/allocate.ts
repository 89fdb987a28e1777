/**
 * The allocate line: throughput against the raw ceiling (the same write, no reads, no contention) and
 * against a single-document allocator, in ABBA rounds after a warm-up, with write units and CPU per
 * operation on both sides.
 */
import { randomUUID } from 'node:crypto';
import { TABLE_KEYS } from '../lib/store/keys.js';
import { RawCeiling, SingleDocumentPool } from './baselines.js';
import { type CpuSample, cpuNow, cpuSpent, cpuSum } from './cpu.js';
import { type Bench, CLIENTS, closedLoop, emit, median, type PhaseResult, percentile, progress, rawClients, round, SETTLE, T } from './harness.js';
import { WriteMeter } from './meter.js';

/** The pool of the allocate line, registered (and warmed up on) by warmUp. */
const ALLOC_POOL = 'alloc';
const ALLOC_POOL_SIZE = 250_000;

/** Loads DynamoDB Local with both kinds of work until the allocator's rate stops changing. */
export async function warmUp(bench: Bench): Promise<number> {
  progress(`warming up DynamoDB Local until its figures settle (${T.warmupMinS}-${T.warmupMaxS} s; its JVM keeps speeding up under load)`);
  const started = performance.now();
  // The pool the allocate line measures: warming up on it leaves its chunks written, as in a pool in
  // use (a first write creates a chunk item and its room-index entry, which costs DynamoDB Local more
  // than an update; the raw ceiling's chunks exist after their first write too).
  await bench.pool(ALLOC_POOL, ALLOC_POOL_SIZE);
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  const raw = new RawCeiling(rawClients(bench), bench.tableName);
  let n = 0;
  const rates: number[] = [];
  const elapsed = () => (performance.now() - started) / 1000;
  while (elapsed() < T.warmupMaxS) {
    const alloc = await closedLoop(CLIENTS, T.windowS, (c) => stores[c].allocate({ pool: ALLOC_POOL, owner: `w-${n++}` }));
    const writes = await closedLoop(CLIENTS, T.windowS / 2, (c) => raw.write(c));
    rates.push(alloc.perSecond);
    const last = rates.slice(-SETTLE.windows);
    const settled = last.length === SETTLE.windows && Math.max(...last) <= SETTLE.spread * Math.min(...last);
    progress(`  ${elapsed().toFixed(0)} s: allocator ${alloc.perSecond.toFixed(0)}/s, raw writes ${writes.perSecond.toFixed(0)}/s${settled ? ' (settled)' : ''}`);
    if (settled && elapsed() >= T.warmupMinS) break;
  }
  bench.takeRetries();
  return round(elapsed(), 0);
}

export async function allocateBench(bench: Bench, warmupS: number): Promise<void> {
  const poolSize = ALLOC_POOL_SIZE;
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  let serial = 0;
  const serverPid = bench.ddb.process.pid;
  const none: CpuSample = { clientMs: 0, serverMs: 0 };
  /** Each side's rounds and the CPU they took, client and server side. */
  const raw = { name: 'raw ceiling', rounds: [] as PhaseResult[], cpu: none };
  const ours = { name: `allocator on ${poolSize.toLocaleString('en-US')} values`, rounds: [] as PhaseResult[], cpu: none };
  const raws = rawClients(bench);
  const ceiling = new RawCeiling(raws, bench.tableName);
  const runRound = async (side: typeof raw, round: number, op: (client: number) => Promise<unknown>) => {
    progress(`allocate: ${side.name}, round ${round + 1} of ${T.rounds} (${T.phaseS} s)`);
    const before = cpuNow(serverPid);
    const result = await closedLoop(CLIENTS, T.phaseS, op);
    side.rounds.push(result);
    side.cpu = cpuSum(side.cpu, cpuSpent(before, cpuNow(serverPid)));
    progress(`  ${result.perSecond.toFixed(0)}/s`);
  };
  const rawRound = (round: number) => runRound(raw, round, (c) => ceiling.write(c));
  const oursRound = (round: number) => runRound(ours, round, (c) => stores[c].allocate({ pool: ALLOC_POOL, owner: `o-${serial++}` }));
  // Rounds in ABBA order, so that drift in the machine's speed falls on both sides alike; each side's
  // figure is the median of its rounds, so one stall (a JVM collection) does not decide the ratio.
  for (let round = 0; round < T.rounds; round++) {
    if (round % 2 === 0) {
      await rawRound(round);
      await oursRound(round);
    } else {
      await oursRound(round);
      await rawRound(round);
    }
  }
  const reasons = [...bench.retryReasons].map(([k, v]) => `${k}:${v}`).join(' ') || 'none';
  const retries = bench.takeRetries();
  progress(`allocate: single-document allocator (${T.phaseS} s)`);
  const single = new SingleDocumentPool(bench.db, bench.tableName, poolSize);
  await single.create();
  const singleResult = await closedLoop(CLIENTS, T.phaseS, (c) => single.allocate(raws[c]));

  progress('allocate: metering write units per allocation and per release');
  const meter = new WriteMeter(bench.ddb.endpoint, bench.tableName, [TABLE_KEYS.valueIndexPartitionKey, TABLE_KEYS.ownerIndexPartitionKey]);
  const metered = bench.store({ client: meter.client });
  const owners = Array.from({ length: T.meterOps }, () => `m-${randomUUID()}`);
  for (const o of owners) await metered.allocate({ pool: ALLOC_POOL, owner: o });
  const alloc = meter.take();
  for (const o of owners) await metered.release({ pool: ALLOC_POOL, owner: o });
  const release = meter.take();

  const allocsPerS = median(ours.rounds.map((r) => r.perSecond));
  const rawPerS = median(raw.rounds.map((r) => r.perSecond));
  const latencies = ours.rounds.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const allocated = ours.rounds.reduce((n, r) => n + r.ok, 0);
  const rawWrites = raw.rounds.reduce((n, r) => n + r.ok, 0);
  const perAlloc = cpuSpent(none, ours.cpu, allocated);
  const perRawWrite = cpuSpent(none, raw.cpu, rawWrites);
  /** Cores kept busy on average: the two sides' CPU over the phases' wall time. */
  const coresBusy = ({ cpu, rounds }: typeof raw) =>
    cpu.serverMs === undefined ? undefined : round((cpu.clientMs + cpu.serverMs) / (1000 * rounds.reduce((n, r) => n + r.seconds, 0)));
  const cpuFigures = {
    client_cpu_ms_per_alloc: round(perAlloc.clientMs),
    client_cpu_ms_per_raw_write: round(perRawWrite.clientMs),
    ...(perAlloc.serverMs !== undefined && perRawWrite.serverMs !== undefined
      ? {
          server_cpu_ms_per_alloc: round(perAlloc.serverMs),
          server_cpu_ms_per_raw_write: round(perRawWrite.serverMs),
          cores_busy_alloc: coresBusy(ours) as number,
          cores_busy_raw: coresBusy(raw) as number,
        }
      : {}),
  };
  emit({
    bench: 'allocate',
    pool_size: poolSize,
    clients: CLIENTS,
    warmup_s: warmupS,
    rounds: T.rounds,
    allocs_per_s: round(allocsPerS, 1),
    raw_ceiling_per_s: round(rawPerS, 1),
    ratio: round(allocsPerS / rawPerS),
    single_document_per_s: round(singleResult.perSecond, 1),
    vs_single_document: round(allocsPerS / singleResult.perSecond, 1),
    p50_ms: round(percentile(latencies, 0.5), 1),
    p99_ms: round(percentile(latencies, 0.99), 1),
    wcu_per_alloc: round(alloc.tableUnits / alloc.operations),
    wcu_per_release: round(release.tableUnits / release.operations),
    index_wcu_per_alloc: round(alloc.indexUnits / alloc.operations),
    index_wcu_per_release: round(release.indexUnits / release.operations),
    largest_item_bytes: Math.max(alloc.largestItem, release.largestItem),
    retries_per_alloc: round(retries / Math.max(1, allocated), 3),
    single_document_retries_per_alloc: round(single.retries / Math.max(1, singleResult.ok), 1),
    errors: ours.rounds.flatMap((r) => [...r.errors.values()]).reduce((a, b) => a + b, 0),
    error_codes: [...new Set(ours.rounds.flatMap((r) => [...r.errors.keys()]))].join(' ') || 'none',
    retry_reasons: reasons,
    ...cpuFigures,
  });
}
