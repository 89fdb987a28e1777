/**
 * The commands that talk to the API: list, show, allocate, allocations, label, renew, owner, history, who, release,
 * batch, release-batch, grow, syncs, check. Each one is request → answer → table (or, with --json, the API's own JSON, so scripts see the
 * contract's shapes). Error messages point at CLI commands, not at HTTP routes.
 */
import { readFile } from 'node:fs/promises';
import { type Command, InvalidArgumentError, Option } from 'commander';
import type { AllocationJson, ConfigResultJson, HistoryEntryJson, PoolJson } from '../lib/shapes.js';
import type { CheckReport, SyncRecord } from '../lib/model.js';
import { ApiClient, ApiError, DEFAULT_ENDPOINT, EndpointError, segment, SigningError, UnreachableError } from './client.js';
import { EXIT_API_ERROR, EXIT_CODES_HELP, EXIT_INVALID, EXIT_UNREACHABLE, EXIT_USAGE } from './exit-codes.js';
import { blockText, count, maxBlockText, pathValue, percent, sizeText, styleFor, usedCell, valueText } from './format.js';
import { renderTable } from './table.js';

export { percent } from './format.js';

export interface ApiOptions {
  endpoint?: string;
  sign?: boolean;
  json?: boolean;
}

/** A failure the CLI itself reports (usage, files), with its exit code. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function out(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

export function client(opts: ApiOptions): ApiClient {
  return new ApiClient({ endpoint: opts.endpoint || process.env.RESOURCE_POOLS_ENDPOINT || DEFAULT_ENDPOINT, sign: opts.sign });
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

/** `--prefix-length`: a whole number 0-128 (the API checks it against the pool). */
export function prefixLengthArgument(text: string): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || n > 128) throw new InvalidArgumentError('expected a prefix length, a whole number 0-128 such as 24 (for a /24)');
  return n;
}

/** `--size`: a whole number >= 1 (a power of two, which the API checks against the pool). */
export function blockSizeArgument(text: string): number {
  const t = text.trim();
  const n = Number(t);
  if (!/^\d+$/.test(t) || n < 1 || !Number.isSafeInteger(n)) throw new InvalidArgumentError('expected a block size, a whole number >= 1 and a power of two such as 16');
  return n;
}

/** What a failure was about, for hints that name the command to run next. */
interface FailureContext {
  command: string;
  pool?: string;
}

/** Runs a command, turning every failure into a message and its exit code. */
export function action<A extends unknown[]>(command: string, run: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    const opts = args.find((a): a is ApiOptions => typeof a === 'object' && a !== null && !Array.isArray(a)) ?? {};
    // Every command with a positional argument takes the pool first.
    const pool = typeof args[0] === 'string' ? args[0] : (opts as { pool?: string }).pool;
    try {
      await run(...args);
    } catch (e) {
      process.exitCode = reportFailure(e, opts, { command, pool });
    }
  };
}

/**
 * The CLI command that helps next, for an API error in text mode (--json keeps the API's message as it
 * is): the API's own messages are about HTTP, a CLI user needs the command.
 */
export function hintFor(code: string, ctx: FailureContext): string | undefined {
  const pool = ctx.pool ?? '<pool>';
  // A batch names many pools: the items listed below the message say which.
  if (BATCH_COMMANDS.includes(ctx.command) && code !== 'POOL_NOT_FOUND' && code !== 'NOT_FOUND') return undefined;
  switch (code) {
    case 'POOL_NOT_FOUND':
      return '`resource-pool list` lists them';
    case 'NOT_ALLOCATED':
      return ctx.command === 'release'
        ? `\`resource-pool allocations ${pool}\` lists what is held; \`release --if-held\` makes releasing nothing succeed`
        : `\`resource-pool allocations ${pool}\` lists what is held`;
    case 'VALUE_IN_USE':
    case 'OWNER_MISMATCH':
      return `\`resource-pool who ${pool} <value>\` says who holds it`;
    case 'OWNER_CONFLICT':
      return `\`resource-pool release ${pool} --owner <owner>\` frees what the owner holds; one owner holds one value or block per pool`;
    case 'RESOURCE_EXHAUSTED':
      return `\`resource-pool show ${pool}\` shows its ranges; \`resource-pool grow -f <file>\` adds values`;
    case 'NOT_FOUND':
      return 'this API does not serve what the CLI asked for: is it an older resource-pools than this CLI (`resource-pool --version`)?';
    default:
      return undefined;
  }
}

