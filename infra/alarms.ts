import { Duration } from 'aws-cdk-lib';
import { Alarm, ComparisonOperator, type IMetric, TreatMissingData } from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { IHttpApi } from 'aws-cdk-lib/aws-apigatewayv2';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { Metric as M } from '../lib/telemetry.js';
import type { AllocationTable } from './allocation-table.js';
import { serviceMetric } from './service-metrics.js';

const MINUTE = Duration.minutes(1);

interface AlarmSettings {
  description: string;
  threshold: number;
  evaluationPeriods: number;
  datapointsToAlarm?: number;
  treatMissingData: TreatMissingData;
}

export interface ServiceAlarmsProps {
  readonly topic: ITopic;
  /** Alarm when a pool's utilization reaches this percent. */
  readonly utilizationPercent: number;
  /** Pools known at deploy time: each gets its own utilization alarm. */
  readonly poolNames: readonly string[];
  readonly functions: Readonly<Record<string, IFunction>>;
  readonly api: IHttpApi;
  readonly table: AllocationTable;
  readonly deadLetterQueue: IQueue;
  /** The history function's dead-letter queue, and how far behind the table's stream it runs. */
  readonly history: { readonly deadLetterQueue: IQueue; readonly iteratorAge: IMetric };
}

/** History is lagging when the function is this far behind the stream for five minutes running. */
export const HISTORY_LAG_ALARM_MS = 60_000;

/**
 * The alarms of section 4 of the spec, all to one topic.
 *
 * "Any" alarms (exhaustion, sync failure, DLQ, errors, 5xx, throttles) fire on the first occurrence in a
 * minute and treat missing data as fine, because those metrics only exist when something happened.
 *
 * Utilization alarms are different: the metrics function reports every pool every minute, so missing
 * data means the reporter stopped, not that the pool is fine. Treating it as not breaching would turn a
 * full pool green the moment its reporting broke, and treating it as breaching would page for every pool
 * whose name is in the deploy's file but which has not been registered yet. They keep CloudWatch's
 * default (missing): the alarm goes to INSUFFICIENT_DATA, which the console shows as such. The alarm on
 * the highest utilization notifies on that transition too, so a stopped reporter is noticed once rather
 * than once per pool. They alarm on 3 of 5 minutes so a pool hovering at the threshold while values are
 * allocated and released does not flap.
 */
export class ServiceAlarms extends Construct {
  readonly alarms: Alarm[] = [];
  private readonly action: SnsAction;

  constructor(scope: Construct, id: string, props: ServiceAlarmsProps) {
    super(scope, id);
    this.action = new SnsAction(props.topic);
    const percent = props.utilizationPercent;

    for (const pool of props.poolNames) {
      this.utilization(
        `Utilization-${pool}`,
        serviceMetric(M.PoolUtilization, { statistic: 'Maximum', pool }),
        `Pool ${pool} is at least ${percent}% allocated: grow it (resource-pool grow) before it runs out.`,
        percent,
      );
    }
    const max = this.utilization(
      'MaxUtilization',
      serviceMetric(M.MaxPoolUtilization, { statistic: 'Maximum' }),
      `Some pool is at least ${percent}% allocated (any pool, including pools registered after the deploy); ` +
        'INSUFFICIENT_DATA means the metrics function stopped reporting.',
      percent,
    );
    max.addInsufficientDataAction(this.action);

    this.any(
      'AllocationsExhausted',
      serviceMetric(M.AllocationsExhausted, { statistic: 'Sum' }),
      'An allocation was refused with RESOURCE_EXHAUSTED: some pool has no free auto-assignable value.',
    );
    this.any(
      'ConfigSyncFailures',
      serviceMetric(M.ConfigSyncFailures, { statistic: 'Sum' }),
      // config-sync counts the files uploaded to the bucket that it rejects; POST /v1/config answers its
      // caller 400 INVALID_CONFIG instead and is not counted.
      'A pool file uploaded to the config bucket was rejected and nothing was changed; GET /v1/config/syncs lists its errors.',
    );
    this.any(
      'DeadLetters',
      props.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE }),
      'A config bucket upload failed in config-sync after retries and is parked in the dead-letter queue: it was not applied.',
    );
    this.any(
      'HistoryDeadLetters',
      props.history.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: MINUTE }),
      'Stream records the history function could not record after its retries are parked in its dead-letter queue: some history entries or events are missing (OPERATIONS.md).',
    );
    this.add('HistoryLag', props.history.iteratorAge, {
      description: `The history function has been more than ${HISTORY_LAG_ALARM_MS / 1000} s behind the table's stream for five minutes: history and events are late (OPERATIONS.md).`,
      threshold: HISTORY_LAG_ALARM_MS,
      evaluationPeriods: 5,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
    for (const [name, fn] of Object.entries(props.functions)) {
      this.any(
        `${name}Errors`,
        fn.metricErrors({ statistic: 'Sum', period: MINUTE }),
        `The ${name} function failed (an error it did not handle, or a timeout).`,
      );
    }
    this.any(
      'Api5xx',
      props.api.metricServerError({ statistic: 'Sum', period: MINUTE }),
      'The API answered 5xx: a handler failure, or UNAVAILABLE after retries against contention or throttling ran out.',
    );
    this.any(
      'DynamoDbThrottles',
      props.table.metricThrottles(MINUTE),
      'DynamoDB throttled requests to the allocation table (partition, on-demand maximum or account limit).',
    );
  }

  private utilization(id: string, metric: IMetric, description: string, percent: number): Alarm {
    return this.add(id, metric, {
      description,
      threshold: percent,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
      treatMissingData: TreatMissingData.MISSING,
    });
  }

  private any(id: string, metric: IMetric, description: string): Alarm {
    return this.add(id, metric, {
      description,
      threshold: 1,
      evaluationPeriods: 1,
      treatMissingData: TreatMissingData.NOT_BREACHING,
    });
  }

  private add(id: string, metric: IMetric, opts: AlarmSettings): Alarm {
    const alarm = new Alarm(this, id, {
      metric,
      alarmDescription: opts.description,
      threshold: opts.threshold,
      comparisonOperator: ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      evaluationPeriods: opts.evaluationPeriods,
      datapointsToAlarm: opts.datapointsToAlarm,
      treatMissingData: opts.treatMissingData,
    });
    alarm.addAlarmAction(this.action);
    alarm.addOkAction(this.action);
    this.alarms.push(alarm);
    return alarm;
  }
}
