// The allocation table of the CDK app: billing, recovery, retention, encryption, and the keys and
// indexes of the data model (lib/store/keys.ts).
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { TABLE_KEYS } from '../../lib/store/keys.js';
import { base, type Json, removeOutdirs } from '../support/infra-app.js';

afterAll(removeOutdirs);

describe('allocation table', () => {
  it('is on-demand, point-in-time recoverable, deletion-protected, retained and AWS-managed encrypted', () => {
    base().template.resourceCountIs('AWS::DynamoDB::Table', 1);
    base().template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        // SSEEnabled without a key of our own = the AWS managed key (aws/dynamodb).
        SSESpecification: { SSEEnabled: true },
      }),
    });
    const table = Object.values(base().resources).find((r) => r.Type === 'AWS::DynamoDB::Table')!;
    expect((table.Properties!.SSESpecification as Json).KMSMasterKeyId).toBeUndefined();
  });

  it('has the data model keys, the by-value, by-owner and by-expiry indexes and the TTL attribute', () => {
    // lib/items.ts is the contract the store reads and writes by: pk/sk, by-value on gpk/gsk, expires_at.
    const k = TABLE_KEYS;
    base().template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: k.partitionKey, KeyType: 'HASH' },
        { AttributeName: k.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: k.partitionKey, AttributeType: 'S' },
        { AttributeName: k.sortKey, AttributeType: 'S' },
        { AttributeName: k.valueIndexPartitionKey, AttributeType: 'S' },
        { AttributeName: k.valueIndexSortKey, AttributeType: 'S' },
        { AttributeName: k.leaseIndexPartitionKey, AttributeType: 'S' },
        { AttributeName: k.leaseIndexSortKey, AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: k.valueIndex,
          KeySchema: [
            { AttributeName: k.valueIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: k.valueIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: k.ownerIndex,
          KeySchema: [
            { AttributeName: k.ownerIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: k.ownerIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
        {
          IndexName: k.leaseIndex,
          KeySchema: [
            { AttributeName: k.leaseIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: k.leaseIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: k.ttl, Enabled: true },
    });
  });
});