/** An API message without the HTTP route it may point at (`…; GET /v1/openapi.json lists the routes`). */
function withoutRoutes(message: string): string {
  return message.replace(/;\s*(GET|POST|PUT|PATCH|DELETE) \/v1\/\S*[^;]*$/, '');
}

function reportFailure(e: unknown, opts: ApiOptions, ctx: FailureContext): number {
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
    if (opts.json) err(e.code, e.message, e.details);
    else {
      const hint = hintFor(e.code, ctx);
      err(e.code, `${withoutRoutes(e.message)}${hint ? `; ${hint}` : ''}`);
      // A batch's failures, item by item (index 0 is the first item of the file).
      for (const d of itemFailures(e.details)) process.stderr.write(`  item ${d.index}: ${d.code}: ${d.message}\n`);
    }
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
  if (e instanceof EndpointError) {
    err('INVALID_ENDPOINT', `${e.message}; set it with --endpoint or RESOURCE_POOLS_ENDPOINT`);
    return EXIT_USAGE;
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

/** The `{index, code, message}` entries of a batch's error details; none for any other error. */
function itemFailures(details: unknown): { index: number; code: string; message: string }[] {
  if (!Array.isArray(details)) return [];
  return details.filter((d): d is { index: number; code: string; message: string } => typeof d === 'object' && d !== null && typeof d.index === 'number' && typeof d.code === 'string' && typeof d.message === 'string');
}

// ---------------------------------------------------------------- commands

async function list(opts: ApiOptions): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: '/v1/pools' });
  const { pools } = body as { pools: PoolJson[] };
  if (opts.json) return printJson(body);
  if (pools.length === 0) return out('No pools yet. Register some with: resource-pool grow -f pools.toml');
  const style = styleFor(process.stdout);
  // A Scope column only once some pool has one: a site with none sees the table it always saw.
  const scoped = pools.some((p) => p.scope !== null && p.scope !== undefined);
  const rows = pools.map((p) => [p.name, p.type, ...(scoped ? [p.scope ?? '(default)'] : []), String(p.min), String(p.max), count(p.size), usedCell(p, style), count(p.free)]);
  out(renderTable(['Name', 'Type', ...(scoped ? ['Scope'] : []), 'Min', 'Max', 'Size', 'Used', 'Free'], rows));
}

async function show(pool: string, opts: ApiOptions): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: `/v1/pools/${segment(pool)}` });
  if (opts.json) return printJson(body);
  const p = body as PoolJson;
  const fields: [string, string][] = [
    ['Name', p.name],
    ['Type', p.type],
    ...(p.delegate_prefix_len === undefined ? [] : [['Delegates', `/${p.delegate_prefix_len} prefixes: each value is one /${p.delegate_prefix_len}`] as [string, string]]),
    ...(p.scope === null || p.scope === undefined ? [] : [['Scope', p.scope] as [string, string]]),
    ...(p.allocation_order === undefined ? [] : [['Order', p.allocation_order === 'lowest' ? 'lowest free value first' : 'random'] as [string, string]]),
    ['Size', count(p.size)],
    ['Used', `${count(p.used)} (${percent(p.used, p.size)})`],
    ['Free', `${count(p.free)} (${count(p.auto_assign_free)} auto-assignable)`],
    ['Min', String(p.min)],
    ['Max', String(p.max)],
    ['Max block', maxBlockText(p)],
    ...(p.disabled ? [['Disabled', 'yes: takes no new allocation (`resource-pool enable` resumes it)'] as [string, string]] : []),
    ['Created', p.created_at],
    ['Updated', p.updated_at],
  ];
  const width = Math.max(...fields.map(([k]) => k.length)) + 2;
  for (const [k, v] of fields) out(`${`${k}:`.padEnd(width)}${v}`);
  out('');
  out(renderTable(['Start', 'End (exclusive)', 'Size', 'Auto assign'], p.ranges.map((r) => [String(r.start), String(r.end), count(r.size), r.auto_assign ? 'yes' : 'no'])));
}

