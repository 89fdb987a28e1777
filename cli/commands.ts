/**
 * The commands that talk to the API: list, show, allocate, release, grow, syncs, check. Each one is
 * request → answer → table (or, with --json, the API's own JSON, so scripts see the contract's shapes).
 */
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError } from 'commander';
import type { AllocationJson, ConfigResultJson, PoolJson } from '../lib/shapes.js';
import type { CheckReport, SyncRecord } from '../lib/model.js';
import { ApiClient, ApiError, DEFAULT_ENDPOINT, segment, SigningError, UnreachableError } from './client.js';
import { EXIT_API_ERROR, EXIT_CODES_HELP, EXIT_INVALID, EXIT_UNREACHABLE, EXIT_USAGE } from './exit-codes.js';
import { renderTable } from './table.js';

interface ApiOptions {
  endpoint?: string;
  sign?: boolean;
  json?: boolean;
}

/** A failure the CLI itself reports (usage, files), with its exit code. */
class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

function client(opts: ApiOptions): ApiClient {
  return new ApiClient({ endpoint: opts.endpoint || process.env.RESOURCE_POOLS_ENDPOINT || DEFAULT_ENDPOINT, sign: opts.sign });
}

const count = (n: number) => n.toLocaleString('en-US');

/**
 * `used` of `size` in percent, one decimal, never rounded up: a pool shows 100% only when it is full,
 * and one used value in a large pool shows as `<0.1%`, not `0%`.
 */
export function percent(used: number, size: number): string {
  if (size <= 0 || used <= 0) return '0%';
  const tenths = Math.floor((used * 1000) / size);
  if (tenths === 0) return '<0.1%';
  return `${tenths % 10 === 0 ? tenths / 10 : (tenths / 10).toFixed(1)}%`;
}

/**
 * A value as typed on the command line, sent the way the API takes it: whole numbers (decimal or 0x
 * hex) as JSON numbers for integer pools, anything else as a string (IP addresses).
 */
export function valueArgument(text: string): number | string {
  const t = text.trim();
  if (/^(\d+|0x[0-9a-f]+)$/i.test(t)) {
    const n = Number(t);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError('integer values must be below 2^53');
    return n;
  }
  if (t === '') throw new InvalidArgumentError('a value is required');
  return t;
}

/** Runs a command, turning every failure into a message and its exit code. */
function action<A extends unknown[]>(run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const opts = args.find((a): a is ApiOptions => typeof a === 'object' && a !== null && !Array.isArray(a)) ?? {};
    try {
      await run(...args);
    } catch (e) {
      process.exitCode = reportFailure(e, opts);
    }
  };
}

function reportFailure(e: unknown, opts: ApiOptions): number {
  const err = (code: string, message: string, details?: unknown) => {
    if (opts.json) printJson({ error: { code, message, ...(details === undefined ? {} : { details }) } });
    else process.stderr.write(`resource-pool: ${code}: ${message}\n`);
  };
  if (e instanceof ApiError) {
    if (e.code === 'INVALID_CONFIG' && Array.isArray(e.details)) {
      if (opts.json) err(e.code, e.message, e.details);
      else {
        process.stderr.write(`resource-pool: the pool file is rejected, nothing was changed (${e.details.length} error${e.details.length === 1 ? '' : 's'}):\n`);
        for (const d of e.details as { path: string; message: string }[]) process.stderr.write(`  ${d.path}: ${d.message}\n`);
      }
      return EXIT_INVALID;
    }
    err(e.code, e.message, e.details);
    if (!opts.json && e.status === 403 && e.code === 'HTTP_403') {
      process.stderr.write('  The API refused the request: it needs SigV4-signed requests from an identity it allows (use --sign for a custom domain).\n');
    }
    return EXIT_API_ERROR;
  }
  if (e instanceof UnreachableError) {
    err('UNREACHABLE', `cannot reach the resource-pools API at ${e.endpoint}: ${e.message}`);
    if (!opts.json) {
      process.stderr.write('  Start the local stack with `npm start` in the resource-pools checkout, or point --endpoint\n');
      process.stderr.write('  (or RESOURCE_POOLS_ENDPOINT) at a running API.\n');
    }
    return EXIT_UNREACHABLE;
  }
  if (e instanceof SigningError) {
    err('SIGNING_FAILED', e.message);
    return EXIT_USAGE;
  }
  if (e instanceof CliError) {
    err(e.code, e.message);
    return e.exitCode;
  }
  err('INTERNAL', (e as Error).message ?? String(e));
  return EXIT_USAGE;
}

