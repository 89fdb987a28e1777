/**
 * The pool lifecycle commands: disable, enable, delete, retire, import, and check's --repair. Each
 * says what changed in the operator's terms (`retired 256 values from lo-ip; size 62 -> 0`); delete
 * and retire ask before they act when run in a terminal, unless --yes.
 */
import { createReadStream } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { type Command, InvalidArgumentError } from 'commander';
import type { PoolJson } from '../lib/shapes.js';
import { segment } from './client.js';
import { action, apiCommand, type ApiOptions, CliError, client, out, printJson, valueArgument } from './commands.js';
import { EXIT_CODES_HELP, EXIT_INVALID, EXIT_USAGE } from './exit-codes.js';
import { count } from './format.js';
import { renderTable } from './table.js';

/** What one import call takes: the API's limit. */
const IMPORT_CALL_ITEMS = 1000;

async function getPool(opts: ApiOptions, pool: string): Promise<PoolJson> {
  return (await client(opts).request({ method: 'GET', path: `/v1/pools/${segment(pool)}` })).body as PoolJson;
}

async function setDisabled(pool: string, disabled: boolean, opts: ApiOptions): Promise<void> {
  const { body } = await client(opts).request({ method: 'PATCH', path: `/v1/pools/${segment(pool)}`, body: JSON.stringify({ disabled }) });
  if (opts.json) return printJson(body);
  const p = body as PoolJson;
  out(
    disabled
      ? `disabled ${p.name}: it takes no new allocation (lookups, releases and imports still work); ${count(p.used)} of ${count(p.size)} held`
      : `enabled ${p.name}: it takes allocations again; ${count(p.free)} of ${count(p.size)} free`,
  );
}

/**
 * Asks on a terminal before a change that cannot be taken back by the same command; elsewhere (a
 * script, a pipe) the command runs as asked, as --yes.
 */
async function confirmed(question: string, opts: { yes?: boolean }): Promise<boolean> {
  if (opts.yes || !process.stdin.isTTY || !process.stderr.isTTY) return true;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await new Promise<string>((resolve) => rl.question(`${question} [y/N] `, resolve));
    return /^y(es)?$/i.test(answer.trim());
  } finally {
    rl.close();
  }
}

async function deletePool(pool: string, opts: ApiOptions & { yes?: boolean }): Promise<void> {
  const before = await getPool(opts, pool);
  if (!(await confirmed(`delete pool ${pool} (${count(before.size)} values, ${count(before.used)} held)?`, opts))) return void out('nothing was deleted');
  await client(opts).request({ method: 'DELETE', path: `/v1/pools/${segment(pool)}` });
  if (opts.json) return printJson({ deleted: pool });
  out(`deleted pool ${pool} (${count(before.size)} values); its name and values are free to register again`);
}

/** `--range START-END` (END exclusive, as in pool files): integers or IPv4 addresses; IPv6 by CIDR with --value. */
export function rangeArgument(text: string, previous: { start: number | string; end: number | string }[] = []): { start: number | string; end: number | string }[] {
  const parts = text.split('-');
  if (parts.length !== 2 || !parts[0].trim() || !parts[1].trim()) {
    throw new InvalidArgumentError('expected START-END with END exclusive, e.g. 1000-1100 or 10.180.63.0-10.180.64.0 (an IPv6 run: --value with its CIDR)');
  }
  return [...previous, { start: valueArgument(parts[0]), end: valueArgument(parts[1]) }];
}

function values(text: string, previous: (number | string)[] = []): (number | string)[] {
  return [...previous, valueArgument(text)];
}

async function retire(pool: string, opts: ApiOptions & { range?: { start: number | string; end: number | string }[]; value?: (number | string)[]; dryRun?: boolean; yes?: boolean }): Promise<void> {
  if (!opts.range?.length && !opts.value?.length) throw new CliError('USAGE', 'name what to retire: --range START-END or --value V (repeatable)', EXIT_USAGE);
  const body = JSON.stringify({ ...(opts.range?.length ? { ranges: opts.range } : {}), ...(opts.value?.length ? { values: opts.value } : {}) });
  const api = client(opts);
  const ask = (dryRun: boolean) => api.request({ method: 'POST', path: `/v1/pools/${segment(pool)}/retire`, query: { dry_run: dryRun ? 'true' : 'false' }, body });
  if (!opts.dryRun) {
    // The dry run says how many values the question is about; nothing changes until the answer.
    const preview = (await ask(true)).body as { retired: number; pool: PoolJson };
    if (!(await confirmed(`retire ${count(preview.retired)} values from ${pool} (size ${count(preview.pool.size)} -> ${count(preview.pool.size - preview.retired)})?`, opts))) return void out('nothing was retired');
  }
  const { body: answer } = await ask(opts.dryRun === true);
  if (opts.json) return printJson(answer);
  const r = answer as { retired: number; pool: PoolJson };
  if (opts.dryRun) return void out(`dry run: would retire ${count(r.retired)} values from ${pool}; size ${count(r.pool.size)} -> ${count(r.pool.size - r.retired)}; nothing was changed`);
  out(`retired ${count(r.retired)} values from ${pool}; size ${count(r.pool.size + r.retired)} -> ${count(r.pool.size)}`);
  out('take them out of the site\'s pools file too: registration is additive, and a file that holds them adds them back');
}

