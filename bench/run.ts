/**
 * `npm run bench [-- --json] [-- --quick]`: the allocator on an embedded DynamoDB Local, measured
 * against yardsticks taken in the same run (SPEC section 6). Every figure that matters is a ratio,
 * because these machines are noisy; nothing here is asserted as a time.
 */
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { renderTable } from '../cli/table.js';
import { createApp } from '../functions/http/app.js';
import { isPoolError } from '../lib/errors.js';
import { TABLE_KEYS } from '../lib/store/items.js';
import { registerFile } from '../lib/registration.js';
import { PoolStore, type StoreOptions } from '../lib/store/index.js';
import { type DynamoDbLocal, localDynamoClient, startDynamoDbLocal } from '../local/dynamodb-local.js';
import { RawCeiling, SingleDocumentPool } from './baselines.js';
import { type CpuSample, cpuNow, cpuSpent, cpuSum } from './cpu.js';
import { WriteMeter } from './meter.js';

const args = new Set(process.argv.slice(2));
if (args.has('--help') || args.has('-h')) {
  process.stdout.write(`usage: npm run bench [-- --json] [-- --quick]

Runs the allocator against an embedded DynamoDB Local (in memory) and prints, per benchmark, figures
taken in this one run: allocation throughput as a ratio of the raw DynamoDB ceiling and of a
single-document allocator, latency percentiles, write units per operation, CPU per operation on
both sides, a 1,024-value drain, large vs small pool latency, registration cost, a chunk-size sweep
and the HTTP API against the store. It first loads DynamoDB Local until its throughput settles
(45-150 s), because its JVM keeps getting faster under load. A full run takes 3-4 minutes.

  --json    one JSON object per line (SPEC section 6) instead of tables
  --quick   shorter phases: the whole run stays under a minute
`);
  process.exit(0);
}
const JSON_OUT = args.has('--json');
const QUICK = args.has('--quick');
const CLIENTS = 32;
/**
 * Warm-up runs in windows until the allocator's rate settles (the last `SETTLE.windows` within a
 * factor `SETTLE.spread` of each other), at least `warmupMinS` and at most `warmupMaxS`: on these machines
 * DynamoDB Local's JVM keeps getting faster for 40-90 s of load, not the 15-20 s once assumed, with
 * plateaus on the way, and a comparison made while it still speeds up favours whichever side runs later.
 */
const T = QUICK
  ? { warmupMinS: 5, warmupMaxS: 8, windowS: 2, phaseS: 2, rounds: 2, sizeSamples: 100, meterOps: 30, sweep: [128] }
  : { warmupMinS: 45, warmupMaxS: 150, windowS: 4, phaseS: 4, rounds: 6, sizeSamples: 400, meterOps: 150, sweep: [8, 32, 128, 1024] };
const SETTLE = { windows: 3, spread: 1.1 };

type Line = Record<string, string | number | boolean>;
const lines: Line[] = [];

function progress(message: string): void {
  process.stderr.write(`bench: ${message}\n`);
}

function emit(line: Line): void {
  lines.push(line);
  if (JSON_OUT) process.stdout.write(`${JSON.stringify(line)}\n`);
}

const round = (n: number, digits = 2) => Number(n.toFixed(digits));

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor((sorted.length - 1) * p))];
}

interface PhaseResult {
  ok: number;
  seconds: number;
  perSecond: number;
  latencies: number[];
  errors: Map<string, number>;
}

