/**
 * `resource-pool`: the operator's command line. Offline commands (validate, plan) run here; the rest
 * (cli/commands.ts) talk to the HTTP API. The bin runs this compiled (npm run build:cli, run by
 * `prepare`): validate's parser and planner (TOML, zod, IP math) are imported only by validate, so
 * that a call to the API loads none of them.
 */
import { readFile } from 'node:fs/promises';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import pkg from '../package.json' with { type: 'json' };
import { addApiCommands } from './commands.js';
import { addLifecycleCommands, repair } from './lifecycle.js';
import { EXIT_CODES_HELP, EXIT_INVALID, EXIT_USAGE } from './exit-codes.js';
import { renderTable } from './table.js';

function wholeNumber(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected a whole number >= 0');
  return n;
}

function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

async function validate(file: string, opts: { json?: boolean; maxPoolSize?: string }): Promise<void> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    process.stderr.write(`resource-pool: cannot read ${file}: ${(e as Error).message}\n`);
    process.exitCode = EXIT_USAGE;
    return;
  }
  const [{ planFile }, { rangesJson }] = await Promise.all([import('../lib/plan.js'), import('../lib/shapes.js')]);
  const { maxPoolSize, maxPoolSizeSetting } = await maxPoolSizeOf(opts);
  // One file on its own: every pool is new.
  const result = planFile(text, [], { maxPoolSize, maxPoolSizeSetting });
  if (!result.ok) {
    process.exitCode = EXIT_INVALID;
    if (opts.json) return printJson({ valid: false, errors: result.errors });
    process.stdout.write(`${file}: invalid, ${result.errors.length} error${result.errors.length === 1 ? '' : 's'}\n`);
    const { lineOf } = await import('../lib/config-lines.js');
    for (const e of result.errors) {
      const line = lineOf(text, e.path);
      process.stdout.write(`  ${e.path}: ${e.message}${line === undefined ? '' : ` (line ${line})`}\n`);
    }
    return;
  }
  const pools = result.plan.changes.map((c) => ({ name: c.name, type: c.type, size: Number(c.size), ranges: rangesJson({ type: c.type, delegate: c.delegate }, c.added) }));
  if (opts.json) return printJson({ valid: true, pools, warnings: result.plan.warnings });
  const rows = pools.map((p) => [
    p.name,
    p.type,
    p.size.toLocaleString('en-US'),
    p.ranges.map((r) => `[${r.start}, ${r.end})${r.auto_assign ? '' : ' (auto_assign = false)'}`).join(', '),
  ]);
  process.stdout.write(`${file}: valid, ${pools.length} pool${pools.length === 1 ? '' : 's'}\n\n`);
  process.stdout.write(`${renderTable(['Name', 'Type', 'Size', 'Ranges'], rows)}\n`);
  for (const w of result.plan.warnings) process.stdout.write(`warning: ${w}\n`);
}

/** The largest pool, and the setting it came from (the flag wins over the variable), for messages that say what to raise. */
/** The planner, TOML parser and sizing load only for the commands that use them: every other call starts faster. */
async function maxPoolSizeOf(opts: { maxPoolSize?: string }): Promise<{ maxPoolSize: number; maxPoolSizeSetting: string }> {
  const { parseMaxPoolSize } = await import('../lib/plan.js');
  const maxPoolSizeSetting = opts.maxPoolSize !== undefined ? '--max-pool-size' : 'MAX_POOL_SIZE';
  return { maxPoolSize: parseMaxPoolSize(opts.maxPoolSize ?? process.env.MAX_POOL_SIZE, maxPoolSizeSetting), maxPoolSizeSetting };
}

interface PlanOpts {
  hosts: number;
  dpusPerHost: number;
  vpcs: number;
  headroom?: number;
  maxPoolSize?: string;
  json?: boolean;
}

