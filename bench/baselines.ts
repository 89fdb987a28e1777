/**
 * The two yardsticks the allocator is measured against in the same run (SPEC section 6):
 * - the raw ceiling: the very write one allocation makes (a chunk bitmap on its version and an owner
 *   record on its absence, in one transaction), on keys no other client writes, so nothing conflicts;
 * - the single document: the naive allocator of Whereabouts and most home-grown IPAMs, where one item
 *   holds the pool's whole allocation state and every allocation reads, changes and writes it back on
 *   a version condition, retrying with jitter.
 */
import { randomUUID } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { emptyBitmap, popcount, randomClearBit, withBit } from '../lib/bitmap.js';
import { chunkSk, ownerSk } from '../lib/items.js';
import { DEFAULT_RETRY } from '../lib/store.js';
import { valueSortKey } from '../lib/values.js';

/**
 * The raw ceiling: the very write an allocation makes in its usual case, with the reads and the
 * choosing left out. One transaction changes a chunk that already exists (a 256-bit bitmap, as in a
 * 250,000-value pool) on its version and creates an owner record with the same attributes, both in one
 * pool's item collection and under its `by-value` key, as the allocator writes them. A chunk's first
 * write is made on `attribute_not_exists`, as the allocator's is. Each client writes only chunks of its
 * own, spread over about as many chunks as the 250,000-value pool has, so it knows their versions and
 * bits without reading, and nothing ever conflicts.
 */
export class RawCeiling {
  private readonly pk = `POOL#raw-${randomUUID().slice(0, 8)}`;
  private readonly chunks: { ver: number; bits: Uint8Array }[][];
  private serial = 0;

  constructor(
    private readonly clients: readonly DynamoDBClient[],
    private readonly tableName: string,
    private readonly chunkBits = 256,
    chunksPerClient = 30,
    private readonly random: () => number = Math.random,
  ) {
    this.chunks = clients.map(() => Array.from({ length: chunksPerClient }, () => ({ ver: 0, bits: emptyBitmap(chunkBits) })));
  }

  /** One allocation's write by `client`, on a random chunk of its own. */
  async write(client: number): Promise<void> {
    const own = this.chunks[client];
    const k = Math.floor(this.random() * own.length);
    const chunkNo = client * own.length + k;
    const state = own[k];
    let bit = randomClearBit(state.bits, this.chunkBits, this.random);
    if (bit < 0) {
      // A full chunk starts over: the write stays the same size, which is what matters here.
      state.bits = emptyBitmap(this.chunkBits);
      bit = randomClearBit(state.bits, this.chunkBits, this.random);
    }
    const bits = withBit(state.bits, bit, true);
    const used = popcount(bits);
    const value = chunkNo * this.chunkBits + bit;
    const owner = `raw-${this.serial++}`;
    const id = randomUUID();
    await this.clients[client].send(
      new TransactWriteItemsCommand({
        ClientRequestToken: randomUUID(),
        TransactItems: [
          {
            Update: {
              TableName: this.tableName,
              Key: marshall({ pk: this.pk, sk: chunkSk(chunkNo) }),
              UpdateExpression: 'SET bits = :b, used = :u, ver = :next',
              ConditionExpression: state.ver > 0 ? 'ver = :v' : 'attribute_not_exists(pk)',
              ExpressionAttributeValues: marshall({ ':b': bits, ':u': used, ':next': state.ver + 1, ...(state.ver > 0 ? { ':v': state.ver } : {}) }),
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
          {
            Put: {
              TableName: this.tableName,
              Item: marshall({
                pk: this.pk,
                sk: ownerSk(owner),
                owner,
                value: String(value),
                chunk: chunkNo,
                bit,
                at: new Date().toISOString(),
                rid: id,
                gpk: this.pk,
                gsk: valueSortKey('integer', BigInt(value)),
              }),
              ConditionExpression: 'attribute_not_exists(pk)',
              ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
            },
          },
        ],
      }),
    );
    state.ver++;
    state.bits = bits;
  }
}

/** A pool kept the naive way: its whole bitmap in one item, changed on a version condition. */
export class SingleDocumentPool {
  private readonly key: { pk: string; sk: string };
  /** Condition failures so far: the retries contention cost. */
  retries = 0;

  constructor(
    private readonly db: DynamoDBClient,
    private readonly tableName: string,
    private readonly size: number,
    private readonly random: () => number = Math.random,
  ) {
    this.key = { pk: `SINGLE#${randomUUID()}`, sk: 'DOC' };
  }

  async create(): Promise<void> {
    await this.db.send(new PutItemCommand({ TableName: this.tableName, Item: marshall({ ...this.key, bits: emptyBitmap(this.size), ver: 0 }) }));
  }

  /**
   * A random free value, retried with the allocator's own jittered backoff until it lands; `db` is
   * the calling client's own SDK client, as each allocator client has its own.
   */
  async allocate(db: DynamoDBClient = this.db): Promise<number> {
    const policy = DEFAULT_RETRY;
    for (let attempt = 0; attempt < policy.maxAttempts * 10; attempt++) {
      const out = await db.send(new GetItemCommand({ TableName: this.tableName, Key: marshall(this.key), ConsistentRead: true }));
      if (!out.Item) throw new Error('single document missing');
      const doc = unmarshall(out.Item);
      const bits = doc.bits as Uint8Array;
      const bit = randomClearBit(bits, this.size, this.random);
      if (bit < 0) throw new Error('single document pool exhausted');
      try {
        await db.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: marshall(this.key),
            UpdateExpression: 'SET bits = :b, ver = :next',
            ConditionExpression: 'ver = :v',
            ExpressionAttributeValues: marshall({ ':b': withBit(bits, bit, true), ':next': (doc.ver as number) + 1, ':v': doc.ver }),
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
