/**
 * Scheduled (every minute): releases allocations whose lease ran out (lib/store/expire.ts), each with
 * an `expired` history entry. A thin adapter: the local stack runs the same store call on its own timer.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, ScheduledEvent } from 'aws-lambda';
import { parseHistoryDays } from '../lib/history.js';
import { dynamoClient, type ExpiredLeases, PoolStore } from '../lib/store/index.js';
import { SERVICE_NAME } from '../lib/telemetry.js';

export interface SweepReport {
  expired: number;
  failed: number;
  more: boolean;
}

export interface SweepLogger {
  info(message: string, extra: Record<string, unknown>): void;
}

/**
 * One run. Records it could not release are left for the next run, but the run fails, so that the
 * function's errors alarm sees a sweeper that keeps failing.
 */
export async function sweepLeases(deps: { store: PoolStore; logger: SweepLogger }): Promise<SweepReport> {
  const run: ExpiredLeases = await deps.store.expireLeases();
  const report = { expired: run.expired.length, failed: run.failed, more: run.more };
  deps.logger.info('leases swept', { ...report, released: run.expired.slice(0, 50).map((a) => ({ pool: a.pool, owner: a.owner, expires_at: a.expiresAt })) });
  if (run.failed > 0) throw new Error(`${run.failed} expired lease(s) could not be released in this run; the next run tries again`);
  return report;
}

// ---------------------------------------------------------------- Lambda adapter

const logger = new Logger({ serviceName: SERVICE_NAME });
let store: PoolStore | undefined;

export const handler = async (_event: ScheduledEvent, context?: Context): Promise<SweepReport> => {
  if (context) logger.addContext(context);
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  store ??= new PoolStore({ client: dynamoClient(), tableName, historyDays: parseHistoryDays(process.env.HISTORY_DAYS) });
  return sweepLeases({ store, logger });
};
