/**
 * The table adapter: the store's DynamoDB requests with plain JavaScript values in and out (what
 * lib-dynamodb's DocumentClient does, done with util-dynamodb on the low-level client, whose
 * middleware is resolved once per command type), every request bounded by the operation's budget,
 * and reads retried within it. Writes are sent once; what a failed write means is for the caller
 * (lib/store/transact.ts). Also the table's schema, for the local stack and the tests.
 */
import {
  type AttributeValue,
  BatchGetItemCommand,
  BatchWriteItemCommand,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ResourceNotFoundException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  UpdateItemCommand,
  UpdateTableCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { type ItemKey, type Native, TABLE_KEYS } from './keys.js';
import { classifyError } from './outcomes.js';
import { type Budget, jitter, type RetryPolicy, sleep } from './pacing.js';
import { unavailable } from './store-errors.js';
import type { Write } from './writes.js';

export type { Native };

/** A query on the table or an index, with plain JavaScript attribute values. */
export type QueryInput = Omit<QueryCommandInput, 'TableName' | 'ExpressionAttributeValues' | 'ExclusiveStartKey'> & { ExpressionAttributeValues: Native };

export interface Page {
  items: Native[];
  /** Where the next page starts, when DynamoDB stopped before the end. */
  last?: Record<string, AttributeValue>;
}

const toAttributes = (values: object): Record<string, AttributeValue> => marshall(values as Native, { removeUndefinedValues: true });
const fromAttributes = (item: Record<string, AttributeValue>): Native => unmarshall(item);

export class Table {
  constructor(
    readonly client: DynamoDBClient,
    readonly name: string,
    private readonly retry: RetryPolicy,
    private readonly random: () => number,
    private readonly onRetry: (reason: 'throttled' | 'contention' | 'ambiguous') => void = () => {},
  ) {}

  async get(key: ItemKey, budget: Budget, { consistent = true } = {}): Promise<Native | undefined> {
    const out = await this.read(budget, (abortSignal) =>
      this.client.send(new GetItemCommand({ TableName: this.name, Key: toAttributes(key), ConsistentRead: consistent }), { abortSignal }),
    );
    return out.Item && fromAttributes(out.Item);
  }

  /** Any number of keys, read consistently, 100 per request; keys DynamoDB leaves unprocessed are asked again. */
  async batchGet(keys: readonly ItemKey[], budget: Budget): Promise<Native[]> {
    const out: Native[] = [];
    for (let i = 0; i < keys.length; i += 100) {
      let pending: Record<string, AttributeValue>[] = keys.slice(i, i + 100).map(toAttributes);
      for (let attempt = 0; pending.length > 0; attempt++) {
        // Throttled part-way, again and again: as bounded as every other retry.
        if (attempt >= this.retry.maxAttempts || budget.remaining() <= 0) throw unavailable('a read of several items');
        if (attempt > 0) await this.pause(attempt, budget);
        const got = await this.read(budget, (abortSignal) =>
          this.client.send(new BatchGetItemCommand({ RequestItems: { [this.name]: { Keys: pending, ConsistentRead: true } } }), { abortSignal }),
        );
        out.push(...(got.Responses?.[this.name] ?? []).map(fromAttributes));
        pending = got.UnprocessedKeys?.[this.name]?.Keys ?? [];
      }
    }
    return out;
  }

  /**
   * Up to 25 items written whole, without conditions (BatchWriteItem); items DynamoDB leaves
   * unprocessed are sent again. Only for items whose second write changes nothing.
   */
  async batchPut(items: readonly Native[], budget: Budget): Promise<void> {
    let pending = items.map((item) => ({ PutRequest: { Item: toAttributes(item) } }));
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt >= this.retry.maxAttempts || budget.remaining() <= 0) throw unavailable('a write of several items');
      if (attempt > 0) await this.pause(attempt, budget);
      try {
        const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.name]: pending } }), { abortSignal: budget.writeSignal() });
        pending = (out.UnprocessedItems?.[this.name] ?? []).flatMap((r) => (r.PutRequest?.Item ? [{ PutRequest: { Item: r.PutRequest.Item } }] : []));
      } catch (e) {
        // Writing these items again changes nothing: a lost answer is retried like throttling.
        const kind = classifyError(e);
        if (kind === 'fatal') throw e;
        this.onRetry(kind);
      }
    }
  }

  async query(input: QueryInput, budget: Budget, start?: Record<string, AttributeValue>): Promise<Page> {
    const out = await this.read(budget, (abortSignal) =>
      this.client.send(
        new QueryCommand({ ...input, TableName: this.name, ExpressionAttributeValues: toAttributes(input.ExpressionAttributeValues), ExclusiveStartKey: start }),
        { abortSignal },
      ),
    );
    return { items: (out.Items ?? []).map(fromAttributes), last: out.LastEvaluatedKey };
  }

  /** Every page of a query, item by item. */
  async *queryAll(input: QueryInput, budget: Budget): AsyncGenerator<Native> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const page = await this.query(input, budget, start);
      yield* page.items;
      start = page.last;
    } while (start);
  }

  /**
   * One write outside a transaction. Throttling is retried within the budget (nothing was written);
   * a lost answer too when the write is `idempotent` (writing it twice changes nothing), else it is
   * UNAVAILABLE for the caller to settle. A failed condition is the caller's to judge.
   */
  async write(write: Write, budget: Budget, { idempotent = false } = {}): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.send(write, budget.writeSignal());
      } catch (e) {
        const kind = classifyError(e);
        if (kind === 'fatal') throw e;
        this.onRetry(kind);
        if ((kind === 'ambiguous' && !idempotent) || attempt >= this.retry.maxAttempts || !budget.open()) throw unavailable('a write', e);
        await this.pause(attempt, budget);
      }
    }
  }

  private async send(write: Write, abortSignal: AbortSignal): Promise<void> {
    if ('Put' in write) {
      const { Item, ExpressionAttributeValues, ...rest } = write.Put;
      await this.client.send(new PutItemCommand({ ...rest, TableName: this.name, Item: toAttributes(Item), ExpressionAttributeValues: values(ExpressionAttributeValues) }), { abortSignal });
    } else if ('Update' in write) {
      const { Key, ExpressionAttributeValues, ...rest } = write.Update;
      await this.client.send(new UpdateItemCommand({ ...rest, TableName: this.name, Key: toAttributes(Key), ExpressionAttributeValues: values(ExpressionAttributeValues) }), { abortSignal });
    } else {
      throw new Error('Table.write takes a Put or an Update');
    }
  }

  async transact(writes: readonly Write[], token: string, budget: Budget): Promise<void> {
    await this.client.send(new TransactWriteItemsCommand({ TransactItems: writes.map((w) => this.transactItem(w)), ClientRequestToken: token }), {
      abortSignal: budget.writeSignal(),
    });
  }

  /** Decodes an item DynamoDB handed back (a cancellation reason's item). */
  fromAttributes(item: Record<string, AttributeValue>): Native {
    return fromAttributes(item);
  }

  private transactItem(write: Write): TransactWriteItem {
    if ('Put' in write) {
      const { Item, ExpressionAttributeValues, ...rest } = write.Put;
      return { Put: { ...rest, TableName: this.name, Item: toAttributes(Item), ExpressionAttributeValues: values(ExpressionAttributeValues) } };
    }
    if ('Update' in write) {
      const { Key, ExpressionAttributeValues, ...rest } = write.Update;
      return { Update: { ...rest, TableName: this.name, Key: toAttributes(Key), ExpressionAttributeValues: values(ExpressionAttributeValues) } };
    }
    if ('ConditionCheck' in write) {
      const { Key, ExpressionAttributeValues, ...rest } = write.ConditionCheck;
      return { ConditionCheck: { ...rest, TableName: this.name, Key: toAttributes(Key), ExpressionAttributeValues: values(ExpressionAttributeValues) } };
    }
    const { Key, ExpressionAttributeValues, ...rest } = write.Delete;
    return { Delete: { ...rest, TableName: this.name, Key: toAttributes(Key), ExpressionAttributeValues: values(ExpressionAttributeValues) } };
  }

  /** A read, retried on throttling and lost answers for as long as the budget lasts. */
  private async read<T>(budget: Budget, send: (signal: AbortSignal) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await send(budget.signal());
      } catch (e) {
        const kind = classifyError(e);
        if (kind === 'fatal') throw e;
        this.onRetry(kind);
        if (attempt >= this.retry.maxAttempts || budget.remaining() <= 0) throw unavailable('a read', e);
        await this.pause(attempt, budget);
      }
    }
  }

  private async pause(attempt: number, budget: Budget): Promise<void> {
    await sleep(Math.min(jitter(this.retry, attempt, this.random), Math.max(0, budget.remaining())));
  }

  // ---------------------------------------------------------------- schema

  /**
   * Creates the table when missing (local stack and tests; in AWS the CDK app owns it), and adds the
   * global indexes and the change stream a table made by an earlier version lacks (a local stack's
   * data directory). `changeStream: false` leaves the stream out, for tests of what does not read it:
   * DynamoDB Local writes every stream record inside the write's own transaction, which makes large
   * transactions (a 1,000-pool registration) several times slower there.
   */
  async ensure({ changeStream = true }: { changeStream?: boolean } = {}): Promise<void> {
    try {
      const { Table: described } = await this.client.send(new DescribeTableCommand({ TableName: this.name }));
      const indexes = new Set((described?.GlobalSecondaryIndexes ?? []).map((i) => i.IndexName));
      if (!indexes.has(TABLE_KEYS.ownerIndex)) await this.addIndex(OWNER_INDEX);
      if (!indexes.has(TABLE_KEYS.leaseIndex)) await this.addIndex(LEASE_INDEX);
      if (changeStream && !described?.StreamSpecification?.StreamEnabled) {
        await this.client.send(new UpdateTableCommand({ TableName: this.name, StreamSpecification: CHANGE_STREAM }));
      }
      return;
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
    const k = TABLE_KEYS;
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: this.name,
          BillingMode: 'PAY_PER_REQUEST',
          StreamSpecification: changeStream ? CHANGE_STREAM : undefined,
          AttributeDefinitions: [
            { AttributeName: k.partitionKey, AttributeType: 'S' },
            { AttributeName: k.sortKey, AttributeType: 'S' },
            { AttributeName: k.valueIndexPartitionKey, AttributeType: 'S' },
            { AttributeName: k.valueIndexSortKey, AttributeType: 'S' },
            { AttributeName: k.roomIndexSortKey, AttributeType: 'S' },
            { AttributeName: k.ownerIndexPartitionKey, AttributeType: 'S' },
            { AttributeName: k.ownerIndexSortKey, AttributeType: 'S' },
            { AttributeName: k.leaseIndexPartitionKey, AttributeType: 'S' },
            { AttributeName: k.leaseIndexSortKey, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: k.partitionKey, KeyType: 'HASH' },
            { AttributeName: k.sortKey, KeyType: 'RANGE' },
          ],
          GlobalSecondaryIndexes: [
            {
              IndexName: k.valueIndex,
              KeySchema: [
                { AttributeName: k.valueIndexPartitionKey, KeyType: 'HASH' },
                { AttributeName: k.valueIndexSortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'ALL' },
            },
            OWNER_INDEX,
            LEASE_INDEX,
          ],
          LocalSecondaryIndexes: [
            {
              IndexName: k.roomIndex,
              KeySchema: [
                { AttributeName: k.partitionKey, KeyType: 'HASH' },
                { AttributeName: k.roomIndexSortKey, KeyType: 'RANGE' },
              ],
              Projection: { ProjectionType: 'KEYS_ONLY' },
            },
          ],
        }),
      );
    } catch (e) {
      // Two processes starting at once may both try; the loser sees the table in use.
      if ((e as Error).name !== 'ResourceInUseException') throw e;
    }
  }

  /** A global index a table made by an earlier version lacks, backfilled before the store uses it. */
  private async addIndex(index: typeof OWNER_INDEX): Promise<void> {
    await this.client.send(
      new UpdateTableCommand({
        TableName: this.name,
        AttributeDefinitions: index.KeySchema.map((k) => ({ AttributeName: k.AttributeName, AttributeType: 'S' as const })),
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
    // Backfilling takes a moment; until the index is active, queries on it fail.
    for (let i = 0; i < 120; i++) {
      const { Table: t } = await this.client.send(new DescribeTableCommand({ TableName: this.name }));
      if (t?.GlobalSecondaryIndexes?.find((x) => x.IndexName === index.IndexName)?.IndexStatus === 'ACTIVE') return;
      await sleep(250);
    }
  }
}

/** The change stream history is derived from (lib/store/history-feed.ts): both images, to see what changed. */
export const CHANGE_STREAM = { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' as const };

const OWNER_INDEX = {
  IndexName: TABLE_KEYS.ownerIndex as string,
  KeySchema: [
    { AttributeName: TABLE_KEYS.ownerIndexPartitionKey as string, KeyType: 'HASH' as const },
    { AttributeName: TABLE_KEYS.ownerIndexSortKey as string, KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'ALL' as 'ALL' | 'KEYS_ONLY' },
};

/**
 * Leased allocation records by expiry (lib/store/expire.ts): sparse, since only a leased record has
 * its keys, and keys only, since the sweeper reads each record again by key anyway (the index trails
 * the table); so each entry costs 1 WCU whatever the record's size.
 */
const LEASE_INDEX = {
  IndexName: TABLE_KEYS.leaseIndex as string,
  KeySchema: [
    { AttributeName: TABLE_KEYS.leaseIndexPartitionKey as string, KeyType: 'HASH' as const },
    { AttributeName: TABLE_KEYS.leaseIndexSortKey as string, KeyType: 'RANGE' as const },
  ],
  Projection: { ProjectionType: 'KEYS_ONLY' as 'ALL' | 'KEYS_ONLY' },
};

function values(v: Native | undefined): Record<string, AttributeValue> | undefined {
  return v && toAttributes(v);
}
