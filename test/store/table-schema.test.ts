/**
 * The table the store creates for itself (the local stack, tests: lib/store/table.ts, ensure) has the
 * keys and indexes of the CDK table (infra/allocation-table.ts), so that what runs locally is what is
 * deployed; and a table made by an earlier version gets the global indexes it lacks.
 */
import { DescribeTableCommand, type DescribeTableCommandOutput, UpdateTableCommand } from '@aws-sdk/client-dynamodb';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import { AllocationTable } from '../../infra/allocation-table.js';
import { TABLE_KEYS } from '../../lib/store/keys.js';
import { freshStore, testClient } from '../support/store.js';

interface Index {
  IndexName?: string;
  KeySchema?: { AttributeName?: string; KeyType?: string }[];
  Projection?: { ProjectionType?: string };
}

const shape = (indexes: Index[] | undefined) =>
  (indexes ?? []).map((i) => ({ name: i.IndexName, keys: (i.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`), projection: i.Projection?.ProjectionType })).sort((a, b) => String(a.name).localeCompare(String(b.name)));

function cdkTable(): Record<string, unknown> {
  const stack = new Stack(new App(), 'Schema');
  new AllocationTable(stack, 'AllocationTable');
  const [table] = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table'));
  return table.Properties as Record<string, unknown>;
}

async function describeTable(name: string): Promise<NonNullable<DescribeTableCommandOutput['Table']>> {
  return (await testClient().send(new DescribeTableCommand({ TableName: name }))).Table!;
}

describe('the table schema', () => {
  test('the store creates the CDK table: the same keys, global and local indexes, and attribute types', async () => {
    const store = await freshStore();
    const local = await describeTable(store.tableName);
    const cdk = cdkTable();
    expect(shape(local.GlobalSecondaryIndexes)).toEqual(shape(cdk.GlobalSecondaryIndexes as Index[]));
    expect(shape(local.LocalSecondaryIndexes)).toEqual(shape(cdk.LocalSecondaryIndexes as Index[]));
    expect(shape(local.GlobalSecondaryIndexes).map((i) => i.name)).toEqual([TABLE_KEYS.valueIndex, TABLE_KEYS.leaseIndex, TABLE_KEYS.ownerIndex].sort());
    const attributes = (defs: unknown) => (defs as { AttributeName: string; AttributeType: string }[]).map((d) => `${d.AttributeName}:${d.AttributeType}`).sort();
    expect(attributes(local.AttributeDefinitions)).toEqual(attributes(cdk.AttributeDefinitions));
    expect(local.KeySchema).toEqual(cdk.KeySchema);
  });

  test('a table made before leases gets the by-expiry index, as the CDK table has it', async () => {
    const store = await freshStore();
    await testClient().send(new UpdateTableCommand({ TableName: store.tableName, GlobalSecondaryIndexUpdates: [{ Delete: { IndexName: TABLE_KEYS.leaseIndex } }] }));
    await expect.poll(async () => shape((await describeTable(store.tableName)).GlobalSecondaryIndexes).map((i) => i.name), { timeout: 20_000 }).not.toContain(TABLE_KEYS.leaseIndex);
    await store.ensureTable({ changeStream: false });
    const after = await describeTable(store.tableName);
    expect(after.GlobalSecondaryIndexes?.find((i) => i.IndexName === TABLE_KEYS.leaseIndex)?.IndexStatus).toBe('ACTIVE');
    expect(shape(after.GlobalSecondaryIndexes)).toEqual(shape(cdkTable().GlobalSecondaryIndexes as Index[]));
  });
});