interface ImportItemJson {
  value: number | string;
  owner: string;
  allocated_at?: string;
  [field: string]: unknown;
}

/** The items of a JSON file: the body of the import route, or a bare list of its items. */
async function* jsonItems(file: string): AsyncGenerator<ImportItemJson> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(file, 'utf8'));
  } catch (e) {
    throw new CliError('INVALID_FILE', `cannot read ${file} as JSON: ${(e as Error).message}`, EXIT_USAGE);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { allocations?: unknown } | null)?.allocations;
  if (!Array.isArray(list)) throw new CliError('INVALID_FILE', `${file}: expected {"allocations":[{"value","owner"}…]} or a list of such items`, EXIT_USAGE);
  yield* list as ImportItemJson[];
}

/**
 * The rows of a CSV file, `value,owner[,allocated_at]`, read line by line (a file of any size); a
 * first line naming the columns is skipped. Values of an integer pool are sent as numbers.
 */
async function* csvItems(file: string, integer: boolean): AsyncGenerator<ImportItemJson> {
  const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let n = 0;
  for await (const raw of lines) {
    n++;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const cells = line.split(',').map((c) => c.trim().replace(/^"(.*)"$/, '$1'));
    if (n === 1 && cells[0].toLowerCase() === 'value') continue;
    if (cells.length < 2 || cells.length > 3 || !cells[0] || !cells[1]) throw new CliError('INVALID_FILE', `${file}:${n}: expected value,owner[,allocated_at]; got ${JSON.stringify(raw.slice(0, 80))}`, EXIT_USAGE);
    const value = integer && /^(\d+|0x[0-9a-f]+)$/i.test(cells[0]) ? Number(cells[0]) : cells[0];
    yield { value, owner: cells[1], ...(cells[2] ? { allocated_at: cells[2] } : {}) };
  }
}

async function importFile(pool: string, opts: ApiOptions & { file: string; dryRun?: boolean }): Promise<void> {
  const p = await getPool(opts, pool);
  const api = client(opts);
  const items = opts.file.toLowerCase().endsWith('.csv') ? csvItems(opts.file, p.type === 'integer') : jsonItems(opts.file);
  const total = { imported: 0, unchanged: 0, calls: 0 };
  let sent = 0;
  const send = async (chunk: ImportItemJson[]) => {
    try {
      const { body } = await api.request({ method: 'POST', path: `/v1/pools/${segment(pool)}/import`, query: { dry_run: opts.dryRun ? 'true' : 'false' }, body: JSON.stringify({ allocations: chunk }) });
      const r = body as { imported: number; unchanged: number };
      total.imported += r.imported;
      total.unchanged += r.unchanged;
      total.calls++;
      sent += chunk.length;
      if (!opts.json) process.stderr.write(`${opts.dryRun ? 'checked' : 'imported'} ${count(sent)} items (${count(total.imported)} new, ${count(total.unchanged)} unchanged)\n`);
    } catch (e) {
      // Each call is all or nothing; what earlier calls imported stays, and importing the file again leaves it unchanged.
      if (sent > 0) process.stderr.write(`stopped after ${count(sent)} items: items ${sent + 1}-${sent + chunk.length} failed (item 0 of the error below is item ${sent + 1} of the file); the ${count(sent)} before stay imported, and importing the file again leaves them unchanged\n`);
      throw e;
    }
  };
  let chunk: ImportItemJson[] = [];
  for await (const item of items) {
    chunk.push(item);
    if (chunk.length === IMPORT_CALL_ITEMS) {
      await send(chunk);
      chunk = [];
    }
  }
  if (chunk.length > 0) await send(chunk);
  if (sent === 0) throw new CliError('INVALID_FILE', `${opts.file} holds no allocation`, EXIT_USAGE);
  if (opts.json) return printJson({ ...total, dry_run: opts.dryRun === true });
  out(`${opts.dryRun ? 'dry run: would import' : 'imported'} ${count(total.imported)} allocations into ${pool}${total.unchanged > 0 ? ` (${count(total.unchanged)} already held as given)` : ''}${opts.dryRun ? '; nothing was changed' : ''}`);
}

