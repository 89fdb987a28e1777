import { Duration } from 'aws-cdk-lib';
import {
  type Alarm,
  AlarmStatusWidget,
  Dashboard,
  GraphWidget,
  type HorizontalAnnotation,
  type IMetric,
  MathExpression,
  TextWidget,
} from 'aws-cdk-lib/aws-cloudwatch';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, Metric as M, POOL_DIMENSION } from '../lib/telemetry.js';
import type { AllocationTable } from './allocation-table.js';
import { serviceMetric } from './service-metrics.js';

const MINUTE = Duration.minutes(1);
const WIDTH = 12;
const HEIGHT = 6;

export interface ServiceDashboardProps {
  readonly utilizationPercent: number;
  readonly poolNames: readonly string[];
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly api: IHttpApi;
  readonly table: AllocationTable;
  readonly deadLetterQueue: IQueue;
  readonly alarms: readonly Alarm[];
}

/** One page for the operator: how full the pools are, how busy and how fast the API is, what failed. */
export class ServiceDashboard extends Construct {
  readonly dashboard: Dashboard;

  constructor(scope: Construct, id: string, props: ServiceDashboardProps) {
    super(scope, id);
    const threshold: HorizontalAnnotation = { value: props.utilizationPercent, label: `alarm at ${props.utilizationPercent}%` };

    const perPool: IMetric[] = props.poolNames.map((pool) =>
      serviceMetric(M.PoolUtilization, { statistic: 'Maximum', pool, label: pool }),
    );
    // Pools registered after the deploy have no metric of their own here; a search finds every pool.
    const everyPool = new MathExpression({
      expression: `SEARCH('{${METRICS_NAMESPACE},${POOL_DIMENSION}} MetricName="${M.PoolUtilization}"', 'Maximum', 60)`,
      usingMetrics: {},
      label: '',
      period: MINUTE,
    });

    this.dashboard = new Dashboard(this, 'Dashboard', {
      defaultInterval: Duration.hours(3),
      widgets: [
        [
          new TextWidget({
            markdown:
              '# resource-pools\nUtilization is reported every minute for every pool; alarms fire at ' +
              `${props.utilizationPercent}%. Grow a pool with \`resource-pool grow -f <file>\` or by uploading a .toml to the config bucket.`,
            width: 24,
            height: 2,
          }),
        ],
        [
          new GraphWidget({
            title: 'Utilization per pool (%)',
            left: perPool.length > 0 ? perPool : [everyPool],
            leftYAxis: { min: 0, max: 100, showUnits: false },
            leftAnnotations: [threshold],
            width: WIDTH,
            height: HEIGHT,
          }),
          new GraphWidget({
            title: 'Highest utilization of any pool, and every pool (%)',
            left: [
              serviceMetric(M.MaxPoolUtilization, { statistic: 'Maximum', label: 'highest' }),
              ...(perPool.length > 0 ? [everyPool] : []),
            ],
            leftYAxis: { min: 0, max: 100, showUnits: false },
            leftAnnotations: [threshold],
            width: WIDTH,
            height: HEIGHT,
          }),
        ],
        [
          new GraphWidget({
            title: 'Allocations and releases per minute',
            left: [
              serviceMetric(M.Allocations, { statistic: 'Sum', label: 'allocations' }),
              serviceMetric(M.Releases, { statistic: 'Sum', label: 'releases' }),
            ],
            right: [serviceMetric(M.ContentionRetries, { statistic: 'Sum', label: 'contention retries' })],
            width: WIDTH,
            height: HEIGHT,
          }),
          new GraphWidget({
            title: 'Latency (ms)',
            left: [
              serviceMetric(M.AllocationLatency, { statistic: 'p50', label: 'allocation p50' }),
              serviceMetric(M.AllocationLatency, { statistic: 'p99', label: 'allocation p99' }),
              props.api.metricLatency({ statistic: 'p50', period: MINUTE, label: 'API p50' }),
              props.api.metricLatency({ statistic: 'p99', period: MINUTE, label: 'API p99' }),
            ],
            width: WIDTH,
            height: HEIGHT,
          }),
        ],
        [
          new GraphWidget({
            title: 'Errors',
            left: [
              ...Object.entries(props.functions).map(([name, fn]) =>
                fn.metricErrors({ statistic: 'Sum', period: MINUTE, label: `${name} errors` }),
              ),
              props.api.metricClientError({ statistic: 'Sum', period: MINUTE, label: 'API 4xx' }),
              props.api.metricServerError({ statistic: 'Sum', period: MINUTE, label: 'API 5xx' }),
              serviceMetric(M.AllocationsExhausted, { statistic: 'Sum', label: 'exhausted' }),
              props.table.metricThrottles(MINUTE),
            ],
            width: WIDTH,
            height: HEIGHT,
          }),
          new GraphWidget({
            title: 'Config syncs (uploads to the config bucket)',
            left: [
              serviceMetric(M.ConfigSyncs, { statistic: 'Sum', label: 'applied' }),
              serviceMetric(M.ConfigSyncFailures, { statistic: 'Sum', label: 'rejected' }),
            ],
            right: [
              props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({
                statistic: 'Maximum',
                period: MINUTE,
                label: 'dead-letter queue depth',
              }),
            ],
            width: WIDTH,
            height: HEIGHT,
          }),
        ],
        [new AlarmStatusWidget({ title: 'Alarms', alarms: [...props.alarms], width: 24, height: 4 })],
      ],
    });
  }
}

