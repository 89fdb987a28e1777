/**
 * CloudWatch EMF through Powertools Metrics, shaped the way the alarms in infra/ read it: per-pool
 * series carry exactly the `Pool` dimension and aggregates carry none. Powertools adds a `service`
 * dimension by default (and on every `singleMetric()`), which would put every series beside the one the
 * alarms watch, so it is cleared here once and never re-added.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE, POOL_DIMENSION, SERVICE_NAME } from '../lib/telemetry.js';

export { MetricUnit } from '@aws-lambda-powertools/metrics';

export function serviceMetrics(): Metrics {
  const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
  metrics.clearDefaultDimensions();
  return metrics;
}

/**
 * Writes what is buffered as one EMF document with no dimension at all. The explicit empty dimension
 * set (`"Dimensions": [[]]`) is how EMF spells "no dimension"; an absent set would leave it to chance.
 */
export function publishAggregate(metrics: Metrics): void {
  if (!metrics.hasStoredMetrics()) return;
  metrics.addDimensions({});
  metrics.publishStoredMetrics();
}

/** Writes what is buffered as one EMF document for one pool. */
export function publishForPool(metrics: Metrics, pool: string): void {
  if (!metrics.hasStoredMetrics()) return;
  metrics.addDimension(POOL_DIMENSION, pool);
  metrics.publishStoredMetrics();
}
