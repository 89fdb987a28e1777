/**
 * Scheduled (every minute): size, use and utilization of every pool as CloudWatch EMF, so idle pools
 * still report and the utilization alarms always have data, plus the highest utilization of any pool
 * for the alarm that covers pools added after deploy.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, ScheduledEvent } from 'aws-lambda';
import type { PoolCounts } from '../lib/model.js';
import { dynamoClient, PoolStore } from '../lib/store/index.js';
import { Metric, SERVICE_NAME } from '../lib/telemetry.js';
import { MetricUnit, publishAggregate, publishForPool, serviceMetrics } from './emf.js';

export interface PoolReport {
  pool: string;
  size: number;
  used: number;
  /** Percent, 0..100. */
  utilization: number;
}

export interface MetricsReport {
  pools: PoolReport[];
  /** Highest utilization of any pool in percent; 0 without pools. */
  maxUtilization: number;
}

export function utilizationPercent(p: Pick<PoolCounts, 'size' | 'used'>): number {
  return p.size === 0 ? 0 : (p.used / p.size) * 100;
}

/**
 * Reads every pool and publishes one EMF document per pool (dimension `Pool`), then one without
 * dimension: Powertools keeps a single dimension set per document, so pools cannot share one.
 */
export async function reportPoolMetrics(deps: { store: PoolStore; metrics: Metrics }): Promise<MetricsReport> {
  const { metrics } = deps;
  const pools = (await deps.store.pools()).map((p) => ({ pool: p.name, size: p.size, used: p.used, utilization: utilizationPercent(p) }));
  for (const p of pools) {
    metrics.addMetric(Metric.PoolSize, MetricUnit.Count, p.size);
    metrics.addMetric(Metric.PoolUsed, MetricUnit.Count, p.used);
    metrics.addMetric(Metric.PoolUtilization, MetricUnit.Percent, p.utilization);
    publishForPool(metrics, p.pool);
  }
  const maxUtilization = Math.max(0, ...pools.map((p) => p.utilization));
  metrics.addMetric(Metric.MaxPoolUtilization, MetricUnit.Percent, maxUtilization);
  publishAggregate(metrics);
  return { pools, maxUtilization };
}

// ---------------------------------------------------------------- Lambda adapter

const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = serviceMetrics();
let store: PoolStore | undefined;

export const handler = async (_event: ScheduledEvent, context?: Context): Promise<MetricsReport> => {
  if (context) logger.addContext(context);
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  store ??= new PoolStore({ client: dynamoClient(), tableName });
  const report = await reportPoolMetrics({ store, metrics });
  logger.info('pool metrics reported', { pools: report.pools.length, max_utilization: report.maxUtilization });
  return report;
};