async function allocate(pool: string, opts: ApiOptions & { owner: string; value?: number | string; prefixLength?: number; size?: number; label?: Record<string, string>; lease?: number }): Promise<void> {
  const { status, body } = await client(opts).request({
    method: 'POST',
    path: `/v1/pools/${segment(pool)}/allocations`,
    body: JSON.stringify({
      owner: opts.owner,
      ...(opts.value === undefined ? {} : { value: opts.value }),
      ...(opts.prefixLength === undefined ? {} : { prefix_length: opts.prefixLength }),
      ...(opts.size === undefined ? {} : { size: opts.size }),
      ...(opts.label === undefined ? {} : { labels: opts.label }),
      ...(opts.lease === undefined ? {} : { lease_seconds: opts.lease }),
    }),
  });
  if (opts.json) return printJson(body);
  const a = body as AllocationJson;
  if (status === 201) out(`allocated ${blockText(a)} to ${a.owner} from ${a.pool}${leaseText(a)}`);
  else out(`${a.owner} already holds ${blockText(a)} in ${a.pool} (since ${a.allocated_at}${a.expires_at ? `, leased until ${a.expires_at}; renew extends it` : ''}); nothing new was allocated`);
}

function leaseText(a: AllocationJson): string {
  return a.expires_at ? `, leased until ${a.expires_at}` : '';
}

/** `--lease SECONDS`: a whole number; the API says whether it is within the range it takes. */
function leaseArgument(text: string): number {
  const t = text.trim();
  if (!/^\d+$/.test(t)) throw new InvalidArgumentError('expected a lease in whole seconds, from 60 to 31536000 (a year)');
  return Number(t);
}

/** `renew <pool> --owner O --lease SECONDS`: the lease runs for SECONDS from now (turned on if the allocation had none). */
async function renew(pool: string, opts: ApiOptions & { owner: string; lease: number }): Promise<void> {
  const { body } = await client(opts).request({ method: 'PATCH', path: `/v1/pools/${segment(pool)}/owners/${segment(opts.owner)}`, body: JSON.stringify({ lease_seconds: opts.lease }) });
  if (opts.json) return printJson(body);
  const a = body as AllocationJson;
  out(`${a.owner} holds ${blockText(a)} in ${a.pool}, leased until ${a.expires_at}`);
}

/** Every allocation of a pool, in value order, following next_cursor (pages of 1,000 unless --page-size). */
async function allocations(pool: string, opts: ApiOptions & { pageSize: number; label?: Record<string, string> }): Promise<void> {
  const label = Object.entries(opts.label ?? {}).map(([k, v]) => `${k}:${v}`);
  const api = client(opts);
  const all: AllocationJson[] = [];
  let cursor: string | null = null;
  do {
    const { body } = await api.request({ method: 'GET', path: `/v1/pools/${segment(pool)}/allocations`, query: { limit: String(opts.pageSize), cursor: cursor ?? undefined, label } });
    const page = body as { allocations: AllocationJson[]; next_cursor: string | null };
    all.push(...page.allocations);
    cursor = page.next_cursor;
  } while (cursor);
  if (opts.json) return printJson({ allocations: all, next_cursor: null });
  if (all.length === 0) return out(`No allocations in ${pool}.`);
  out(renderTable(['Value', 'Size', 'Owner', 'Labels', 'Allocated'], all.map((a) => [valueText(a), sizeText(a), a.owner, labelsText(a.labels), a.allocated_at])));
}

function labelsText(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
}

/** `label <pool> --owner O key=value… key-`: sets or (with a trailing `-`, as kubectl label does) removes labels. */
async function label(pool: string, changes: string[], opts: ApiOptions & { owner: string }): Promise<void> {
  const patch: Record<string, string | null> = {};
  for (const c of changes) {
    const eq = c.indexOf('=');
    if (eq > 0) patch[c.slice(0, eq)] = c.slice(eq + 1);
    else if (c.endsWith('-') && c.length > 1) patch[c.slice(0, -1)] = null;
    else throw new CliError('USAGE', `label changes are key=value (set) or key- (remove); got ${JSON.stringify(c)}`, EXIT_USAGE);
  }
  const { body } = await client(opts).request({ method: 'PATCH', path: `/v1/pools/${segment(pool)}/owners/${segment(opts.owner)}`, body: JSON.stringify({ labels: patch }) });
  if (opts.json) return printJson(body);
  const a = body as AllocationJson;
  out(`${a.owner} in ${a.pool} (${blockText(a)}) now carries: ${labelsText(a.labels) || 'no labels'}`);
}