interface RepairAnswer {
  repaired: { pool: string; problem: string; action: string }[];
  next_cursor: string | null;
}

/** `check --repair`: follows next_cursor; exit 1 when something was (or would be) mended. */
export async function repair(opts: ApiOptions & { pool?: string; dryRun?: boolean }): Promise<void> {
  const api = client(opts);
  const repaired: RepairAnswer['repaired'] = [];
  let cursor: string | null = null;
  do {
    const query: Record<string, string> = { dry_run: opts.dryRun ? 'true' : 'false' };
    if (opts.pool) query.pool = opts.pool;
    if (cursor) query.cursor = cursor;
    const page = (await api.request({ method: 'POST', path: '/v1/check/repair', query })).body as RepairAnswer;
    repaired.push(...page.repaired);
    cursor = page.next_cursor;
  } while (cursor);
  if (repaired.length > 0) process.exitCode = EXIT_INVALID;
  if (opts.json) return printJson({ repaired, next_cursor: null });
  if (repaired.length === 0) return out('Nothing to repair: every disagreement check confirms has been mended, or there is none.');
  out(renderTable(['Pool', 'Problem', opts.dryRun ? 'Would do' : 'Done'], repaired.map((r) => [r.pool, r.problem, r.action])));
  out(opts.dryRun ? '\nDry run: nothing was changed.' : '\nRun `resource-pool check` to see what is left (a value held twice needs a person).');
}

export function addLifecycleCommands(program: Command): void {
  apiCommand(program, 'disable')
    .description('stop new allocations in a pool (POOL_DISABLED); lookups, listings, releases and imports still work')
    .argument('<pool>', 'pool name')
    .addHelpText('after', '\nExample:\n  $ resource-pool disable tenant-vlan   # pause it during a migration')
    .action(action('disable', (pool: string, opts: ApiOptions) => setDisabled(pool, true, opts)));

  apiCommand(program, 'enable')
    .description('let a disabled pool take allocations again')
    .argument('<pool>', 'pool name')
    .action(action('enable', (pool: string, opts: ApiOptions) => setDisabled(pool, false, opts)));

  apiCommand(program, 'delete')
    .description('delete a pool that holds no allocation (POOL_NOT_EMPTY otherwise); asks first on a terminal')
    .argument('<pool>', 'pool name')
    .option('-y, --yes', 'do not ask')
    .addHelpText('after', '\nIts values no longer count for overlap and its name can be registered again; its history is kept.\n\nExample:\n  $ resource-pool delete old-vlans --yes')
    .action(action('delete', deletePool));

  apiCommand(program, 'retire')
    .description('take free values out of a pool (a range registered by mistake); refused while any of them is held; asks first on a terminal')
    .argument('<pool>', 'pool name')
    .option('--range <start-end>', 'values [START, END), END exclusive as in pool files (repeatable)', rangeArgument)
    .option('--value <value>', 'one value, or a CIDR block in IP and prefix pools (repeatable)', values)
    .option('--dry-run', 'say what would be retired, and change nothing')
    .option('-y, --yes', 'do not ask')
    .addHelpText(
      'after',
      '\nRegistration is additive: take the values out of the site\'s pools file too, or a later upload adds them back.\n\nExamples:\n  $ resource-pool retire vpc-dpu-lo --range 10.180.64.0-10.180.65.0 --dry-run\n  $ resource-pool retire tenant-vlan --value 100 --value 101 --yes',
    )
    .action(action('retire', retire));

  apiCommand(program, 'import')
    .description('adopt allocations made outside the service (NICo, NetBox, a spreadsheet) into a pool, 1,000 per call, each call all or nothing')
    .argument('<pool>', 'pool name')
    .requiredOption('-f, --file <file.json|file.csv>', 'JSON: {"allocations":[{"value","owner","size"?,"labels"?,"allocated_at"?}…]} or a list of items; CSV: value,owner[,allocated_at] per line')
    .option('--dry-run', 'judge every item and say what would be imported, changing nothing')
    .addHelpText(
      'after',
      '\nA file of any size is sent 1,000 items at a time, with a progress line per call on stderr; importing it again leaves what is held unchanged.\n\nExamples:\n  $ psql -At -F, -c "SELECT value, state->>\'owner\' FROM resource_pool WHERE name = \'lo-ip\' AND state->>\'owner\' IS NOT NULL" > lo-ip.csv\n  $ resource-pool import lo-ip -f lo-ip.csv --dry-run\n  $ resource-pool import lo-ip -f lo-ip.csv',
    )
    .action(action('import', importFile));

  for (const name of ['disable', 'enable', 'delete', 'retire', 'import']) program.commands.find((c) => c.name() === name)?.addHelpText('after', EXIT_CODES_HELP);
}