// ---------------------------------------------------------------- commands

async function list(opts: ApiOptions): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: '/v1/pools' });
  const { pools } = body as { pools: PoolJson[] };
  if (opts.json) return printJson(body);
  if (pools.length === 0) return out('No pools yet. Register some with: resource-pool grow -f pools.toml');
  const rows = pools.map((p) => [p.name, p.type, String(p.min), String(p.max), count(p.size), `${count(p.used)} (${percent(p.used, p.size)})`, count(p.free)]);
  out(renderTable(['Name', 'Type', 'Min', 'Max', 'Size', 'Used', 'Free'], rows));
}

async function show(pool: string, opts: ApiOptions): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: `/v1/pools/${segment(pool)}` });
  if (opts.json) return printJson(body);
  const p = body as PoolJson;
  const fields: [string, string][] = [
    ['Name', p.name],
    ['Type', p.type],
    ['Size', count(p.size)],
    ['Used', `${count(p.used)} (${percent(p.used, p.size)})`],
    ['Free', `${count(p.free)} (${count(p.auto_assign_free)} auto-assignable)`],
    ['Min', String(p.min)],
    ['Max', String(p.max)],
    ['Created', p.created_at],
    ['Updated', p.updated_at],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  for (const [k, v] of fields) out(`${`${k}:`.padEnd(width)}${v}`);
  out('');
  out(renderTable(['Start', 'End (exclusive)', 'Size', 'Auto assign'], p.ranges.map((r) => [String(r.start), String(r.end), count(r.size), r.auto_assign ? 'yes' : 'no'])));
}

async function allocate(pool: string, opts: ApiOptions & { owner: string; value?: number | string }): Promise<void> {
  const { status, body } = await client(opts).request({
    method: 'POST',
    path: `/v1/pools/${segment(pool)}/allocations`,
    body: JSON.stringify({ owner: opts.owner, ...(opts.value === undefined ? {} : { value: opts.value }) }),
  });
  if (opts.json) return printJson(body);
  const a = body as AllocationJson;
  if (status === 201) out(`allocated ${a.value} to ${a.owner} from ${a.pool}`);
  else out(`${a.owner} already holds ${a.value} in ${a.pool} (since ${a.allocated_at}); nothing new was allocated`);
}

async function release(pool: string, opts: ApiOptions & { owner: string; value?: number | string }): Promise<void> {
  const api = client(opts);
  if (opts.value === undefined) {
    await api.request({ method: 'DELETE', path: `/v1/pools/${segment(pool)}/owners/${segment(opts.owner)}` });
  } else {
    await api.request({ method: 'DELETE', path: `/v1/pools/${segment(pool)}/allocations/${segment(opts.value)}`, query: { owner: opts.owner } });
  }
  if (opts.json) return printJson({ released: true, pool, owner: opts.owner, value: opts.value ?? null });
  out(opts.value === undefined ? `released what ${opts.owner} held in ${pool}` : `released ${opts.value} (held by ${opts.owner}) in ${pool}`);
}

