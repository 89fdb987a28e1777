// The config bucket of the CDK app and its sync: versioned, encrypted, private, TLS-only, logged;
// each .toml object created invokes config-sync, whose failures end in a dead-letter queue.
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { base, removeOutdirs } from '../support/infra-app.js';

afterAll(removeOutdirs);

describe('config bucket', () => {
  it('is versioned, encrypted, private, TLS-only and logs its access to a separate bucket', () => {
    const bucketId = base().id(base().stack.configBucket.bucket);
    const logsId = base().id(base().stack.configBucket.accessLogsBucket);
    const bucket = base().resources[bucketId];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId } },
    });
    // Replaced versions expire after a year, the last ten whatever their age; stalled uploads after a week.
    expect(bucket.Properties?.LifecycleConfiguration).toEqual({
      Rules: [
        {
          Id: 'expire-replaced-versions',
          Status: 'Enabled',
          NoncurrentVersionExpiration: { NoncurrentDays: 365, NewerNoncurrentVersions: 10 },
          AbortIncompleteMultipartUpload: { DaysAfterInitiation: 7 },
        },
      ],
    });
    expect(base().resources[logsId].Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    for (const id of [bucketId, logsId]) {
      base().template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('invokes config-sync for each .toml object created', () => {
    base().template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: base().id(base().stack.configBucket.bucket) },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.toml' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [base().id(base().stack.configSync.function.function), 'Arn'] },
          },
        ],
      },
    });
  });

  it('retries a failed config-sync twice, then parks the event in an encrypted, TLS-only dead-letter queue', () => {
    const dlq = base().id(base().stack.configSync.deadLetterQueue);
    expect(base().resources[dlq].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    base().template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlq }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    base().template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: base().id(base().stack.configSync.function.function) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
    });
  });
});
