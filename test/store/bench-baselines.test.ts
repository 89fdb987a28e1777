/**
 * The benchmark's yardsticks must be what the README's Benchmarks section says they are, or its ratios mean nothing:
 * the raw ceiling writes exactly what an allocation writes (same items, same attributes, same sizes,
 * same conditions), and the single-document allocator is a correct allocator, only a slow one.
 */
import type { AttributeValue, TransactWriteItem } from '@aws-sdk/client-dynamodb';
import { describe, expect, test } from 'vitest';
import { RawCeiling, SingleDocumentPool } from '../../bench/baselines.js';
import { itemSize } from '../../bench/item-size.js';
import { freshStore, register, testClient, val } from '../support/store.js';

/** A client that keeps the items of every TransactWriteItems call it sends. */
function recordingClient() {
  const client = testClient();
  const transactions: TransactWriteItem[][] = [];
  client.middlewareStack.add(
    (next, context) => async (args) => {
      if (context.commandName === 'TransactWriteItemsCommand') transactions.push((args.input as { TransactItems: TransactWriteItem[] }).TransactItems);
      return next(args);
    },
    { step: 'initialize' },
  );
  return { client, transactions };
}

/** What matters of a transaction for its cost: per item, the kind of write, its expressions and attributes. */
function shape(items: TransactWriteItem[]) {
  return items.map((item) => {
    const [kind, write] = Object.entries(item)[0] as [string, Record<string, unknown>];
    const attributes = (write.Item ?? write.ExpressionAttributeValues ?? {}) as Record<string, AttributeValue>;
    return {
      kind,
      update: write.UpdateExpression,
      condition: write.ConditionExpression,
      onFailure: write.ReturnValuesOnConditionCheckFailure,
      attributes: Object.keys(attributes).sort(),
      bitmapBytes: attributes[':bits']?.B?.length,
    };
  });
}

const sizes = (items: TransactWriteItem[]) =>
  items.map((item) => {
    const write = Object.values(item)[0] as { Item?: Record<string, AttributeValue>; ExpressionAttributeValues?: Record<string, AttributeValue> };
    return itemSize(write.Item ?? write.ExpressionAttributeValues ?? {});
  });

describe('benchmark yardsticks', () => {
  test('the raw ceiling writes what an allocation writes, first and later writes to a chunk alike', async () => {
    const ours = recordingClient();
    const store = await freshStore({ client: ours.client });
    await register(store, '[pools.alloc]\ntype = "integer"\nranges = [{ start = 0, end = 250000 }]');
    // Two values of chunk 0 of a 250,000-value pool (256-bit chunks): its first write, then a later one.
    await store.allocate({ pool: 'alloc', owner: 'owner-0', value: val(3) });
    await store.allocate({ pool: 'alloc', owner: 'owner-1', value: val(200) });

    const raw = recordingClient();
    const ceiling = new RawCeiling([raw.client], store.tableName, 256, 1);
    await ceiling.write(0);
    await ceiling.write(0);

    const allocations = ours.transactions.slice(-2);
    expect(raw.transactions.map(shape)).toEqual(allocations.map(shape));
    expect(shape(allocations[1])[0]).toMatchObject({ kind: 'Update', condition: '#ver = :seen AND (#born = :born OR attribute_not_exists(#born))', bitmapBytes: 32 });
    for (const [i, tx] of raw.transactions.entries()) {
      // Names (pool, owner, value text) differ by a few bytes; the write units do not.
      sizes(tx).forEach((bytes, j) => expect(Math.abs(bytes - sizes(allocations[i])[j])).toBeLessThanOrEqual(24));
    }
  });

  test('the single-document allocator is correct under concurrency: every value once', async () => {
    const store = await freshStore();
    const clients = Array.from({ length: 8 }, () => testClient());
    const single = new SingleDocumentPool(clients[0], store.tableName, 64);
    await single.create();
    const values = await Promise.all(clients.flatMap((c) => Array.from({ length: 8 }, () => single.allocate(c))));
    expect(new Set(values).size).toBe(64);
    expect(values.every((v) => v >= 0 && v < 64)).toBe(true);
    expect(single.retries).toBeGreaterThan(0);
  });
});
