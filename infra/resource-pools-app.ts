import { Annotations, type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { POOL_NAME_PATTERN, POOL_NAME_RULE } from '../lib/config.js';
import { MAX_HISTORY_DAYS } from '../lib/history.js';
import { DEFAULT_MAX_POOL_SIZE, MAX_POOL_SIZE_CEILING } from '../lib/plan.js';
import { MANAGED_POLICY_MAX_CHARS, poolAccessOutputId, poolAccessPolicyChars } from './caller-policies.js';
import { loadSitePools } from './site-pools.js';
import { ResourcePoolsStack } from './stack.js';

export const STACK_ID = 'ResourcePools';

/** Context keys the app reads (`cdk deploy -c poolsFile=config/pools.toml`, or cdk.json). */
export interface ResourcePoolsContext {
  /** A TOML pools file: validated at synth, uploaded to the config bucket at deploy, alarmed per pool. */
  poolsFile?: string;
  /** MAX_POOL_SIZE of the handlers, 1 to MAX_POOL_SIZE_CEILING (a handler refuses to start outside it). */
  maxPoolSize?: number | string;
  /** Percent; default DEFAULT_UTILIZATION_ALARM_PERCENT. */
  utilizationAlarmPercent?: number | string;
  /** Subscribed to the alarm topic. */
  alarmEmail?: string;
  /** How long history entries are kept, in days: 1 to MAX_HISTORY_DAYS; default DEFAULT_HISTORY_DAYS (400). */
  historyDays?: number | string;
  /**
   * Per-pool allocators: `{"tenant-automation": ["vpc-vni", "tenant-vlan"]}` adds one managed policy per
   * name that reads everything and allocates, releases and labels in those pools only. An object in
   * cdk.json, or the same as a JSON string (`-c poolAccess='{…}'`).
   */
  poolAccess?: Record<string, string[]> | string;
}

export class ContextError extends Error {
  override name = 'ContextError';
}

/** `-c key=value` arrives as a string, cdk.json as a number: accept both, reject anything else. */
function numberContext(app: App, key: keyof ResourcePoolsContext, check: (n: number) => boolean, rule: string): number | undefined {
  const raw: unknown = app.node.tryGetContext(key);
  if (raw === undefined || raw === '') return undefined;
  const n = typeof raw === 'number' ? raw : typeof raw === 'string' && /^\d+(\.\d+)?$/.test(raw.trim()) ? Number(raw) : NaN;
  if (!Number.isFinite(n) || !check(n)) throw new ContextError(`context ${key} must be ${rule}; got ${JSON.stringify(raw)}`);
  return n;
}

function stringContext(app: App, key: keyof ResourcePoolsContext): string | undefined {
  const raw: unknown = app.node.tryGetContext(key);
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw !== 'string') throw new ContextError(`context ${key} must be a string; got ${JSON.stringify(raw)}`);
  return raw;
}

const POOL_ACCESS_EXAMPLE = '{"tenant-automation": ["vpc-vni", "tenant-vlan"]}';

/** Context poolAccess, checked: every name and pool a pool name, every list non-empty, every policy within IAM's size. */
function poolAccessContext(app: App): Record<string, string[]> | undefined {
  let raw: unknown = app.node.tryGetContext('poolAccess');
  if (raw === undefined || raw === '') return undefined;
  if (typeof raw === 'string') {
    try {
      raw = JSON.parse(raw);
    } catch (e) {
      throw new ContextError(`context poolAccess must be a JSON object such as ${POOL_ACCESS_EXAMPLE}; got ${JSON.stringify(raw)} (${(e as Error).message})`);
    }
  }
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new ContextError(`context poolAccess must be an object of name → pool names, such as ${POOL_ACCESS_EXAMPLE}; got ${JSON.stringify(raw)}`);
  }
  const access: Record<string, string[]> = {};
  const outputs = new Map<string, string>();
  for (const [name, pools] of Object.entries(raw as Record<string, unknown>)) {
    if (!POOL_NAME_PATTERN.test(name)) {
      throw new ContextError(`context poolAccess: the name ${JSON.stringify(name)} must be ${POOL_NAME_RULE} (it names the policy and its output)`);
    }
    const key = `poolAccess.${name}`;
    if (!Array.isArray(pools) || pools.length === 0) {
      throw new ContextError(`context ${key} must be a non-empty list of pool names, such as ["vpc-vni", "tenant-vlan"]; got ${JSON.stringify(pools)}`);
    }
    pools.forEach((pool: unknown, i) => {
      if (typeof pool !== 'string' || !POOL_NAME_PATTERN.test(pool)) {
        throw new ContextError(`context ${key}[${i}] must be a pool name (${POOL_NAME_RULE}); got ${JSON.stringify(pool)}`);
      }
    });
    const unique = [...new Set(pools as string[])];
    const chars = poolAccessPolicyChars(unique);
    if (chars > MANAGED_POLICY_MAX_CHARS) {
      throw new ContextError(
        `context ${key}: ${unique.length} pools make a policy of up to ${chars} characters, over IAM's ${MANAGED_POLICY_MAX_CHARS} for a managed policy; split the pools between two names`,
      );
    }
    const output = poolAccessOutputId(name);
    const clash = outputs.get(output);
    if (clash !== undefined) throw new ContextError(`context poolAccess: the names ${JSON.stringify(clash)} and ${JSON.stringify(name)} would both be output as ${output}; rename one`);
    outputs.set(output, name);
    access[name] = unique;
  }
  return access;
}

/**
 * Builds the service into `app` from its context and puts cdk-nag's AWS Solutions checks on it: the
 * synth fails on any finding that is not acknowledged, with its reason, on the construct that raises it.
 */
export function defineResourcePoolsApp(app: App): ResourcePoolsStack {
  const poolsFile = stringContext(app, 'poolsFile');
  const alarmEmail = stringContext(app, 'alarmEmail');
  if (alarmEmail !== undefined && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(alarmEmail)) {
    throw new ContextError(`context alarmEmail must be an e-mail address; got ${JSON.stringify(alarmEmail)}`);
  }
  // Checked against the handlers' own bounds: outside them every handler would fail at start.
  const maxPoolSize = numberContext(
    app,
    'maxPoolSize',
    (n) => Number.isInteger(n) && n >= 1 && n <= MAX_POOL_SIZE_CEILING,
    `a whole number from 1 to ${MAX_POOL_SIZE_CEILING}`,
  );
  const poolAccess = poolAccessContext(app);
  const sitePools = poolsFile === undefined ? undefined : loadSitePools(poolsFile, maxPoolSize ?? DEFAULT_MAX_POOL_SIZE);
  const stack = new ResourcePoolsStack(app, STACK_ID, {
    sitePools,
    maxPoolSize,
    utilizationAlarmPercent: numberContext(app, 'utilizationAlarmPercent', (n) => n > 0 && n <= 100, 'a percent, above 0 and at most 100'),
    alarmEmail,
    poolAccess,
    historyDays: numberContext(app, 'historyDays', (n) => Number.isInteger(n) && n >= 1 && n <= MAX_HISTORY_DAYS, `a whole number of days from 1 to ${MAX_HISTORY_DAYS}`),
  });
  // What config-sync would report as warnings (e.g. ignored top-level tables), shown by `cdk synth`.
  for (const warning of sitePools?.warnings ?? []) Annotations.of(stack).addInfo(`poolsFile ${poolsFile}: ${warning}`);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
