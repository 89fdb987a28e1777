/**
 * `npm run bench [-- --json] [-- --quick]`: the allocator on an embedded DynamoDB Local, measured
 * against yardsticks taken in the same run (each benchmark in its own file). Every figure that matters
 * is a ratio, because these machines are noisy; nothing here is asserted as a time.
 */
import { renderTable } from '../cli/table.js';
import { startDynamoDbLocal } from '../local/dynamodb-local.js';
import { allocateBench, warmUp } from './allocate.js';
import { batchBench } from './batch.js';
import { blockBench } from './blocks.js';
import { cliBench } from './cli.js';
import { fullPoolBench } from './full-pool.js';
import { args, JSON_OUT, lines, newBench, progress, QUICK } from './harness.js';
import { historyBench } from './history.js';
import { httpBench } from './http.js';
import { orderBench } from './order.js';
import { chunkSweep, drainBench, registerBench, sizeBench } from './pools.js';

// The SDK warns on Node 20 that its releases after January 2027 will need Node 22. This project
// pins its own SDK versions and runs on Node 20 (README, Set-up), so the notice is not the user's to
// act on here; set the variable to "false" to see it.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

if (args.has('--help') || args.has('-h')) {
  process.stdout.write(`usage: npm run bench [-- --json] [-- --quick]

Runs the allocator against an embedded DynamoDB Local (in memory) and prints, per benchmark, figures
taken in this one run: allocation throughput as a ratio of the raw DynamoDB ceiling and of a
single-document allocator, latency percentiles, write units per operation, CPU per operation on
both sides, a 1,024-value drain, large vs small pool latency, registration cost, a chunk-size sweep,
/24 blocks against single values, values through batches of 25 against single allocations,
allocation_order "lowest" against "random" on the same drain, the HTTP API against the store, a CLI call against a bare node fetch, and allocation throughput with
history on against off. It first loads DynamoDB Local until its throughput settles (45-150 s),
because its JVM keeps getting faster under load. A full run takes 4-5 minutes.

  --json    one JSON object per line instead of tables
  --quick   shorter phases: the whole run stays under a minute
  --only=a,b  run only these benchmarks (allocate, drain, size, full_pool, register, block, batch, order, chunk_size, http, cli, history)
`);
  process.exit(0);
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
    // 4 for the chunk and the record, plus the release's history entry written in the same transaction.
    ['wcu_per_release', get('allocate', 'wcu_per_release'), '<= 6', get('allocate', 'wcu_per_release') <= 6],
    ['drain p99 / p50', get('drain', 'p99_over_p50'), '<= 10', get('drain', 'p99_over_p50') <= 10],
    ['drain distinct = 1,024', get('drain', 'distinct'), '= 1024', get('drain', 'distinct') === 1024 && get('drain', 'allocated') === 1024],
    ['size p50_ratio', get('size', 'p50_ratio'), '<= 1.3', get('size', 'p50_ratio') <= 1.3],
    ['register items_written', get('register', 'items_written'), '<= 10', get('register', 'items_written') <= 10],
    ['full_pool rcu_per_alloc', get('full_pool', 'rcu_per_alloc'), '<= 3', get('full_pool', 'rcu_per_alloc') <= 3],
    ['full_pool wcu_per_alloc', get('full_pool', 'wcu_per_alloc'), '<= 4, <= empty', get('full_pool', 'wcu_per_alloc') <= Math.min(4, get('full_pool', 'empty_wcu_per_alloc'))],
    ['full_pool largest_item_bytes', get('full_pool', 'largest_item_bytes'), '< 4,096', get('full_pool', 'largest_item_bytes') < 4096],
    ['full_pool p50_ratio_vs_empty', get('full_pool', 'p50_ratio_vs_empty'), '<= 1.3', get('full_pool', 'p50_ratio_vs_empty') <= 1.3],
    ['block allocated, none overlapping', get('block', 'allocated'), '= 256, 0 overlapping', get('block', 'allocated') === 256 && get('block', 'distinct') === 256 && get('block', 'overlapping') === 0],
    ['block p50_ratio_vs_single', get('block', 'p50_ratio_vs_single'), '<= 1.5', get('block', 'p50_ratio_vs_single') <= 1.5],
    ['batch ratio (values/s of batches of 25 over single allocations)', get('batch', 'ratio'), '>= 3', get('batch', 'ratio') >= 3],
    ['order lowest_dense (every value once, the lowest ones)', Number(lines.find((l) => l.bench === 'order')?.lowest_dense === true), '= 1', lines.find((l) => l.bench === 'order')?.lowest_dense === true],
    ['cli ratio (of a bare node fetch)', get('cli', 'ratio'), '<= 3', get('cli', 'ratio') <= 3],
    ['history ratio (on / off)', get('history', 'ratio'), '>= 0.8', get('history', 'ratio') >= 0.8],
    ['history entries_found = expected', get('history', 'entries_found'), `= ${get('history', 'entries_expected')}`, get('history', 'entries_found') === get('history', 'entries_expected')],
  ];
  process.stdout.write(`\n${renderTable(['Target', 'Measured', 'Wanted', 'Met'], targets.map(([a, b, c, d]) => [a, b, c, d ? 'yes' : 'NO']))}\n`);
  if (QUICK) process.stdout.write('\n--quick: DynamoDB Local was not warmed up and phases are short; throughput ratios are indicative only.\n');
}

const started = performance.now();
progress('starting DynamoDB Local (in memory)');
const ddb = await startDynamoDbLocal();
/** `--only=a,b` runs just those benchmarks (by their line names), for working on one of them. */
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length).split(',');
const runs = (name: string) => !only || only.includes(name);
try {
  const bench = await newBench(ddb);
  if (runs('allocate')) await allocateBench(bench, await warmUp(bench));
  if (runs('drain')) await drainBench(bench);
  if (runs('size')) await sizeBench(bench);
  if (runs('full_pool')) await fullPoolBench(await newBench(ddb));
  if (runs('register')) await registerBench(await newBench(ddb));
  if (runs('block')) await blockBench(await newBench(ddb));
  if (runs('batch')) await batchBench(await newBench(ddb));
  if (runs('order')) await orderBench(await newBench(ddb));
  if (runs('chunk_size')) await chunkSweep(bench);
  if (runs('http')) await httpBench(bench);
  if (runs('cli')) await cliBench(bench);
  if (runs('history')) await historyBench(ddb);
} finally {
  await ddb.stop();
}
if (!JSON_OUT) printTables();
progress(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