async function grow(opts: ApiOptions & { file: string; dryRun?: boolean }): Promise<void> {
  let text: string;
  try {
    text = await readFile(opts.file, 'utf8');
  } catch (e) {
    throw new CliError('UNREADABLE_FILE', `cannot read ${opts.file}: ${(e as Error).message}`, EXIT_USAGE);
  }
  const { body } = await client(opts).request({
    method: 'POST',
    path: '/v1/config',
    query: { dry_run: opts.dryRun ? 'true' : 'false' },
    body: text,
    contentType: 'application/toml',
  });
  if (opts.json) return printJson(body);
  const r = body as ConfigResultJson;
  out(r.dry_run ? `${opts.file}: dry run, nothing was changed. Applying it would do this:` : `${opts.file}: applied`);
  out('');
  out(renderTable(['Pool', 'Action', 'Added', 'Size'], r.pools.map((p) => [p.name, p.action, p.added > 0 ? `+${count(p.added)}` : '0', count(p.size)])));
  for (const i of r.ignored) out(`ignored ${i.pool}: ${i.reason}`);
  for (const w of r.warnings) out(`warning: ${w}`);
}

async function syncs(opts: ApiOptions & { limit?: number }): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: '/v1/config/syncs' });
  const all = (body as { syncs: SyncRecord[] }).syncs;
  const shown = opts.limit === undefined ? all : all.slice(0, opts.limit);
  if (opts.json) return printJson({ syncs: shown });
  if (shown.length === 0) return out('No config applications recorded yet.');
  const rows = shown.map((s) => [s.at, s.source, s.status, s.object ? `s3://${s.object.bucket}/${s.object.key}` : '-', syncSummary(s)]);
  out(renderTable(['At', 'Source', 'Status', 'Object', 'Detail'], rows));
}

function syncSummary(s: SyncRecord): string {
  if (s.status === 'rejected') {
    const [first, ...rest] = s.errors ?? [];
    if (!first) return 'rejected';
    return `${first.path}: ${first.message}${rest.length > 0 ? ` (+${rest.length} more)` : ''}`;
  }
  const pools = s.result?.pools ?? [];
  const changed = pools.filter((p) => p.action !== 'unchanged');
  if (changed.length === 0) return pools.length === 0 ? 'no pools' : `${pools.length} pool${pools.length === 1 ? '' : 's'} unchanged`;
  const unchanged = pools.length - changed.length;
  return `${changed.map((p) => `${p.name} ${p.action} +${count(p.added)}`).join(', ')}${unchanged > 0 ? `; ${unchanged} unchanged` : ''}`;
}

/** Follows next_cursor until the check is complete; a pool checked over several calls is summed into one row. */
async function check(opts: ApiOptions & { pool?: string }): Promise<void> {
  const api = client(opts);
  const pools = new Map<string, CheckReport['pools'][number]>();
  let cursor: string | null = null;
  do {
    const query = new URLSearchParams();
    if (opts.pool) query.set('pool', opts.pool);
    if (cursor) query.set('cursor', cursor);
    const { body } = await api.request({ method: 'GET', path: `/v1/check${query.size > 0 ? `?${query}` : ''}` });
    const page = body as CheckReport;
    for (const p of page.pools) {
      const seen = pools.get(p.name);
      pools.set(
        p.name,
        seen
          ? { ...seen, ok: seen.ok && p.ok, used: seen.used + p.used, allocations: seen.allocations + p.allocations, problems: [...seen.problems, ...p.problems] }
          : p,
      );
    }
    cursor = page.next_cursor;
  } while (cursor);
  const report: CheckReport = { ok: [...pools.values()].every((p) => p.ok), pools: [...pools.values()], next_cursor: null };
  if (!report.ok) process.exitCode = EXIT_INVALID;
  if (opts.json) return printJson(report);
  if (report.pools.length === 0) return out('No pools to check.');
  const rows = report.pools.map((p) => [p.name, count(p.size), count(p.used), count(p.allocations), p.problems.length === 0 ? 'ok' : `${p.problems.length} problem${p.problems.length === 1 ? '' : 's'}`]);
  out(renderTable(['Pool', 'Size', 'Used', 'Allocations', 'Status'], rows));
  for (const p of report.pools) for (const problem of p.problems) out(`${p.name}: ${problem}`);
  out(report.ok ? '\nEvery pool agrees with its allocation records.' : '\nDisagreements found: see above.');
}