/** Everything an owner holds, in every pool. */
async function owner(name: string, opts: ApiOptions): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: `/v1/owners/${segment(name)}` });
  if (opts.json) return printJson(body);
  const held = (body as { allocations: AllocationJson[] }).allocations;
  if (held.length === 0) return out(`${name} holds nothing.`);
  out(renderTable(['Pool', 'Value', 'Size', 'Labels', 'Allocated'], held.map((a) => [a.pool, valueText(a), sizeText(a), labelsText(a.labels), a.allocated_at])));
}

/**
 * `history <pool> [--value V | --owner O] [--since T] [--until T] [--limit N]`: newest first, every
 * page (following next_cursor), or the newest N entries.
 */
async function history(pool: string, opts: ApiOptions & { value?: string | number; owner?: string; since?: string; until?: string; limit?: number }): Promise<void> {
  if (opts.value !== undefined && opts.owner !== undefined) throw new CliError('USAGE', 'give --value or --owner, not both', EXIT_USAGE);
  const path =
    opts.value !== undefined
      ? `/v1/pools/${segment(pool)}/allocations/${segment(pathValue(opts.value))}/history`
      : opts.owner !== undefined
        ? `/v1/pools/${segment(pool)}/owners/${segment(opts.owner)}/history`
        : `/v1/pools/${segment(pool)}/history`;
  const api = client(opts);
  const all: HistoryEntryJson[] = [];
  let cursor: string | null = null;
  do {
    const want = opts.limit === undefined ? 1000 : Math.min(1000, opts.limit - all.length);
    const { body } = await api.request({ method: 'GET', path, query: { limit: String(want), cursor: cursor ?? undefined, since: opts.since, until: opts.until } });
    const page = body as { history: HistoryEntryJson[]; next_cursor: string | null };
    all.push(...page.history);
    cursor = page.next_cursor;
  } while (cursor && (opts.limit === undefined || all.length < opts.limit));
  if (opts.json) return printJson({ history: all, next_cursor: null });
  if (all.length === 0) return out(`No history${opts.value !== undefined ? ` of ${opts.value}` : opts.owner !== undefined ? ` of ${opts.owner}` : ''} in ${pool}${opts.since ? ` since ${opts.since}` : ''}.`);
  out(renderTable(['At', 'Event', 'Value', 'Owner', 'By', 'Labels'], all.map((e) => [e.at, e.event.replace('_', ' '), valueText(e), e.owner, e.by, labelsText(e.labels)])));
}

/** `--label key=value`, repeatable, collected into one map. */
function labelOption(text: string, previous: Record<string, string> = {}): Record<string, string> {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new InvalidArgumentError(`expected key=value; got ${JSON.stringify(text)}`);
  return { ...previous, [text.slice(0, eq)]: text.slice(eq + 1) };
}

/** Who holds a value; any value inside a block answers the block. */
async function who(pool: string, value: number | string, opts: ApiOptions): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: `/v1/pools/${segment(pool)}/allocations/${segment(pathValue(value))}` });
  if (opts.json) return printJson(body);
  const a = body as AllocationJson;
  const what = a.size > 1 || String(a.value) !== String(value) ? `: ${blockText(a)}` : '';
  out(`${value} in ${a.pool} is held by ${a.owner}${what}, since ${a.allocated_at}`);
}

/**
 * The API's DELETE answers 204 with no body, so release first looks up what it is about to free (by
 * owner, or the allocation holding --value), then releases exactly that allocation: by its first value
 * and the owner. If it changed in between, the DELETE says so (NOT_ALLOCATED: released meanwhile;
 * OWNER_MISMATCH: someone else holds it now) and nothing else is freed. The one change it cannot see is
 * the owner releasing and re-allocating a block that starts at the same value in between.
 */
