/**
 * The two yardsticks the allocator is measured against in the same run (README, Benchmarks):
 * - the raw ceiling: the very write one allocation makes (a chunk bitmap on its version and an owner
 *   record on its absence, in one transaction), on keys no other client writes, so nothing conflicts;
 * - the single document: the naive allocator of Whereabouts and most home-grown IPAMs, where one item
 *   holds the pool's whole allocation state and every allocation reads, changes and writes it back on
 *   a version condition, retrying with jitter.
 */
import { randomUUID } from 'node:crypto';
import { ConditionalCheckFailedException, type DynamoDBClient, GetItemCommand, PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { emptyBitmap, popcount, randomClearBit, withBit } from '../lib/store/bitmap.js';
import { type ChunkInfo, Layout } from '../lib/store/layout.js';
import { Budget, DEFAULT_BUDGET_MS, DEFAULT_RETRY } from '../lib/store/pacing.js';
import { chunkRoom } from '../lib/store/room.js';
import { Table } from '../lib/store/table.js';
import { chunkWrite, holdingPut, metaOpen } from '../lib/store/writes.js';
import { metaKey } from '../lib/store/keys.js';

/**
 * The raw ceiling: the very write an allocation makes in its usual case, with the reads and the
 * choosing left out. One transaction changes a chunk that already exists (a 256-bit bitmap, as in a
 * 250,000-value pool) on its version and creates an allocation record, built by the store's own write
 * builders (lib/store/writes.ts) and sent through the store's own table adapter, so the items, their
 * attributes (the room key included) and conditions are the allocator's. A chunk's first write is made
 * on `attribute_not_exists`, with the check on the pool's definition that an allocation creating a
 * chunk item carries, as the allocator's is. Each client writes only chunks of its own, spread
 * over about as many chunks as the 250,000-value pool has, so it knows their versions and bits without
 * reading, and nothing ever conflicts.
 */
export class RawCeiling {
  private readonly pool = `raw-${randomUUID().slice(0, 8)}`;
  private readonly born = new Date().toISOString();
  private readonly chunks: { ver: number; bits: Uint8Array }[][];
  private readonly tables: Table[];
  private readonly layout: Layout;
  private serial = 0;
  /** The definition the first write of each chunk checks, written once. */
  private definition?: Promise<void>;

  constructor(
    clients: readonly DynamoDBClient[],
    tableName: string,
    private readonly chunkBits = 256,
    chunksPerClient = 30,
    private readonly random: () => number = Math.random,
  ) {
    this.chunks = clients.map(() => Array.from({ length: chunksPerClient }, () => ({ ver: 0, bits: emptyBitmap(chunkBits) })));
    this.tables = clients.map((c) => new Table(c, tableName, DEFAULT_RETRY, random));
    const end = BigInt(clients.length * chunksPerClient * chunkBits);
    this.layout = new Layout([{ start: 0n, end, autoAssign: true, firstChunk: 0, chunkBits }]);
  }

  /** One allocation's write by `client`, on a random chunk of its own. */
  async write(client: number): Promise<void> {
    const own = this.chunks[client];
    const k = Math.floor(this.random() * own.length);
    const chunkNo = client * own.length + k;
    const info = this.layout.chunk(chunkNo) as ChunkInfo;
    const state = own[k];
    let bit = randomClearBit(state.bits, 0, this.chunkBits, this.random);
    if (bit < 0) {
      // A full chunk starts over: the write stays the same size, which is what matters here.
      state.bits = emptyBitmap(this.chunkBits);
      bit = randomClearBit(state.bits, 0, this.chunkBits, this.random);
    }
    const bits = withBit(state.bits, bit, true);
    const used = popcount(bits);
    const before = state.ver > 0 ? { chunk: chunkNo, bits: state.bits, used: used - 1, ver: state.ver } : undefined;
    const owner = `raw-${this.serial++}`;
    const now = new Date();
    if (!before) await (this.definition ??= this.tables[client].write({ Put: { Item: { ...metaKey(this.pool), name: this.pool, created_at: this.born } } }, Budget.of(DEFAULT_BUDGET_MS)));
    await this.tables[client].transact(
      [
        chunkWrite({ name: this.pool, createdAt: this.born }, chunkNo, before, { bits, used, room: chunkRoom('integer', info, bits), at: now.getTime() }),
        holdingPut({ pool: this.pool, type: 'integer', owner, value: info.base + BigInt(bit), size: 1, at: now.toISOString(), rid: randomUUID() }),
        ...(before ? [] : [metaOpen({ name: this.pool, createdAt: this.born })]),
      ],
      randomUUID(),
      Budget.of(DEFAULT_BUDGET_MS),
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
      const bit = randomClearBit(bits, 0, this.size, this.random);
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
