/**
 * What an owner holds in every pool (the by-owner index, confirmed by key), on DynamoDB Local; and a
 * table made before that index existed gets it.
 */
import { CreateTableCommand, DescribeTableCommand } from '@aws-sdk/client-dynamodb';
import { describe, expect, test } from 'vitest';
import { TABLE_KEYS } from '../../lib/store/keys.js';
import { blockOf, freshStore, register, storeOn, testClient } from '../support/store.js';

describe('an owner across pools', () => {
  test("a VPC's VNI, VLAN block and loopback, by pool name; released ones and other owners' are not listed", async () => {
    const store = await freshStore();
    await register(
      store,
      '[pools.vni]\ntype = "integer"\nranges = [{ start = 10000, end = 11000 }]\n[pools.vlan]\ntype = "integer"\nranges = [{ start = 0, end = 4096 }]\n[pools.lo]\ntype = "ipv4"\nprefix = "10.0.0.0/24"',
    );
    for (const pool of ['vni', 'lo']) await store.allocate({ pool, owner: 'vpc-42' });
    await store.allocate({ pool: 'vlan', owner: 'vpc-42', size: blockOf(16) });
    await store.allocate({ pool: 'vni', owner: 'vpc-43' });
    await store.allocate({ pool: 'lo', owner: 'vpc-42:dpu-1' });
    // The index trails the table: what it names is confirmed by key, so give it its moment here.
    await new Promise((r) => setTimeout(r, 200));
    const held = await store.ownerHoldings('vpc-42');
    expect(held.map((a) => [a.pool, a.owner, a.size])).toEqual([['lo', 'vpc-42', 1], ['vlan', 'vpc-42', 16], ['vni', 'vpc-42', 1]]);
    await store.release({ pool: 'vni', owner: 'vpc-42' });
    expect((await store.ownerHoldings('vpc-42')).map((a) => a.pool)).toEqual(['lo', 'vlan']);
    expect(await store.ownerHoldings('nobody')).toEqual([]);
  });

  test('a table without the by-owner index (made by an earlier version) gets it from ensureTable', async () => {
    const store = await freshStore();
    const tableName = `${store.tableName}-old`;
    const client = testClient();
    const k = TABLE_KEYS;
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [
          { AttributeName: k.partitionKey, AttributeType: 'S' },
          { AttributeName: k.sortKey, AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: k.partitionKey, KeyType: 'HASH' },
          { AttributeName: k.sortKey, KeyType: 'RANGE' },
        ],
      }),
    );
    await storeOn(tableName).ensureTable();
    const { Table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    // And the lease index, which it lacked too.
    expect(Table?.GlobalSecondaryIndexes?.map((i) => [i.IndexName, i.IndexStatus]).sort()).toEqual([[k.leaseIndex, 'ACTIVE'], [k.ownerIndex, 'ACTIVE']].sort());
  });
});