/** Exit 0 when every pool has a proposal the service accepts (one pool, or a split), 1 when a limit leaves one without. */
async function plan(opts: PlanOpts): Promise<void> {
  const { DEFAULT_HEADROOM_PERCENT, planSite, sizingAdvice } = await import('../lib/sizing.js');
  const headroom = opts.headroom ?? DEFAULT_HEADROOM_PERCENT;
  const { maxPoolSize, maxPoolSizeSetting } = await maxPoolSizeOf(opts);
  const sizing = planSite({ hosts: opts.hosts, dpusPerHost: opts.dpusPerHost, vpcs: opts.vpcs, headroomPercent: headroom, maxPoolSize });
  if (sizing.some((s) => s.limit !== undefined)) process.exitCode = EXIT_INVALID;
  if (opts.json) {
    return printJson({
      headroom_percent: headroom,
      max_pool_size: maxPoolSize,
      pools: sizing.map((s) => ({
        pool: s.pool,
        type: s.type,
        kind: s.kind ?? null,
        formula: s.formula,
        need: s.need,
        with_headroom: s.withHeadroom,
        prefix_length: s.prefixLength ?? null,
        prefix_holds: s.prefixHolds ?? null,
        fits: s.fits,
        split: s.split ? { pools: s.split.pools, prefix_length: s.split.prefixLength ?? null, values_each: s.split.valuesEach, values_total: s.split.valuesTotal } : null,
        raise_max_pool_size_to: s.raiseTo ?? null,
        limit: s.limit ?? null,
        advice: sizingAdvice(s, maxPoolSize, maxPoolSizeSetting) ?? null,
      })),
    });
  }
  const proposal = (s: (typeof sizing)[number]): [string, string] => {
    if (s.limit !== undefined) return ['none (see below)', '-'];
    if (s.split) {
      const each = s.split.prefixLength === undefined ? `${s.split.valuesEach.toLocaleString('en-US')} values` : `/${s.split.prefixLength}`;
      return [`${s.split.pools} pools × ${each}`, s.split.valuesTotal.toLocaleString('en-US')];
    }
    if (s.prefixLength !== undefined) return [`/${s.prefixLength}`, (s.prefixHolds ?? 0).toLocaleString('en-US')];
    return [`${s.withHeadroom.toLocaleString('en-US')} values${s.kind ? ` (kind "${s.kind}")` : ''}`, s.withHeadroom.toLocaleString('en-US')];
  };
  const rows = sizing.map((s) => [s.pool, s.need.toLocaleString('en-US'), s.withHeadroom.toLocaleString('en-US'), ...proposal(s), s.formula]);
  process.stdout.write(`${renderTable(['Pool', 'Need', `With ${headroom}% headroom`, 'Proposal', 'Holds', 'From'], rows)}\n`);
  const advice = sizing.map((s) => sizingAdvice(s, maxPoolSize, maxPoolSizeSetting)).filter((a) => a !== undefined);
  if (advice.length > 0) process.stdout.write(`\nLargest pool accepted: ${maxPoolSize.toLocaleString('en-US')} (${maxPoolSizeSetting})\n${advice.map((a) => `  ${a}\n`).join('')}`);
}

export function buildProgram(): Command {
  const program = new Command('resource-pool')
    .description('Manage resource pools (IPv4/IPv6 addresses, VNIs, VLAN IDs, ASNs) of a resource-pools service')
    .version(pkg.version, '-V, --version', 'print the version of resource-pool')
    .showHelpAfterError('(run with --help for usage)')
    // Usage errors exit 2 (not commander's 1, which means "invalid file" here); inherited by every command.
    .exitOverride()
    .addHelpText(
      'after',
      `
Examples (against the local stack started with \`npm start\`):
  $ resource-pool list
  $ resource-pool allocate vpc-vni --owner vpc-42
  $ resource-pool grow -f site.toml --dry-run
  $ resource-pool release vpc-vni --owner vpc-42
  $ resource-pool list --endpoint https://abc123.execute-api.eu-west-1.amazonaws.com   # SigV4-signed
${EXIT_CODES_HELP}`,
    );

  program
    .command('validate')
    .description('check a pool file on its own, offline; exit 0 when valid, 1 when not')
    .argument('<file>', 'pool TOML file, e.g. config/pools.toml')
    .option('--json', 'print {"valid":true,"pools":[...],"warnings":[...]} or {"valid":false,"errors":[...]}')
    .option('--max-pool-size <n>', 'largest pool accepted (default: MAX_POOL_SIZE or 250000)')
    .addHelpText('after', '\nExample:\n  $ resource-pool validate config/pools.toml\n  $ resource-pool validate site.toml --json | jq .errors')
    .action(validate);

  program
    .command('plan')
    .description('size the DPU pools of a site: lo-ip = hosts × DPUs per host, vpc-dpu-lo = VPCs × DPUs (worst case)')
    .requiredOption('--hosts <n>', 'number of hosts', wholeNumber)
    .requiredOption('--vpcs <n>', 'number of VPCs', wholeNumber)
    .addOption(new Option('--dpus-per-host <n>', 'DPUs in each host').argParser(wholeNumber).default(1))
    .addOption(new Option('--headroom <percent>', 'extra room on top of the need, in percent (default: 25, lib/sizing.ts)').argParser(wholeNumber))
    .option('--max-pool-size <n>', 'largest pool accepted (default: MAX_POOL_SIZE or 250000); a pool over it is proposed as several pools')
    .option('--json', 'print the sizing as JSON')
    .addHelpText(
      'after',
      '\nExit 0 when every pool has a proposal, 1 when a limit (IPv4, the VNI space, 1,000 pools) leaves one without.\n\nExample:\n  $ resource-pool plan --hosts 40 --dpus-per-host 2 --vpcs 100\n  $ resource-pool plan --hosts 500 --dpus-per-host 2 --vpcs 300 --json | jq .pools',
    )
    .action(plan);

  addApiCommands(program, repair);
  addLifecycleCommands(program);
  return program;
}

try {
  await buildProgram().parseAsync(process.argv);
} catch (e) {
  if (e instanceof CommanderError) {
    // Commander has printed the problem (or the help) already; only the exit code is ours.
    process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
  } else {
    process.stderr.write(`resource-pool: ${(e as Error).message}\n`);
    process.exitCode = EXIT_USAGE;
  }
}
