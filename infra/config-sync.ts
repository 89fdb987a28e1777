import { Duration, Stack } from 'aws-cdk-lib';
import { Grant } from 'aws-cdk-lib/aws-iam';
import { SqsDestination } from 'aws-cdk-lib/aws-lambda-destinations';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { type CfnBucket, EventType } from 'aws-cdk-lib/aws-s3';
import { LambdaDestination } from 'aws-cdk-lib/aws-s3-notifications';
import type { Queue } from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { AllocationTable } from './allocation-table.js';
import { CONFIG_SUFFIX, type ConfigBucket } from './config-bucket.js';
import { deadLetterQueue } from './dead-letter-queue.js';
import { acknowledge, BASIC_EXECUTION_POLICY_FINDING, nagArn } from './nag.js';
import { ServiceFunction } from './service-function.js';

export interface ConfigSyncProps {
  readonly table: AllocationTable;
  readonly configBucket: ConfigBucket;
  /** Environment shared by every handler (TABLE_NAME, MAX_POOL_SIZE). */
  readonly environment: Record<string, string>;
  readonly logRetention?: RetentionDays;
}

/**
 * Applies every `.toml` uploaded to the config bucket. S3 invokes the function asynchronously; an event
 * that still fails after Lambda's retries lands in a dead-letter queue (alarmed on), so no upload is
 * silently lost and an operator can re-drive it by uploading the object again.
 */
export class ConfigSync extends Construct {
  readonly function: ServiceFunction;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: ConfigSyncProps) {
    super(scope, id);
    const bucket = props.configBucket.bucket;

    this.deadLetterQueue = deadLetterQueue(this, 'DeadLetterQueue', 'config-sync');

    this.function = new ServiceFunction(this, 'Handler', {
      handlerFile: 'config-sync.ts',
      description: 'Applies pool files uploaded to the config bucket (additive registration)',
      // Applying a file is bounded by the store's budget (8 s per attempt, a few attempts when other
      // registrations race it); the rest is reading a 1 MiB object. Never one item per value.
      timeout: Duration.minutes(1),
      memorySize: 1024,
      logRetention: props.logRetention,
      environment: { ...props.environment, CONFIG_BUCKET: bucket.bucketName },
      retryAttempts: 2,
      onFailure: new SqsDestination(this.deadLetterQueue),
    });
    const fn = this.function.function;

    props.table.grantReadWriteData(this.function);
    // The .toml object versions it is told about, and nothing else of the bucket's objects.
    Grant.addToPrincipal({
      grantee: fn,
      actions: ['s3:GetObject', 's3:GetObjectVersion'],
      resourceArns: [props.configBucket.arnForConfigObjects()],
    });
    // Without ListBucket, S3 answers 403 AccessDenied instead of 404 NoSuchKey/NoSuchVersion for an object
    // deleted before config-sync read it: the handler would retry it into the dead-letter queue instead of
    // skipping it as gone. ListBucket reveals key names of this one bucket, no content.
    Grant.addToPrincipal({ grantee: fn, actions: ['s3:ListBucket'], resourceArns: [bucket.bucketArn] });

    this.function.acknowledgeGrant(
      `IAM5[Resource::${nagArn(bucket.node.defaultChild as CfnBucket)}/*${CONFIG_SUFFIX}]`,
      'config-sync reads whichever .toml object version S3 notifies it of; operators choose the keys. GetObject and GetObjectVersion only.',
    );

    bucket.addEventNotification(EventType.OBJECT_CREATED, new LambdaDestination(fn), { suffix: CONFIG_SUFFIX });
    // CDK's stack-wide function that writes the notification configuration at deploy time.
    const notificationsHandler = Stack.of(this).node.children.find((c) => c.node.id.startsWith('BucketNotificationsHandler'));
    const notificationsRole = notificationsHandler?.node.tryFindChild('Role');
    if (!notificationsRole) throw new Error('ConfigSync: the bucket notifications handler of aws-cdk-lib was not found');
    acknowledge(
      notificationsRole,
      BASIC_EXECUTION_POLICY_FINDING,
      'Role of the bucket-notifications custom resource that aws-cdk-lib creates for addEventNotification; it runs only at deploy time and its role is not configurable per policy.',
    );
  }
}
