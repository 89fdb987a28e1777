/**
 * `npm run bench:plan [-- --runs N]`: how long parsing and planning take for pool files of up to 1 MiB,
 * in the shapes of bench/plan-shapes.ts. One JSON line per shape:
 * `{"bench":"plan","shape":…,"bytes":…,"pools":…,"registered":…,"ms":…,"parse_ms":…,"errors":…,"ignored":…}`,
 * `ms` being the median of N runs of the whole check (parse + plan, as `validate` and every upload run
 * it), `parse_ms` the parse alone, `errors` how many errors the file has. Nothing here is asserted:
 * test/unit/plan-scale.test.ts checks what each shape plans to.
 */
import { parsePoolsFile } from '../lib/config.js';
import { DEFAULT_MAX_POOL_SIZE, planFile } from '../lib/plan.js';
import { planShapes } from './plan-shapes.js';

const argv = process.argv.slice(2);
if (argv.includes('--help') || argv.includes('-h')) {
  process.stdout.write('usage: npm run bench:plan [-- --runs N] [-- --shape NAME]\n');
  process.exit(0);
}
const option = (flag: string) => {
  const i = argv.indexOf(flag);
  return i >= 0 ? argv[i + 1] : undefined;
};
const runs = Number(option('--runs') ?? 5);
const only = option('--shape');

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time<T>(f: () => T): [T, number] {
  const t0 = performance.now();
  const r = f();
  return [r, performance.now() - t0];
}

for (const shape of planShapes()) {
  if (only && shape.name !== only) continue;
  const total: number[] = [];
  const parse: number[] = [];
  let result: ReturnType<typeof planFile> | undefined;
  for (let i = 0; i < runs; i++) {
    parse.push(time(() => parsePoolsFile(shape.text))[1]);
    const [r, ms] = time(() => planFile(shape.text, shape.registered, { maxPoolSize: DEFAULT_MAX_POOL_SIZE }));
    total.push(ms);
    result = r;
  }
  if (!result) continue;
  const line = {
    bench: 'plan',
    shape: shape.name,
    bytes: Buffer.byteLength(shape.text),
    pools: shape.pools,
    registered: shape.registered.length,
    ms: Math.round(median(total)),
    parse_ms: Math.round(median(parse)),
    errors: result.ok ? 0 : result.errors.length,
    ignored: result.ok ? result.plan.ignored.length : 0,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
}