async function release(pool: string, opts: ApiOptions & { owner: string; value?: number | string; ifHeld?: boolean }): Promise<void> {
  const api = client(opts);
  let held: AllocationJson;
  try {
    const lookup = opts.value === undefined ? `/owners/${segment(opts.owner)}` : `/allocations/${segment(pathValue(opts.value))}`;
    held = (await api.request({ method: 'GET', path: `/v1/pools/${segment(pool)}${lookup}` })).body as AllocationJson;
    await api.request({ method: 'DELETE', path: `/v1/pools/${segment(pool)}/allocations/${segment(pathValue(held.value))}`, query: { owner: opts.owner } });
  } catch (e) {
    if (!(opts.ifHeld && e instanceof ApiError && e.code === 'NOT_ALLOCATED')) throw e;
    if (opts.json) return printJson({ released: false, pool, owner: opts.owner, value: opts.value ?? null, size: 0 });
    return out(`${opts.value === undefined ? `${opts.owner} holds nothing` : `${opts.value} is not allocated`} in ${pool}; nothing was released (--if-held)`);
  }
  if (opts.json) return printJson({ released: true, ...held });
  out(`released ${blockText(held)} held by ${held.owner} in ${held.pool}`);
}

const BATCH_COMMANDS = ['batch', 'release-batch'];

/** A JSON file (or `-`, standard input) as the text to send, once it is known to be JSON. */
async function jsonFile(file: string): Promise<string> {
  let text: string;
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  } catch (e) {
    throw new CliError('UNREADABLE_FILE', `cannot read ${file}: ${(e as Error).message}`, EXIT_USAGE);
  }
  try {
    JSON.parse(text);
  } catch (e) {
    throw new CliError('INVALID_JSON', `${file} is not JSON: ${(e as Error).message}`, EXIT_USAGE);
  }
  return text;
}

export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** `batch -f <file.json>`: the file is the body of POST /v1/allocations; all of it is allocated, or nothing. */
async function batch(opts: ApiOptions & { file: string }): Promise<void> {
  const { status, body } = await client(opts).request({ method: 'POST', path: '/v1/allocations', body: await jsonFile(opts.file) });
  if (opts.json) return printJson(body);
  const { allocations: held } = body as { allocations: AllocationJson[] };
  const pools = new Set(held.map((a) => a.pool)).size;
  out(
    status === 201
      ? `allocated ${held.length} item${held.length === 1 ? '' : 's'} in ${pools} pool${pools === 1 ? '' : 's'}, all at once:`
      : `every item was already held as asked; nothing new was allocated:`,
  );
  out(renderTable(['Pool', 'Value', 'Size', 'Owner', 'Labels'], held.map((a) => [a.pool, valueText(a), sizeText(a), a.owner, labelsText(a.labels)])));
}

