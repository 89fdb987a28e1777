import { Annotations, type App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { DEFAULT_MAX_POOL_SIZE, MAX_POOL_SIZE_CEILING } from '../lib/plan.js';
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
  const sitePools = poolsFile === undefined ? undefined : loadSitePools(poolsFile, maxPoolSize ?? DEFAULT_MAX_POOL_SIZE);
  const stack = new ResourcePoolsStack(app, STACK_ID, {
    sitePools,
    maxPoolSize,
    utilizationAlarmPercent: numberContext(app, 'utilizationAlarmPercent', (n) => n > 0 && n <= 100, 'a percent, above 0 and at most 100'),
    alarmEmail,
  });
  // What config-sync would report as warnings (e.g. ignored top-level tables), shown by `cdk synth`.
  for (const warning of sitePools?.warnings ?? []) Annotations.of(stack).addInfo(`poolsFile ${poolsFile}: ${warning}`);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return stack;
}
