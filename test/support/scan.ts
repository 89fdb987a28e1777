/** The whole table, read with a consistent Scan, in key order: what a test compares before and after. */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { testClient } from './store.js';

export type ScannedItem = Record<string, unknown>;

export async function scanTable(tableName: string): Promise<ScannedItem[]> {
  const client = testClient();
  const items: ScannedItem[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []).map((i) => unmarshall(i)));
    start = page.LastEvaluatedKey;
  } while (start);
  const key = (i: ScannedItem) => `${String(i.pk)}\u0000${String(i.sk)}`;
  return items.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

/** The `released` history entries of the table (items under HIST#…). */
export async function releasedEntries(tableName: string): Promise<ScannedItem[]> {
  return (await scanTable(tableName)).filter((i) => String(i.pk).startsWith('HIST#') && i.ev === 'released');
}
