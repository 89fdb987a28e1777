/**
 * The two yardsticks the allocator is measured against in the same run (SPEC section 6):
 * - the raw ceiling: the very write one allocation makes (a chunk bitmap and an owner record, in one
 *   transaction, each on a condition), on distinct keys, so nothing ever conflicts;
 * - the single document: the naive allocator of Whereabouts and most home-grown IPAMs, where one item
 *   holds the pool's whole allocation state and every allocation reads, changes and writes it back on
 *   a version condition, retrying with jitter.
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException } from '@aws-sdk/client-dynamodb';
import { type DynamoDBDocumentClient, GetCommand, PutCommand, TransactWriteCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { emptyBitmap, randomClearBit, withBit } from '../lib/bitmap.js';
import { DEFAULT_RETRY } from '../lib/store.js';

/** One raw-ceiling write on fresh keys: same items, same attributes, same condition style as an allocation. */
export async function rawAllocationWrite(db: DynamoDBDocumentClient, tableName: string, chunkBits: number): Promise<void> {
  const id = randomUUID();
  const pk = `RAW#${id}`;
  const bits = withBit(emptyBitmap(chunkBits), chunkBits - 1, true);
  await db.send(
    new TransactWriteCommand({
      ClientRequestToken: randomUUID(),
      TransactItems: [
        {
          Update: {
            TableName: tableName,
            Key: { pk, sk: 'CHUNK#00000000' },
            UpdateExpression: 'SET bits = :b, used = :u, ver = :next',
            ConditionExpression: 'attribute_not_exists(pk)',
            ExpressionAttributeValues: { ':b': bits, ':u': 1, ':next': 1 },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        {
          Put: {
            TableName: tableName,
            Item: {
              pk,
              sk: `OWNER#${id}`,
              owner: id,
              value: '10.0.0.1',
              chunk: 0,
              bit: chunkBits - 1,
              at: new Date().toISOString(),
              rid: id,
              gpk: pk,
              gsk: '0000000a000001',
            },
            ConditionExpression: 'attribute_not_exists(pk)',
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
      ],
    }),
  );
}

/** A pool kept the naive way: its whole bitmap in one item, changed on a version condition. */
export class SingleDocumentPool {
  private readonly key: { pk: string; sk: string };
  /** Condition failures so far: the retries contention cost. */
  retries = 0;

  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly tableName: string,
    private readonly size: number,
    private readonly random: () => number = Math.random,
  ) {
    this.key = { pk: `SINGLE#${randomUUID()}`, sk: 'DOC' };
  }

  async create(): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: { ...this.key, bits: emptyBitmap(this.size), ver: 0 } }));
  }

  /**
   * A random free value, retried with the allocator's own jittered backoff until it lands; `db` is
   * the calling client's own SDK client, as each allocator client has its own.
   */
  async allocate(db: DynamoDBDocumentClient = this.db): Promise<number> {
    const policy = DEFAULT_RETRY;
    for (let attempt = 0; attempt < policy.maxAttempts * 10; attempt++) {
      const doc = (await db.send(new GetCommand({ TableName: this.tableName, Key: this.key, ConsistentRead: true }))).Item;
      if (!doc) throw new Error('single document missing');
      const bits = doc.bits as Uint8Array;
      const bit = randomClearBit(bits, this.size, this.random);
      if (bit < 0) throw new Error('single document pool exhausted');
      try {
        await db.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: this.key,
            UpdateExpression: 'SET bits = :b, ver = :next',
            ConditionExpression: 'ver = :v',
            ExpressionAttributeValues: { ':b': withBit(bits, bit, true), ':next': (doc.ver as number) + 1, ':v': doc.ver },
          }),
        );
        return bit;
      } catch (e) {
        if (!(e instanceof ConditionalCheckFailedException)) throw e;
        this.retries++;
        const cap = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(attempt + 1, 16));
        await new Promise((r) => setTimeout(r, this.random() * cap));
      }
    }
    throw new Error('single document: gave up');
  }
}
