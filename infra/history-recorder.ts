import { Duration, Stack } from 'aws-cdk-lib';
import type { IMetric } from 'aws-cdk-lib/aws-cloudwatch';
import { Effect, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { FilterCriteria, FilterRule, StartingPosition } from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { DEFAULT_HISTORY_DAYS, EVENT_SOURCE } from '../lib/history.js';
import { HISTORY_PREFIX, HOLDING_PREFIX } from '../lib/store/keys.js';
import type { AllocationTable } from './allocation-table.js';
import { deadLetterQueue } from './dead-letter-queue.js';
import { ServiceFunction } from './service-function.js';

export interface HistoryRecorderProps {
  readonly table: AllocationTable;
  /** Environment shared by every handler (TABLE_NAME, MAX_POOL_SIZE). */
  readonly environment: Record<string, string>;
  /** How long history entries are kept. @default DEFAULT_HISTORY_DAYS (400) */
  readonly historyDays?: number;
  /** @default one month */
  readonly logRetention?: RetentionDays;
}

/**
 * History and events: the history function reads the table's change stream and writes a history
 * entry for each new allocation and label change, then puts every new history entry (releases write
 * theirs in their own transaction) on the account's default EventBridge bus. Stream records that
 * cannot concern history (chunks, definitions) are filtered out before the function is invoked. A
 * batch that keeps failing is split to find the record at fault, and what still fails after the
 * retries, or grows older than the stream keeps it, lands in a dead-letter queue (alarmed on).
 */
export class HistoryRecorder extends Construct {
  readonly function: ServiceFunction;
  readonly deadLetterQueue: Queue;
  readonly historyDays: number;

  constructor(scope: Construct, id: string, props: HistoryRecorderProps) {
    super(scope, id);
    this.historyDays = props.historyDays ?? DEFAULT_HISTORY_DAYS;
    const table = props.table.table;
    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue', 'the history function');

    this.function = new ServiceFunction(this, 'Handler', {
      handlerFile: 'history.ts',
      description: 'Records history entries from the allocation table stream and publishes them as events',
      // A batch of 100 records is at most a few BatchWriteItem and PutEvents calls.
      timeout: Duration.seconds(30),
      logRetention: props.logRetention,
      environment: { ...props.environment, HISTORY_DAYS: String(this.historyDays), EVENT_BUS_NAME: 'default' },
    });
    const fn = this.function.function;

    fn.addEventSource(
      new DynamoEventSource(table, {
        startingPosition: StartingPosition.TRIM_HORIZON,
        batchSize: 100,
        maxBatchingWindow: Duration.seconds(1),
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        retryAttempts: 10,
        // The stream keeps records 24 hours; what cannot be recorded by then is sent to the queue.
        maxRecordAge: Duration.hours(6),
        parallelizationFactor: 1,
        onFailure: new SqsDlq(this.deadLetterQueue),
        filters: [
          FilterCriteria.filter({ dynamodb: { Keys: { pk: { S: FilterRule.beginsWith(HOLDING_PREFIX) } } } }),
          FilterCriteria.filter({ dynamodb: { Keys: { pk: { S: FilterRule.beginsWith(HISTORY_PREFIX) } } } }),
        ],
      }),
    );

    // The event source's grant: the stream's records (on the stream ARN), plus ListStreams, which IAM authorizes only on "*".
    this.function.acknowledgeGrant(
      'IAM5[Resource::*]',
      'dynamodb:ListStreams, added by the DynamoDB event source, supports no resource-level permission (IAM authorizes it only on "*"); it lists stream ARNs, no data. Reading records is granted on this table\'s stream only.',
    );

    // History entries only: every item it may write has a partition key beginning HIST#.
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['dynamodb:BatchWriteItem', 'dynamodb:PutItem'],
        resources: [table.tableArn],
        conditions: { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': [`${HISTORY_PREFIX}*`] } },
      }),
    );
    // The account's default bus in this region, and events of this service's source only.
    fn.addToRolePolicy(
      new PolicyStatement({
        effect: Effect.ALLOW,
        actions: ['events:PutEvents'],
        resources: [Stack.of(this).formatArn({ service: 'events', resource: 'event-bus', resourceName: 'default' })],
        conditions: { StringEquals: { 'events:source': EVENT_SOURCE } },
      }),
    );
  }

  /** How far behind the stream the function is (the oldest record of the last batch, ms). */
  metricIteratorAge(period: Duration): IMetric {
    return this.function.function.metric('IteratorAge', { statistic: 'Maximum', period });
  }
}