/** `clients` loops calling `op` until `seconds` have passed; latencies of the successful calls, sorted. */
async function closedLoop(clients: number, seconds: number, op: (client: number) => Promise<unknown>): Promise<PhaseResult> {
  const latencies: number[] = [];
  const errors = new Map<string, number>();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: clients }, async (_, c) => {
      while (performance.now() < deadline) {
        const t = performance.now();
        try {
          await op(c);
          latencies.push(performance.now() - t);
        } catch (e) {
          const code = isPoolError(e) ? e.code : (e as Error).name;
          errors.set(code, (errors.get(code) ?? 0) + 1);
        }
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return { ok: latencies.length, seconds: elapsed, perSecond: latencies.length / elapsed, latencies, errors };
}

class Bench {
  private retries = 0;
  readonly db: DynamoDBClient;

  constructor(
    readonly ddb: DynamoDbLocal,
    readonly tableName: string,
  ) {
    this.db = localDynamoClient(ddb.endpoint);
  }

  /** A store as one Lambda instance would have it: its own client. */
  store(options: Partial<StoreOptions> = {}): PoolStore {
    return new PoolStore({
      client: localDynamoClient(this.ddb.endpoint),
      tableName: this.tableName,
      events: { retry: () => void this.retries++ },
      ...options,
    });
  }

  takeRetries(): number {
    const r = this.retries;
    this.retries = 0;
    return r;
  }

  /** Integer pools never share values, so each new one starts where the last one ended. */
  private nextStart = 0;

  async pool(name: string, size: number, options: Partial<StoreOptions> = {}, maxPoolSize = 250_000): Promise<void> {
    const start = this.nextStart;
    this.nextStart += size;
    await registerFile(this.store(options), `[pools.${name}]\ntype = "integer"\nranges = [{ start = ${start}, end = ${start + size} }]`, {
      source: 'startup',
      maxPoolSize,
    });
  }
}

async function newBench(ddb: DynamoDbLocal): Promise<Bench> {
  const bench = new Bench(ddb, `bench-${randomUUID()}`);
  await bench.store().ensureTable();
  return bench;
}

/** One SDK client per baseline client, made as the stores' own are. */
function rawClients(bench: Bench): DynamoDBClient[] {
  return Array.from({ length: CLIENTS }, () => localDynamoClient(bench.ddb.endpoint));
}

/** Loads DynamoDB Local with both kinds of work until the allocator's rate stops changing. */
async function warmUp(bench: Bench): Promise<number> {
  progress(`warming up DynamoDB Local until its figures settle (${T.warmupMinS}-${T.warmupMaxS} s; its JVM keeps speeding up under load)`);
  const started = performance.now();
  await bench.pool('warmup', 250_000);
  const stores = Array.from({ length: CLIENTS }, () => bench.store());
  const raw = new RawCeiling(rawClients(bench), bench.tableName);
  let n = 0;
  const rates: number[] = [];
  const elapsed = () => (performance.now() - started) / 1000;
  while (elapsed() < T.warmupMaxS) {
    const alloc = await closedLoop(CLIENTS, T.windowS, (c) => stores[c].allocate({ pool: 'warmup', owner: `w-${n++}` }));
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

/** The middle value (the mean of the two middle ones for an even count). */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

async function allocateBench(bench: Bench, warmupS: number): Promise<void> {
  const poolSize = 250_000;
  await bench.pool('alloc', poolSize);
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
  const oursRound = (round: number) => runRound(ours, round, (c) => stores[c].allocate({ pool: 'alloc', owner: `o-${serial++}` }));
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
  const retries = bench.takeRetries();
  progress(`allocate: single-document allocator (${T.phaseS} s)`);
  const single = new SingleDocumentPool(bench.db, bench.tableName, poolSize);
  await single.create();
  const singleResult = await closedLoop(CLIENTS, T.phaseS, (c) => single.allocate(raws[c]));

  progress('allocate: metering write units per allocation and per release');
  const meter = new WriteMeter(bench.ddb.endpoint, bench.tableName, TABLE_KEYS.valueIndexPartitionKey);
  const metered = bench.store({ client: meter.client });
  const owners = Array.from({ length: T.meterOps }, () => `m-${randomUUID()}`);
  for (const o of owners) await metered.allocate({ pool: 'alloc', owner: o });
  const alloc = meter.take();
  for (const o of owners) await metered.release({ pool: 'alloc', owner: o });
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
    ...cpuFigures,
  });
}

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
async function drain(bench: Bench, size: number, options: Partial<StoreOptions> = {}): Promise<DrainResult> {
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

async function drainBench(bench: Bench): Promise<void> {
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

async function sizeBench(bench: Bench): Promise<void> {
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

async function registerBench(bench: Bench): Promise<void> {
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
async function chunkSweep(bench: Bench): Promise<void> {
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

/**
 * The same workload (each client allocates, then releases what it got, and again) through the HTTP
 * application on a local server and straight on the store, so the ratio is what HTTP, JSON and
 * routing cost. Each request is timed on its own.
 */
async function httpBench(bench: Bench): Promise<void> {
  await bench.pool('http', 250_000);
  const server = createAdaptorServer({ fetch: createApp({ store: bench.store(), maxPoolSize: 250_000 }).fetch });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const api = `http://127.0.0.1:${port}/v1/pools/http`;
  let serial = 0;
  /** Per client: the owner holding a value, released by the client's next request. */
  const holding: (string | undefined)[] = [];
  const alternate = (allocate: (owner: string) => Promise<void>, release: (owner: string) => Promise<void>) => async (c: number) => {
    const held = holding[c];
    holding[c] = undefined;
    if (held) return release(held);
    const owner = `h-${serial++}`;
    await allocate(owner);
    holding[c] = owner;
  };
  const expectStatus = async (res: Response, status: number) => {
    await res.arrayBuffer();
    if (res.status !== status) throw Object.assign(new Error(`answered ${res.status}`), { name: `HTTP_${res.status}` });
  };
  try {
    const stores = Array.from({ length: CLIENTS }, () => bench.store());
    progress(`http: allocate and release straight on the store (${T.phaseS} s)`);
    const direct = await closedLoop(CLIENTS, T.phaseS, (c) =>
      alternate(
        async (owner) => void (await stores[c].allocate({ pool: 'http', owner })),
        async (owner) => void (await stores[c].release({ pool: 'http', owner })),
      )(c),
    );
    holding.length = 0;
    progress(`http: allocate and release through the HTTP API, ${CLIENTS} clients (${T.phaseS} s)`);
    const overHttp = await closedLoop(
      CLIENTS,
      T.phaseS,
      alternate(
        async (owner) =>
          expectStatus(await fetch(`${api}/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ owner }) }), 201),
        async (owner) => expectStatus(await fetch(`${api}/owners/${owner}`, { method: 'DELETE' }), 204),
      ),
    );
    emit({
      bench: 'http',
      clients: CLIENTS,
      requests_per_s: round(overHttp.perSecond, 1),
      p50_ms: round(percentile(overHttp.latencies, 0.5), 1),
      p99_ms: round(percentile(overHttp.latencies, 0.99), 1),
      errors: [...overHttp.errors.values()].reduce((a, b) => a + b, 0),
      store_ops_per_s: round(direct.perSecond, 1),
      ratio_to_store: round(overHttp.perSecond / direct.perSecond),
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
}

function printTables(): void {
  const rows = lines.map((l) => {
    const { bench, ...rest } = l;
    return [String(bench), Object.entries(rest).map(([k, v]) => `${k}=${typeof v === 'number' ? v.toLocaleString('en-US') : v}`).join('  ')];
  });
  process.stdout.write(`${renderTable(['Bench', 'Figures'], rows)}\n`);
  const get = (bench: string, key: string) => Number(lines.find((l) => l.bench === bench)?.[key]);
  const targets: [string, number, string, boolean][] = [
    ['allocate ratio (of raw ceiling)', get('allocate', 'ratio'), '>= 0.8', get('allocate', 'ratio') >= 0.8],
    ['allocate vs_single_document', get('allocate', 'vs_single_document'), '>= 5', get('allocate', 'vs_single_document') >= 5],
    ['wcu_per_alloc', get('allocate', 'wcu_per_alloc'), '<= 4', get('allocate', 'wcu_per_alloc') <= 4],
    ['wcu_per_release', get('allocate', 'wcu_per_release'), '<= 4', get('allocate', 'wcu_per_release') <= 4],
    ['drain p99 / p50', get('drain', 'p99_over_p50'), '<= 10', get('drain', 'p99_over_p50') <= 10],
    ['drain distinct = 1,024', get('drain', 'distinct'), '= 1024', get('drain', 'distinct') === 1024 && get('drain', 'allocated') === 1024],
    ['size p50_ratio', get('size', 'p50_ratio'), '<= 1.3', get('size', 'p50_ratio') <= 1.3],
    ['register items_written', get('register', 'items_written'), '<= 10', get('register', 'items_written') <= 10],
  ];
  process.stdout.write(`\n${renderTable(['Target', 'Measured', 'Wanted', 'Met'], targets.map(([a, b, c, d]) => [a, b, c, d ? 'yes' : 'NO']))}\n`);
  if (QUICK) process.stdout.write('\n--quick: DynamoDB Local was not warmed up and phases are short; throughput ratios are indicative only.\n');
}

const started = performance.now();
progress('starting DynamoDB Local (in memory)');
const ddb = await startDynamoDbLocal();
try {
  const bench = await newBench(ddb);
  await allocateBench(bench, await warmUp(bench));
  await drainBench(bench);
  await sizeBench(bench);
  await registerBench(await newBench(ddb));
  await chunkSweep(bench);
  await httpBench(bench);
} finally {
  await ddb.stop();
}
if (!JSON_OUT) printTables();
progress(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