/** `release-batch -f <file.json>`: the file is the body of POST /v1/releases; released in one step. */
async function releaseBatch(opts: ApiOptions & { file: string }): Promise<void> {
  const { body } = await client(opts).request({ method: 'POST', path: '/v1/releases', body: await jsonFile(opts.file) });
  if (opts.json) return printJson(body);
  const { releases } = body as { releases: { pool: string; owner: string; released: boolean }[] };
  const released = releases.filter((r) => r.released).length;
  out(`released ${released} of ${releases.length}${released < releases.length ? ' (the others held nothing there)' : ''}:`);
  out(renderTable(['Pool', 'Owner', 'Released'], releases.map((r) => [r.pool, r.owner, r.released ? 'yes' : 'no (held nothing)'])));
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

async function syncs(opts: ApiOptions & { limit?: number; allErrors?: boolean }): Promise<void> {
  const { body } = await client(opts).request({ method: 'GET', path: '/v1/config/syncs' });
  const all = (body as { syncs: SyncRecord[] }).syncs;
  const shown = opts.limit === undefined ? all : all.slice(0, opts.limit);
  if (opts.json) return printJson({ syncs: shown });
  if (shown.length === 0) return out('No config applications recorded yet.');
  const where = (s: SyncRecord) => (s.object ? `s3://${s.object.bucket}/${s.object.key}` : '-');
  const rows = shown.map((s) => [s.at, s.source, s.status, where(s), syncSummary(s, opts.allErrors === true)]);
  out(renderTable(['At', 'Source', 'Status', 'Object', 'Detail'], rows));
  if (!opts.allErrors) return;
  for (const s of shown.filter((r) => r.status === 'rejected' && (r.errors?.length ?? 0) > 0)) {
    out('');
    out(`${s.at} ${s.source} ${where(s)}: rejected, ${s.errors!.length} error${s.errors!.length === 1 ? '' : 's'}`);
    for (const e of s.errors!) out(`  ${e.path}: ${e.message}`);
  }
}

/** One line per sync; a rejection shows its first error, and with --all-errors every error follows the table. */
function syncSummary(s: SyncRecord, allErrors: boolean): string {
  if (s.status === 'rejected') {
    const [first, ...rest] = s.errors ?? [];
    if (!first) return 'rejected';
    const more = rest.length === 0 ? '' : allErrors ? ` (+${rest.length} more, below)` : ` (+${rest.length} more; --all-errors shows them)`;
    return `${first.path}: ${first.message}${more}`;
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

function pageSize(text: string): number {
  const n = positiveInt(text);
  if (n > 1000) throw new InvalidArgumentError('expected a whole number 1-1000');
  return n;
}

export function apiCommand(program: Command, name: string): Command {
  return program
    .command(name)
    .option('--endpoint <url>', `API endpoint (default: $RESOURCE_POOLS_ENDPOINT or ${DEFAULT_ENDPOINT}); *.execute-api.<region>.amazonaws.com endpoints are SigV4-signed`)
    .option('--sign', 'SigV4-sign requests with the standard AWS credential chain even for other host names (custom domains; region from AWS_REGION)')
    .option('--json', 'print the API\'s JSON instead of a table (errors as {"error":{"code","message"}})');
}

/** `repair`: what `check --repair` runs (cli/lifecycle.ts, which builds on this file's helpers). */
export function addApiCommands(program: Command, repair: (opts: ApiOptions & { pool?: string; dryRun?: boolean }) => Promise<void>): void {
  apiCommand(program, 'list')
    .description('list every pool with its size and use; Used is flagged HIGH from 80% and FULL when no value is free')
    .addHelpText(
      'after',
      `
On a terminal, Used also has a ten-cell bar, and HIGH and FULL are coloured (unless NO_COLOR is set);
piped or redirected output is plain text, the same every time.

Example:
  $ resource-pool list
  $ resource-pool list --json | jq '.pools[] | select(.utilization >= 0.8) | .name'`,
    )
    .action(action('list', list));

  apiCommand(program, 'show')
    .description('show one pool: counts, bounds, the largest block, registered ranges (and the delegated length of a prefix pool)')
    .argument('<pool>', 'pool name')
    .addHelpText('after', '\nExample:\n  $ resource-pool show vpc-vni')
    .action(action('show', show));

  apiCommand(program, 'allocate')
    .description('allocate a value or an aligned block to an owner; the owner is the idempotency key: asking again returns what it already holds')
    .argument('<pool>', 'pool name')
    .requiredOption('--owner <owner>', 'who holds the value: 1-256 printable ASCII characters, no spaces and none of / ? # % \\, not "." or ".."')
    .option('--value <value>', 'this exact value (e.g. 2024731 or 10.180.62.5), also one with auto_assign = false; with a block, its first value', valueArgument)
    .addOption(new Option('--prefix-length <n>', 'a block: one CIDR of this length (IP and prefix pools), e.g. 24 for a /24').argParser(prefixLengthArgument).conflicts('size'))
    .addOption(new Option('--size <n>', 'a block: this many values, a power of two starting at a multiple of it (integer pools)').argParser(blockSizeArgument))
    .option('--label <key=value>', 'a label the allocation carries (repeatable)', labelOption)
    .option('--lease <seconds>', 'a lease: released by the service once it runs out, unless renewed (60 to 31536000 seconds); asking again does not renew it, renew does', leaseArgument)
    .addHelpText(
      'after',
      '\nExamples:\n  $ resource-pool allocate vpc-vni --owner vpc-42\n  $ resource-pool allocate lo-ip --owner job-7 --lease 3600\n  $ resource-pool allocate lo-ip --owner dpu-7 --value 10.180.62.5\n  $ resource-pool allocate tenant-v4 --owner tenant-3 --prefix-length 24   # 10.0.16.0/24 (256 values)\n  $ resource-pool allocate tenant-vlan --owner rack-4 --size 16\n  $ VNI=$(resource-pool allocate vpc-vni --owner vpc-42 --json | jq .value)',
    )
    .action(action('allocate', allocate));

  apiCommand(program, 'allocations')
    .description('list the allocations of a pool in value order, every page (follows next_cursor)')
    .argument('<pool>', 'pool name')
    .addOption(new Option('--page-size <n>', 'allocations per request, 1-1000').argParser(pageSize).default(1000))
    .option('--label <key=value>', 'only allocations carrying this label (repeatable: all must match)', labelOption)
    .addHelpText('after', '\nExamples:\n  $ resource-pool allocations vpc-vni\n  $ resource-pool allocations vpc-vni --json | jq -r \'.allocations[] | "\\(.value) \\(.owner)"\'')
    .action(action('allocations', allocations));

  apiCommand(program, 'label')
    .description("change the labels of what an owner holds: key=value sets, key- removes; the value and the owner never change")
    .argument('<pool>', 'pool name')
    .argument('<changes...>', 'key=value to set, key- to remove')
    .requiredOption('--owner <owner>', 'the owner whose allocation is labelled')
    .addHelpText('after', '\nExamples:\n  $ resource-pool label vpc-vni --owner vpc-42 site=dc1 tier=gold\n  $ resource-pool label vpc-vni --owner vpc-42 tier-')
    .action(action('label', label));

  apiCommand(program, 'renew')
    .description('renew the lease of what an owner holds for SECONDS from now, or turn a lease on; NOT_ALLOCATED when it already ran out and was released')
    .argument('<pool>', 'pool name')
    .requiredOption('--owner <owner>', 'the owner whose allocation is renewed')
    .requiredOption('--lease <seconds>', 'how long from now, 60 to 31536000 seconds (a year)', leaseArgument)
    .addHelpText('after', '\nExamples:\n  $ resource-pool renew lo-ip --owner job-7 --lease 3600\n  $ resource-pool renew lo-ip --owner job-7 --lease 3600 --json | jq -r .expires_at')
    .action(action('renew', renew));

  apiCommand(program, 'owner')
    .description('everything an owner holds, in every pool (a VPC\'s VNI, VLAN and loopbacks)')
    .argument('<owner>', 'the owner')
    .addHelpText('after', '\nExample:\n  $ resource-pool owner vpc-42')
    .action(action('owner', owner));

  apiCommand(program, 'history')
    .description('who held what and when in a pool, newest first: every allocation, release and label change with its caller (follows next_cursor)')
    .argument('<pool>', 'pool name')
    .option('--value <value>', 'only this value (any value of a block finds the block)', valueArgument)
    .option('--owner <owner>', 'only what this owner held in the pool')
    .option('--since <time>', 'only entries at or after this ISO 8601 time, e.g. 2026-11-24 or 2026-11-24T08:00:00Z')
    .option('--until <time>', 'only entries at or before this ISO 8601 time')
    .option('--limit <n>', 'only the newest n entries', positiveInt)
    .addHelpText(
      'after',
      '\nExamples:\n  $ resource-pool history lo-ip --value 10.180.62.5 --since 2026-11-24   # who held it last week\n  $ resource-pool history vpc-vni --owner vpc-42\n  $ resource-pool history vpc-vni --limit 20 --json | jq -r \'.history[] | "\\(.at) \\(.event) \\(.owner)"\'',
    )
    .action(action('history', history));

  apiCommand(program, 'who')
    .description('who holds a value; a value inside a block answers the whole block')
    .argument('<pool>', 'pool name')
    .argument('<value>', 'a value (2024731, 10.0.16.7, 2001:db8:100:5::), or a block by its CIDR or first value', valueArgument)
    .addHelpText('after', '\nExamples:\n  $ resource-pool who vpc-vni 2024731\n  $ resource-pool who tenant-v4 10.0.16.77   # the /24 holding it')
    .action(action('who', who));

  apiCommand(program, 'release')
    .description('release a value or block, by its owner or by value and owner, and say what was freed')
    .argument('<pool>', 'pool name')
    .requiredOption('--owner <owner>', 'the owner holding the value')
    .option('--value <value>', 'the value to release, or any value of the block (must be held by --owner)', valueArgument)
    .option('--if-held', 'releasing what is not held (NOT_ALLOCATED) succeeds, exit 0, "released": false: for scripts that release more than once')
    .addHelpText(
      'after',
      '\nExamples:\n  $ resource-pool release vpc-vni --owner vpc-42\n  $ resource-pool release lo-ip --value 10.180.62.5 --owner dpu-7\n  $ resource-pool release vpc-vni --owner vpc-42 --if-held   # exit 0 if it holds nothing',
    )
    .action(action('release', release));

  apiCommand(program, 'batch')
    .description('allocate a batch of 1-25 values or blocks in one or several pools, all or nothing; asking again answers what is held')
    .requiredOption('-f, --file <file.json>', 'the body of POST /v1/allocations: {"allocations":[{"pool","owner","value"?,"prefix_length"?,"size"?,"labels"?,"lease_seconds"?}…]}; - reads standard input')
    .addHelpText(
      'after',
      `
Either every item is held as asked when it answers, or nothing was allocated; an error lists the
items that failed (item 0 is the first of the file).

Example:
  $ cat vpc-42.json
  {"allocations":[{"pool":"vpc-vni","owner":"vpc-42"},{"pool":"tenant-vlan","owner":"vpc-42"},
                  {"pool":"vpc-dpu-lo","owner":"vpc-42:dpu-1"},{"pool":"lo-ip","owner":"vpc-42:gw","value":"10.180.62.9"}]}
  $ resource-pool batch -f vpc-42.json
  $ resource-pool batch -f vpc-42.json --json | jq -r '.allocations[] | "\\(.pool) \\(.value)"'`,
    )
    .action(action('batch', batch));

  apiCommand(program, 'release-batch')
    .description('release 1-25 (pool, owner) holdings in one step; an owner that holds nothing there is "released": false')
    .requiredOption('-f, --file <file.json>', 'the body of POST /v1/releases: {"releases":[{"pool","owner"}…]}; - reads standard input')
    .addHelpText(
      'after',
      `
Example:
  $ echo '{"releases":[{"pool":"vpc-vni","owner":"vpc-42"},{"pool":"tenant-vlan","owner":"vpc-42"}]}' | resource-pool release-batch -f -`,
    )
    .action(action('release-batch', releaseBatch));

  apiCommand(program, 'grow')
    .description('apply a pool file additively: create pools, add values; nothing is ever removed')
    .requiredOption('-f, --file <file>', 'pool TOML file')
    .option('--dry-run', 'show what would change without changing anything')
    .addHelpText('after', '\nExamples:\n  $ resource-pool grow -f site.toml --dry-run\n  $ resource-pool grow -f site.toml')
    .action(action('grow', grow));

  apiCommand(program, 'syncs')
    .description('recent config applications (S3 uploads, grow, startup), applied or rejected, newest first')
    .option('--limit <n>', 'show at most n', positiveInt)
    .option('--all-errors', 'list every error of each rejected file after the table (the table shows the first)')
    .addHelpText('after', '\nExamples:\n  $ resource-pool syncs --limit 5\n  $ resource-pool syncs --limit 1 --all-errors')
    .action(action('syncs', syncs));

  apiCommand(program, 'check')
    .option('--pool <name>', 'check this pool only')
    .option('--repair', 'mend what check finds and a second read confirms (leaked bits, clear bits of a record, wrong counts); each mend is recorded in history')
    .option('--dry-run', 'with --repair: list what would be mended, and change nothing')
    .description('recount every pool from its stored state; exit 1 when bitmaps, counters and allocation records disagree (with --repair: when something was mended)')
    .addHelpText('after', '\nExamples:\n  $ resource-pool check || echo "pools need attention"\n  $ resource-pool check --repair --dry-run --pool lo-ip')
    .action(action('check', (opts: ApiOptions & { pool?: string; repair?: boolean; dryRun?: boolean }) => (opts.repair ? repair(opts) : check(opts))));

  for (const name of ['list', 'show', 'allocate', 'allocations', 'label', 'renew', 'owner', 'history', 'who', 'release', 'batch', 'release-batch', 'grow', 'syncs', 'check']) {
    program.commands.find((c) => c.name() === name)?.addHelpText('after', EXIT_CODES_HELP);
  }
}
