import { Duration } from 'aws-cdk-lib';
import { Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS_NAMESPACE, type MetricName, POOL_DIMENSION } from '../lib/telemetry.js';

export interface ServiceMetricOptions {
  /** e.g. 'Sum', 'Maximum', 'p99' */
  readonly statistic: string;
  /** @default 1 minute: the metrics function and the handlers report at least that often. */
  readonly period?: Duration;
  /** A per-pool series (dimension `Pool`); without it, the aggregate series, which has no dimension at all. */
  readonly pool?: string;
  readonly label?: string;
}

/** One of the metrics the handlers emit (lib/telemetry.ts is the contract shared with them). */
export function serviceMetric(metricName: MetricName, options: ServiceMetricOptions): Metric {
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName,
    dimensionsMap: options.pool === undefined ? undefined : { [POOL_DIMENSION]: options.pool },
    statistic: options.statistic,
    period: options.period ?? Duration.minutes(1),
    label: options.label,
  });
}
