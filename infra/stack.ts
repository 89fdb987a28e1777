import { CfnOutput, Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';
import { DEFAULT_UTILIZATION_ALARM_PERCENT } from '../lib/telemetry.js';
import { clip } from '../lib/values.js';
import { AlarmTopic } from './alarm-topic.js';
import { ServiceAlarms } from './alarms.js';
import { AllocationTable } from './allocation-table.js';
import { CallerPolicies, poolAccessOutputId } from './caller-policies.js';
import { ConfigBucket } from './config-bucket.js';
import { ConfigSync } from './config-sync.js';
import { ServiceDashboard } from './dashboard.js';
import { PoolsHttpApi } from './http-api.js';
import { HistoryRecorder } from './history-recorder.js';
import { LeaseSweeper } from './lease-sweeper.js';
import { MetricsReporter } from './metrics-reporter.js';
import { ServiceFunction } from './service-function.js';
import type { SitePools } from './site-pools.js';
import { SitePoolsUpload } from './site-pools-upload.js';

export interface ResourcePoolsStackProps extends StackProps {
  /** The site's pools, registered at deploy time and alarmed on one by one. */
  readonly sitePools?: SitePools;
  /** Largest pool the handlers accept. @default the handlers' own (250,000) */
  readonly maxPoolSize?: number;
  /** @default DEFAULT_UTILIZATION_ALARM_PERCENT (80) */
  readonly utilizationAlarmPercent?: number;
  /** Subscribed to the alarm topic. */
  readonly alarmEmail?: string;
  /** Per-pool allocator policies: a name → the pools it may allocate, release and label in. */
  readonly poolAccess?: Readonly<Record<string, readonly string[]>>;
  /** How long history entries are kept, in days. @default DEFAULT_HISTORY_DAYS (400) */
  readonly historyDays?: number;
  /** Of the functions' logs. @default one month */
  readonly logRetention?: RetentionDays;
}

/** The whole service: table, config bucket, the four functions, the HTTP API, alarms and dashboard. */
export class ResourcePoolsStack extends Stack {
  readonly table: AllocationTable;
  readonly configBucket: ConfigBucket;
  readonly api: PoolsHttpApi;
  readonly apiFunction: ServiceFunction;
  readonly configSync: ConfigSync;
  readonly metricsReporter: MetricsReporter;
  readonly historyRecorder: HistoryRecorder;
  readonly leaseSweeper: LeaseSweeper;
  readonly callerPolicies: CallerPolicies;
  readonly alarmTopic: AlarmTopic;
  readonly alarms: ServiceAlarms;
  readonly dashboard: ServiceDashboard;
  readonly sitePoolsUpload?: SitePoolsUpload;

  constructor(scope: Construct, id: string, props: ResourcePoolsStackProps = {}) {
    super(scope, id, {
      description: 'resource-pools: serverless allocator for IP addresses, VNIs, VLAN IDs and ASNs',
      ...props,
    });
    const utilizationPercent = props.utilizationAlarmPercent ?? DEFAULT_UTILIZATION_ALARM_PERCENT;
    const poolNames = props.sitePools?.poolNames ?? [];

    this.table = new AllocationTable(this, 'AllocationTable');
    const environment: Record<string, string> = { TABLE_NAME: this.table.table.tableName };
    if (props.maxPoolSize !== undefined) environment.MAX_POOL_SIZE = String(props.maxPoolSize);

    this.configBucket = new ConfigBucket(this, 'ConfigBucket');
    this.configSync = new ConfigSync(this, 'ConfigSync', {
      table: this.table,
      configBucket: this.configBucket,
      environment,
      logRetention: props.logRetention,
    });

    this.apiFunction = new ServiceFunction(this, 'ApiHandler', {
      handlerFile: 'api.ts',
      description: 'Serves the resource-pools v1 HTTP API',
      // Below the HTTP API's 30 s integration limit, so a slow request ends as the app's own answer.
      timeout: Duration.seconds(15),
      logRetention: props.logRetention,
      environment,
    });
    this.table.grantReadWriteData(this.apiFunction);
    this.api = new PoolsHttpApi(this, 'HttpApi', { handler: this.apiFunction.function });
    this.callerPolicies = new CallerPolicies(this, 'CallerPolicies', { api: this.api, poolAccess: props.poolAccess });

    this.metricsReporter = new MetricsReporter(this, 'MetricsReporter', {
      table: this.table,
      environment,
      logRetention: props.logRetention,
    });

    this.historyRecorder = new HistoryRecorder(this, 'HistoryRecorder', {
      table: this.table,
      environment,
      historyDays: props.historyDays,
      logRetention: props.logRetention,
    });
    // The API reads history with the table's other reads, and writes released entries in its releases' transactions.
    this.apiFunction.function.addEnvironment('HISTORY_DAYS', String(this.historyRecorder.historyDays));

    // Its `expired` entries are kept as long as every other entry.
    this.leaseSweeper = new LeaseSweeper(this, 'LeaseSweeper', {
      table: this.table,
      environment: { ...environment, HISTORY_DAYS: String(this.historyRecorder.historyDays) },
      logRetention: props.logRetention,
    });

    if (props.sitePools) {
      this.sitePoolsUpload = new SitePoolsUpload(this, 'SitePoolsUpload', {
        bucket: this.configBucket.bucket,
        text: props.sitePools.text,
        after: [this.configBucket, this.configSync],
        logRetention: props.logRetention,
      });
    }

    const functions = {
      Api: this.apiFunction.function,
      ConfigSync: this.configSync.function.function,
      Metrics: this.metricsReporter.function.function,
      History: this.historyRecorder.function.function,
      LeaseSweeper: this.leaseSweeper.function.function,
    };
    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', { email: props.alarmEmail });
    this.alarms = new ServiceAlarms(this, 'Alarms', {
      topic: this.alarmTopic.topic,
      utilizationPercent,
      poolNames,
      functions,
      api: this.api.api,
      table: this.table,
      deadLetterQueue: this.configSync.deadLetterQueue,
      history: { deadLetterQueue: this.historyRecorder.deadLetterQueue, iteratorAge: this.historyRecorder.metricIteratorAge(Duration.minutes(1)) },
    });
    this.dashboard = new ServiceDashboard(this, 'Dashboard', {
      utilizationPercent,
      poolNames,
      functions,
      api: this.api.api,
      table: this.table,
      deadLetterQueue: this.configSync.deadLetterQueue,
      alarms: this.alarms.alarms,
    });

    const output = (id: string, value: string, description: string) =>
      new CfnOutput(this, id, { value, description });
    output('ApiUrl', this.api.url, 'Endpoint of the v1 API (SigV4-signed requests; RESOURCE_POOLS_ENDPOINT for the CLI)');
    output('ReaderPolicyArn', this.callerPolicies.policies.reader.managedPolicyArn, 'Managed policy: read-only callers');
    output('AllocatorPolicyArn', this.callerPolicies.policies.allocator.managedPolicyArn, 'Managed policy: allocate and release');
    output('AdminPolicyArn', this.callerPolicies.policies.admin.managedPolicyArn, 'Managed policy: everything, including POST /v1/config');
    for (const [name, { pools, policy }] of this.callerPolicies.poolPolicies) {
      const description = `Managed policy poolAccess ${name}: read everything; allocate, release and label in ${pools.join(', ')} only`;
      // CloudFormation takes output descriptions of up to 1,024 characters.
      output(poolAccessOutputId(name), policy.managedPolicyArn, clip(description, 960));
    }
    output('TableName', this.table.table.tableName, 'The allocation table');
    output('ConfigBucketName', this.configBucket.bucket.bucketName, 'Upload pool files (.toml) here to register or grow pools');
    output('DeadLetterQueueUrl', this.configSync.deadLetterQueue.queueUrl, 'Uploads config-sync could not process');
    output('HistoryDeadLetterQueueUrl', this.historyRecorder.deadLetterQueue.queueUrl, 'Stream records the history function could not record');
    output('AlarmTopicArn', this.alarmTopic.topic.topicArn, 'Every alarm notifies this topic');
    output('DashboardName', this.dashboard.dashboard.dashboardName, 'CloudWatch dashboard');
  }
}