// ---------------------------------------------------------------- wiring

function positiveInt(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a whole number >= 1');
  return n;
}

function apiCommand(program: Command, name: string): Command {
  return program
    .command(name)
    .option('--endpoint <url>', `API endpoint (default: $RESOURCE_POOLS_ENDPOINT or ${DEFAULT_ENDPOINT}); *.execute-api.<region>.amazonaws.com endpoints are SigV4-signed`)
    .option('--sign', 'SigV4-sign requests with the standard AWS credential chain even for other host names (custom domains; region from AWS_REGION)')
    .option('--json', 'print the API\'s JSON instead of a table (errors as {"error":{"code","message"}})');
}

export function addApiCommands(program: Command): void {
  apiCommand(program, 'list')
    .description('list every pool with its size and use')
    .addHelpText('after', '\nExample:\n  $ resource-pool list\n  $ resource-pool list --json | jq \'.pools[] | select(.utilization > 0.8) | .name\'')
    .action(action(list));

  apiCommand(program, 'show')
    .description('show one pool: counts, bounds and registered ranges')
    .argument('<pool>', 'pool name')
    .addHelpText('after', '\nExample:\n  $ resource-pool show vpc-vni')
    .action(action(show));

  apiCommand(program, 'allocate')
    .description('allocate a value to an owner; the owner is the idempotency key: asking again returns what it already holds')
    .argument('<pool>', 'pool name')
    .requiredOption('--owner <owner>', 'who holds the value: 1-256 printable ASCII characters, no spaces and none of / ? # % \\, not "." or ".."')
    .option('--value <value>', 'this exact value (e.g. 2024731 or 10.180.62.5), also one with auto_assign = false', valueArgument)
    .addHelpText('after', '\nExamples:\n  $ resource-pool allocate vpc-vni --owner vpc-42\n  $ resource-pool allocate lo-ip --owner dpu-7 --value 10.180.62.5\n  $ VNI=$(resource-pool allocate vpc-vni --owner vpc-42 --json | jq .value)')
    .action(action(allocate));

  apiCommand(program, 'release')
    .description('release a value: by value and its owner, or whatever an owner holds')
    .argument('<pool>', 'pool name')
    .requiredOption('--owner <owner>', 'the owner holding the value')
    .option('--value <value>', 'the value to release (must be held by --owner)', valueArgument)
    .addHelpText('after', '\nExamples:\n  $ resource-pool release vpc-vni --owner vpc-42\n  $ resource-pool release lo-ip --value 10.180.62.5 --owner dpu-7')
    .action(action(release));

  apiCommand(program, 'grow')
    .description('apply a pool file additively (POST /v1/config): create pools, add values; nothing is ever removed')
    .requiredOption('-f, --file <file>', 'pool TOML file')
    .option('--dry-run', 'show what would change without changing anything')
    .addHelpText('after', '\nExamples:\n  $ resource-pool grow -f site.toml --dry-run\n  $ resource-pool grow -f site.toml')
    .action(action(grow));

  apiCommand(program, 'syncs')
    .description('recent config applications (S3 uploads, grow, startup), applied or rejected, newest first')
    .option('--limit <n>', 'show at most n', positiveInt)
    .addHelpText('after', '\nExample:\n  $ resource-pool syncs --limit 5')
    .action(action(syncs));

  apiCommand(program, 'check')
    .option('--pool <name>', 'check this pool only')
    .description('recount every pool from its stored state; exit 1 when bitmaps, counters and allocation records disagree')
    .addHelpText('after', '\nExample:\n  $ resource-pool check || echo "pools need attention"')
    .action(action(check));

  for (const name of ['list', 'show', 'allocate', 'release', 'grow', 'syncs', 'check']) {
    program.commands.find((c) => c.name() === name)?.addHelpText('after', EXIT_CODES_HELP);
  }
}
