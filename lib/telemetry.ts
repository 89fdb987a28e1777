/**
 * The names of what the service reports to CloudWatch, shared by the handlers that emit them and the
 * CDK app that alarms on them, so a renamed metric cannot silently orphan an alarm.
 */

export const METRICS_NAMESPACE = 'ResourcePools';
export const SERVICE_NAME = 'resource-pools';

/** Dimension of per-pool metrics. Aggregate metrics carry no dimension at all. */
export const POOL_DIMENSION = 'Pool';

export const Metric = {
  /** Per pool, every minute from the metrics function: how many values the pool holds. */
  PoolSize: 'PoolSize',
  /** Per pool, every minute: how many are allocated. */
  PoolUsed: 'PoolUsed',
  /** Per pool, every minute: used / size in percent, so idle pools still report. */
  PoolUtilization: 'PoolUtilization',
  /** No dimension, every minute: the highest PoolUtilization of any pool, so pools added later are covered. */
  MaxPoolUtilization: 'MaxPoolUtilization',
  /** Per pool and aggregate: an allocation answered RESOURCE_EXHAUSTED. */
  AllocationsExhausted: 'AllocationsExhausted',
  /** Per pool and aggregate: values handed out and given back. */
  Allocations: 'Allocations',
  Releases: 'Releases',
  /** Aggregate: conditional writes retried because another writer got there first, or throttling. */
  ContentionRetries: 'ContentionRetries',
  /** Aggregate: time one allocation took, in milliseconds. */
  AllocationLatency: 'AllocationLatency',
  /** Aggregate: config files applied, and rejected (alarmed on). */
  ConfigSyncs: 'ConfigSyncs',
  ConfigSyncFailures: 'ConfigSyncFailures',
} as const;

export type MetricName = (typeof Metric)[keyof typeof Metric];

/** Utilization at or above this percent raises the utilization alarms unless the deploy sets another. */
export const DEFAULT_UTILIZATION_ALARM_PERCENT = 80;
