/**
 * The DynamoDB store: pools, chunked free bitmaps and allocation records in one table
 * (docs/DATA-MODEL.md). Concurrency is settled by DynamoDB conditions alone: every change is one
 * transaction whose conditions fail if anything it read has moved, and a failed condition is retried
 * with jittered backoff. Nothing is shared between calls in memory, so any number of Lambda instances
 * can run this at once.
 */
import { randomUUID } from 'node:crypto';
import {
  type CancellationReason,
  CreateTableCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  ResourceNotFoundException,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  type QueryCommandInput,
  TransactWriteCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { emptyBitmap, getBit, popcount, randomClearBit, withBit } from './bitmap.js';
import type { ConfigIssue } from './config.js';
import { PoolError } from './errors.js';
import {
  bytes,
  CHUNK_PREFIX,
  type ChunkItem,
  chunkFromSk,
  chunkSk,
  decodeSegments,
  encodeSegments,
  type MetaItem,
  META_SK,
  OWNER_PREFIX,
  type OwnerItem,
  ownerSk,
  poolPk,
  REGISTRY_KEY,
  type RegistryItem,
  SYNC_PK,
  TABLE_KEYS,
} from './items.js';
import { appendSegments, Layout, TARGET_CHUNKS_PER_SEGMENT } from './layout.js';
import type { Plan, RegisteredPool } from './plan.js';
import type { FlaggedRun } from './runs.js';
import type { ConfigResultJson } from './shapes.js';
import { type Parsed, type PoolType, showValue, valueFromSortKey, valueSortKey } from './values.js';

export interface RetryPolicy {
  /** Attempts before answering UNAVAILABLE. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 30, baseDelayMs: 4, maxDelayMs: 200 };

/** What the store reports as it works; the Lambda adapters turn these into metrics. */
export interface StoreEvents {
  retry?(reason: 'contention' | 'throttled' | 'ambiguous'): void;
  exhausted?(pool: string): void;
}

export interface StoreOptions {
  client: DynamoDBClient;
  tableName: string;
  retry?: Partial<RetryPolicy>;
  events?: StoreEvents;
  now?: () => Date;
  random?: () => number;
  /** How many chunks a new segment is cut into (within chunk size limits); for benchmarks. */
  targetChunksPerSegment?: number;
}

export interface Allocation {
  pool: string;
  type: PoolType;
  value: bigint;
  owner: string;
  allocatedAt: string;
}

export interface PoolStats {
  name: string;
  type: PoolType;
  size: number;
  used: number;
  autoAssignSize: number;
  autoAssignUsed: number;
  runs: FlaggedRun[];
  createdAt: string;
  updatedAt: string;
}

/** Parses a request's value once the pool's type is known (the store reads it). */
export type ValueInput = (type: PoolType) => Parsed<bigint>;

export interface RegistrationState {
  pools: RegisteredPool[];
  /** Registry version the plan was made against; applying fails if it moved. */
  version: number;
  metas: ReadonlyMap<string, MetaItem>;
}

export interface SyncObject {
  bucket: string;
  key: string;
  version_id: string | null;
  etag: string | null;
}

export interface SyncRecord {
  id: string;
  source: 's3' | 'http' | 'startup';
  status: 'applied' | 'rejected';
  object?: SyncObject;
  at: string;
  result?: ConfigResultJson;
  errors?: ConfigIssue[];
}

export interface CheckReport {
  ok: boolean;
  pools: {
    name: string;
    size: number;
    used: number;
    allocations: number;
    problems: string[];
  }[];
}

/** A registration lost a race with another one; plan again against the new state. */
export class RegistryChanged extends Error {
  constructor() {
    super('the registered pools changed while this file was being applied');
  }
}

const MAX_SYNC_ERRORS = 100;

export class PoolStore {
  readonly tableName: string;
  private readonly db: DynamoDBDocumentClient;
  private readonly raw: DynamoDBClient;
  private readonly retryPolicy: RetryPolicy;
  private readonly events: StoreEvents;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly targetChunks: number;

  constructor(options: StoreOptions) {
    this.tableName = options.tableName;
    this.raw = options.client;
    this.db = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.retryPolicy = { ...DEFAULT_RETRY, ...options.retry };
    this.events = options.events ?? {};
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.targetChunks = options.targetChunksPerSegment ?? TARGET_CHUNKS_PER_SEGMENT;
  }

  // ---------------------------------------------------------------- table

  /** Creates the table when missing (local stack and tests; in AWS the CDK app owns it). */
  async ensureTable(): Promise<void> {
    try {
      await this.raw.send(new DescribeTableCommand({ TableName: this.tableName }));
      return;
    } catch (e) {
      if (!(e instanceof ResourceNotFoundException)) throw e;
    }
    const k = TABLE_KEYS;
    try {
      await this.raw.send(
        new CreateTableCommand({
          TableName: this.tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: k.partitionKey, AttributeType: 'S' },
            { AttributeName: k.sortKey, AttributeType: 'S' },
            { AttributeName: k.valueIndexPartitionKey, AttributeType: 'S' },
            { AttributeName: k.valueIndexSortKey, AttributeType: 'S' },
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
          ],
        }),
      );
    } catch (e) {
      // Two processes starting at once may both try; the loser sees the table in use.
      if ((e as Error).name !== 'ResourceInUseException') throw e;
    }
  }

  /** Liveness: the table answers a read. */
  async health(): Promise<void> {
    await this.db.send(new GetCommand({ TableName: this.tableName, Key: REGISTRY_KEY }));
  }

  // ---------------------------------------------------------------- registration

  async registrationState(): Promise<RegistrationState> {
    const registry = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: REGISTRY_KEY, ConsistentRead: true })))
      .Item as RegistryItem | undefined;
    const names = Object.keys(registry?.pools ?? {});
    const metas = await this.getMetas(names);
    const pools = names.flatMap((name) => {
      const meta = metas.get(name);
      if (!meta) return [];
      return [{ name, type: meta.type, runs: new Layout(decodeSegments(meta.segments)).runs(), prefix: meta.prefix }];
    });
    return { pools, version: registry?.ver ?? 0, metas };
  }

  /**
   * Applies a registration plan in one transaction: the registry version, every created or grown
   * pool, and the sync record. Nothing is written when anything it was planned against has moved.
   */
  async applyPlan(plan: Plan, state: RegistrationState, sync?: SyncRecord): Promise<void> {
    const at = this.now().toISOString();
    const changed = plan.changes.filter((c) => c.action !== 'unchanged');
    const items: NonNullable<TransactWriteCommandInput['TransactItems']> = [];
    if (changed.length > 0) {
      const names: Record<string, string> = { '#pools': 'pools' };
      const values: Record<string, unknown> = { ':v': state.version, ':one': 1 };
      const sets = changed.map((c, i) => {
        names[`#n${i}`] = c.name;
        values[`:t${i}`] = c.type;
        return `#pools.#n${i} = :t${i}`;
      });
      items.push(
        state.version === 0
          ? {
              Put: {
                TableName: this.tableName,
                Item: { ...REGISTRY_KEY, pools: Object.fromEntries(changed.map((c) => [c.name, c.type])), ver: 1 },
                ConditionExpression: 'attribute_not_exists(pk)',
              },
            }
          : {
              Update: {
                TableName: this.tableName,
                Key: REGISTRY_KEY,
                UpdateExpression: `SET ${sets.join(', ')}, ver = ver + :one`,
                ConditionExpression: 'ver = :v',
                ExpressionAttributeNames: names,
                ExpressionAttributeValues: values,
              },
            },
      );
    }
    for (const c of changed) {
      const meta = state.metas.get(c.name);
      if (!meta) {
        const item: MetaItem = {
          pk: poolPk(c.name),
          sk: META_SK,
          name: c.name,
          type: c.type,
          segments: encodeSegments(appendSegments([], c.added, this.targetChunks)),
          prefix: c.prefix,
          full: new Uint8Array(0),
          ver: 1,
          created_at: at,
          updated_at: at,
        };
        items.push({ Put: { TableName: this.tableName, Item: item, ConditionExpression: 'attribute_not_exists(pk)' } });
      } else {
        const segments = appendSegments(decodeSegments(meta.segments), c.added, this.targetChunks);
        items.push({
          Update: {
            TableName: this.tableName,
            Key: { pk: meta.pk, sk: META_SK },
            UpdateExpression: `SET #segments = :s, #updated = :at, #ver = #ver + :one${c.prefix ? ', #prefix = :p' : ''}`,
            ConditionExpression: '#ver = :v',
            ExpressionAttributeNames: { '#segments': 'segments', '#updated': 'updated_at', '#ver': 'ver', ...(c.prefix ? { '#prefix': 'prefix' } : {}) },
            ExpressionAttributeValues: { ':s': encodeSegments(segments), ':at': at, ':one': 1, ':v': meta.ver, ...(c.prefix ? { ':p': c.prefix } : {}) },
          },
        });
      }
    }
    if (sync) items.push({ Put: { TableName: this.tableName, Item: syncItem(sync) } });
    if (items.length === 0) return;
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
    } catch (e) {
      if (e instanceof TransactionCanceledException) throw new RegistryChanged();
      throw e;
    }
  }

  async recordSync(sync: SyncRecord): Promise<void> {
    await this.db.send(new PutCommand({ TableName: this.tableName, Item: syncItem(sync) }));
  }

  async syncs(limit = 100): Promise<SyncRecord[]> {
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk',
        ExpressionAttributeValues: { ':pk': SYNC_PK },
        ScanIndexForward: false,
        Limit: limit,
      }),
    );
    return (out.Items ?? []).map((i) => JSON.parse(i.record as string) as SyncRecord);
  }

  // ---------------------------------------------------------------- reading pools

  async pool(name: string): Promise<PoolStats> {
    const meta = await this.getMeta(name);
    if (!meta) throw poolNotFound(name);
    return this.statsOf(meta);
  }

  async pools(): Promise<PoolStats[]> {
    const registry = (await this.db.send(new GetCommand({ TableName: this.tableName, Key: REGISTRY_KEY, ConsistentRead: true })))
      .Item as RegistryItem | undefined;
    const names = Object.keys(registry?.pools ?? {}).sort();
    const metas = await this.getMetas(names);
    const out: PoolStats[] = [];
    for (const name of names) {
      const meta = metas.get(name);
      if (meta) out.push(await this.statsOf(meta));
    }
    return out;
  }

  /** Exact counts, summed from the chunk items: the chunks are the truth, there is no separate counter. */
  private async statsOf(meta: MetaItem): Promise<PoolStats> {
    const layout = new Layout(decodeSegments(meta.segments));
    let used = 0;
    let autoUsed = 0;
    for await (const item of this.queryAll({
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
      ExpressionAttributeValues: { ':pk': meta.pk, ':c': CHUNK_PREFIX },
      ProjectionExpression: 'sk, used',
    })) {
      const n = Number(item.used ?? 0);
      used += n;
      if (layout.chunk(chunkFromSk(item.sk as string))?.segment.autoAssign) autoUsed += n;
    }
    return {
      name: meta.name,
      type: meta.type,
      size: Number(layout.size),
      used,
      autoAssignSize: Number(layout.autoAssignSize()),
      autoAssignUsed: autoUsed,
      runs: layout.runs(),
      createdAt: meta.created_at,
      updatedAt: meta.updated_at,
    };
  }

  // ---------------------------------------------------------------- allocating

  /**
   * One value for (pool, owner). Without a value, a random free auto_assign value; with one, exactly
   * that value. `created` is false when the owner already held a value (the idempotent retry).
   */
  async allocate(pool: string, owner: string, value?: ValueInput): Promise<{ allocation: Allocation; created: boolean }> {
    const rid = randomUUID();
    /** Chunk items as last seen this call (undefined: never written, all free). */
    const chunks = new Map<number, ChunkItem | undefined>();
    /** Chunks found full although the definition we read says otherwise: skip them this call. */
    const skip = new Set<number>();
    let meta: MetaItem | undefined;
    let holding: OwnerItem | undefined;
    let stale = true;
    let ambiguous = false;
    const pacing = new Pacing(this.retryPolicy, this.random);

    while (pacing.more()) {
      if (stale) {
        [meta, holding] = await this.getMetaAndOwner(pool, owner);
        chunks.clear();
        skip.clear();
        stale = false;
      }
      if (!meta) throw poolNotFound(pool);
      const layout = new Layout(decodeSegments(meta.segments));

      let wanted: bigint | undefined;
      if (value) {
        wanted = parseFor(value, meta.type);
        if (!layout.locate(wanted)) throw valueNotInPool(pool, meta.type, wanted);
      }
      if (holding) {
        const held = toAllocation(pool, meta.type, holding);
        if (wanted !== undefined && held.value !== wanted) {
          throw new PoolError(
            'OWNER_CONFLICT',
            `owner '${owner}' already holds ${showValue(meta.type, held.value)} in pool '${pool}', not ${showValue(meta.type, wanted)}; release it first`,
            { details: { held: showValue(meta.type, held.value) } },
          );
        }
        return { allocation: held, created: holding.rid === rid };
      }

      const chunk = wanted !== undefined ? layout.locate(wanted)?.chunk : this.pickChunk(meta, layout, skip);
      if (chunk === undefined) throw await this.exhausted(pool, meta);
      if (!chunks.has(chunk)) chunks.set(chunk, await this.getChunk(meta.pk, chunk));
      const current = chunks.get(chunk);
      const info = layout.chunk(chunk);
      if (!info) throw new Error(`chunk ${chunk} outside pool ${pool}`);
      const bits = current?.bits ?? emptyBitmap(info.segment.chunkBits);
      const used = current?.used ?? 0;

      let bit: number;
      if (wanted !== undefined) {
        bit = Number(wanted - info.firstValue);
        if (getBit(bits, bit)) {
          throw new PoolError('VALUE_IN_USE', `${showValue(meta.type, wanted)} in pool '${pool}' is held by another owner`);
        }
      } else {
        bit = randomClearBit(bits, info.validBits, this.random);
        if (bit < 0) {
          // Our copy of the definition predates this chunk filling up: choose again.
          skip.add(chunk);
          continue;
        }
      }

      const v = info.firstValue + BigInt(bit);
      const ownerItem: OwnerItem = {
        pk: meta.pk,
        sk: ownerSk(owner),
        owner,
        value: showValue(meta.type, v),
        chunk,
        bit,
        at: this.now().toISOString(),
        rid,
        gpk: meta.pk,
        gsk: valueSortKey(meta.type, v),
      };
      const becomesFull = used + 1 === info.validBits;
      const outcome = await this.transact([
        this.chunkWrite(meta.pk, chunk, current, withBit(bits, bit, true), used + 1),
        { Put: { TableName: this.tableName, Item: ownerItem, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const } },
        ...(becomesFull ? [this.fullBitWrite(meta, chunk, true)] : []),
      ]);
      if (outcome.ok) return { allocation: toAllocation(pool, meta.type, ownerItem), created: true };
      ambiguous ||= outcome.ambiguous;
      if (outcome.failed) {
        // A failed condition hands back the item as it now stands: choose again at once with it.
        const [chunkNow, ownerNow, metaNow = null] = outcome.failed;
        if (chunkNow !== null) chunks.set(chunk, chunkNow as ChunkItem | undefined);
        if (ownerNow !== null) holding = ownerNow as unknown as OwnerItem;
        if (metaNow !== null) meta = metaNow ? decodeMeta(metaNow) : undefined;
        await pacing.conflict();
      } else {
        stale = true;
        await pacing.failure();
      }
    }

    if (ambiguous) {
      // A write may have landed: the owner record says whether it did, before we answer.
      const [metaNow, held] = await this.getMetaAndOwner(pool, owner);
      if (held && metaNow) return { allocation: toAllocation(pool, metaNow.type, held), created: held.rid === rid };
    }
    throw unavailable(`allocation in pool '${pool}'`);
  }

  /** Release by value; only its owner may. */
  async releaseValue(pool: string, value: ValueInput, owner: string): Promise<void> {
    await this.release(pool, owner, value);
  }

  /** Release whatever the owner holds. */
  async releaseOwner(pool: string, owner: string): Promise<void> {
    await this.release(pool, owner, undefined);
  }

  private async release(pool: string, owner: string, value: ValueInput | undefined): Promise<void> {
    let meta: MetaItem | undefined;
    let holding: OwnerItem | undefined;
    /** The holding's chunk as last seen, keyed by chunk number. */
    let chunk: { n: number; item: ChunkItem | undefined } | undefined;
    let ambiguous = false;
    const pacing = new Pacing(this.retryPolicy, this.random);
    while (pacing.more()) {
      if (!meta) [meta, holding] = await this.getMetaAndOwner(pool, owner);
      if (!meta) throw poolNotFound(pool);
      const layout = new Layout(decodeSegments(meta.segments));
      let wanted: bigint | undefined;
      if (value) {
        wanted = parseFor(value, meta.type);
        if (!layout.locate(wanted)) throw valueNotInPool(pool, meta.type, wanted);
      }
      if (!holding || (wanted !== undefined && valueFromSortKey(holding.gsk) !== wanted)) {
        if (ambiguous && !holding) return; // our earlier attempt released it
        if (wanted === undefined) throw new PoolError('NOT_ALLOCATED', `owner '${owner}' holds nothing in pool '${pool}'`);
        const pos = layout.locate(wanted);
        const bits = pos ? (await this.getChunk(meta.pk, pos.chunk))?.bits : undefined;
        if (pos && bits && getBit(bits, pos.bit)) {
          throw new PoolError('OWNER_MISMATCH', `${showValue(meta.type, wanted)} in pool '${pool}' is not held by '${owner}'; only its owner may release it`);
        }
        throw new PoolError('NOT_ALLOCATED', `${showValue(meta.type, wanted)} in pool '${pool}' is not allocated`);
      }
      const info = layout.chunk(holding.chunk);
      if (!info) throw new Error(`allocation of '${owner}' points outside pool ${pool}`);
      if (chunk?.n !== holding.chunk) chunk = { n: holding.chunk, item: await this.getChunk(meta.pk, holding.chunk) };
      const bits = chunk.item?.bits ?? emptyBitmap(info.segment.chunkBits);
      const used = chunk.item?.used ?? 0;
      const wasFull = used === info.validBits;
      const tx = [
        this.chunkWrite(meta.pk, holding.chunk, chunk.item, withBit(bits, holding.bit, false), used - 1),
        {
          Delete: {
            TableName: this.tableName,
            Key: { pk: holding.pk, sk: holding.sk },
            ConditionExpression: 'rid = :rid',
            ExpressionAttributeValues: { ':rid': holding.rid },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
          },
        },
        ...(wasFull ? [this.fullBitWrite(meta, holding.chunk, false)] : []),
      ];
      const outcome = await this.transact(tx);
      if (outcome.ok) return;
      ambiguous ||= outcome.ambiguous;
      if (outcome.failed) {
        const [chunkNow, ownerNow, metaNow = null] = outcome.failed;
        if (chunkNow !== null) chunk = { n: holding.chunk, item: chunkNow as ChunkItem | undefined };
        if (ownerNow !== null) holding = ownerNow as OwnerItem | undefined;
        if (metaNow !== null) meta = metaNow ? decodeMeta(metaNow) : undefined;
        await pacing.conflict();
      } else {
        meta = undefined;
        chunk = undefined;
        await pacing.failure();
      }
    }
    if (ambiguous) {
      const [, held] = await this.getMetaAndOwner(pool, owner);
      if (!held) return;
    }
    throw unavailable(`release in pool '${pool}'`);
  }

  // ---------------------------------------------------------------- lookups

  async findByOwner(pool: string, owner: string): Promise<Allocation> {
    const [meta, holding] = await this.getMetaAndOwner(pool, owner);
    if (!meta) throw poolNotFound(pool);
    if (!holding) throw new PoolError('NOT_ALLOCATED', `owner '${owner}' holds nothing in pool '${pool}'`);
    return toAllocation(pool, meta.type, holding);
  }

  /**
   * Who holds a value. The chunk says whether it is allocated (a consistent read); the by-value index
   * says who holds it, and may trail the table by a moment, so a miss there is asked again.
   */
  async findByValue(pool: string, value: ValueInput): Promise<Allocation> {
    const meta = await this.getMeta(pool);
    if (!meta) throw poolNotFound(pool);
    const wanted = parseFor(value, meta.type);
    const pos = new Layout(decodeSegments(meta.segments)).locate(wanted);
    if (!pos) throw valueNotInPool(pool, meta.type, wanted);
    for (let attempt = 0; attempt < 8; attempt++) {
      if (attempt > 0) await this.backoff(attempt);
      const chunk = await this.getChunk(meta.pk, pos.chunk);
      if (!chunk || !getBit(chunk.bits, pos.bit)) {
        throw new PoolError('NOT_ALLOCATED', `${showValue(meta.type, wanted)} in pool '${pool}' is not allocated`);
      }
      const out = await this.db.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: TABLE_KEYS.valueIndex,
          KeyConditionExpression: 'gpk = :pk AND gsk = :k',
          ExpressionAttributeValues: { ':pk': meta.pk, ':k': valueSortKey(meta.type, wanted) },
        }),
      );
      const item = out.Items?.[0] as OwnerItem | undefined;
      if (item) return toAllocation(pool, meta.type, item);
    }
    throw unavailable(`lookup of ${showValue(meta.type, wanted)} in pool '${pool}'`);
  }

  /** Allocations in value order, a page at a time; the cursor is the last value's sort key. */
  async allocations(pool: string, opts: { limit: number; after?: string }): Promise<{ allocations: Allocation[]; last?: string }> {
    const meta = await this.getMeta(pool);
    if (!meta) throw poolNotFound(pool);
    const out = await this.db.send(
      new QueryCommand({
        TableName: this.tableName,
        IndexName: TABLE_KEYS.valueIndex,
        KeyConditionExpression: opts.after ? 'gpk = :pk AND gsk > :after' : 'gpk = :pk',
        ExpressionAttributeValues: { ':pk': meta.pk, ...(opts.after ? { ':after': opts.after } : {}) },
        Limit: opts.limit + 1,
      }),
    );
    const items = (out.Items ?? []) as OwnerItem[];
    const page = items.slice(0, opts.limit);
    return {
      allocations: page.map((i) => toAllocation(pool, meta.type, i)),
      last: items.length > opts.limit ? page[page.length - 1].gsk : undefined,
    };
  }

  // ---------------------------------------------------------------- check

  /**
   * Recounts every pool from its stored state: each set bit must have exactly one allocation record
   * pointing at it, each record a set bit, each chunk's count its bits, and the definition's "full"
   * bits the chunks that are full.
   */
  async check(): Promise<CheckReport> {
    const state = await this.registrationState();
    const report: CheckReport = { ok: true, pools: [] };
    for (const { name } of state.pools) {
      const meta = state.metas.get(name);
      if (!meta) continue;
      const layout = new Layout(decodeSegments(meta.segments));
      const problems: string[] = [];
      const chunkItems = new Map<number, ChunkItem>();
      for await (const item of this.queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
        ExpressionAttributeValues: { ':pk': meta.pk, ':c': CHUNK_PREFIX },
        ConsistentRead: true,
      })) {
        chunkItems.set(chunkFromSk(item.sk as string), { ...(item as unknown as ChunkItem), bits: bytes(item.bits) });
      }
      const claimed = new Map<string, string>();
      let allocations = 0;
      for await (const item of this.queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :o)',
        ExpressionAttributeValues: { ':pk': meta.pk, ':o': OWNER_PREFIX },
        ConsistentRead: true,
      })) {
        const o = item as unknown as OwnerItem;
        allocations++;
        const v = valueFromSortKey(o.gsk);
        const pos = layout.locate(v);
        if (!pos || pos.chunk !== o.chunk || pos.bit !== o.bit) {
          problems.push(`owner '${o.owner}' holds ${o.value}, which is not where the record says (chunk ${o.chunk} bit ${o.bit})`);
          continue;
        }
        const key = `${pos.chunk}:${pos.bit}`;
        const other = claimed.get(key);
        if (other !== undefined) problems.push(`${o.value} is held by both '${other}' and '${o.owner}'`);
        claimed.set(key, o.owner);
        if (!getBit(chunkItems.get(pos.chunk)?.bits ?? new Uint8Array(0), pos.bit)) {
          problems.push(`owner '${o.owner}' holds ${o.value} but its bit is clear (the value could be handed out again)`);
        }
      }
      let used = 0;
      for (let c = 0; c < layout.chunkCount; c++) {
        const info = layout.chunk(c);
        const item = chunkItems.get(c);
        if (!info) continue;
        const bits = item?.bits ?? new Uint8Array(0);
        const set = popcount(bits, info.validBits);
        used += item?.used ?? 0;
        if (popcount(bits) !== set) problems.push(`chunk ${c} has bits set past its last value`);
        if (item && item.used !== set) problems.push(`chunk ${c} counts ${item.used} used but has ${set} bits set`);
        for (let b = 0; b < info.validBits; b++) {
          if (getBit(bits, b) && !claimed.has(`${c}:${b}`)) {
            problems.push(`${showValue(meta.type, info.firstValue + BigInt(b))} is marked allocated but has no allocation record (leaked)`);
          }
        }
        if (getBit(meta.full, c) !== (set === info.validBits)) {
          problems.push(`chunk ${c} is ${set === info.validBits ? '' : 'not '}full but the pool's full-chunk bitmap says otherwise`);
        }
      }
      for (const c of chunkItems.keys()) if (c >= layout.chunkCount) problems.push(`chunk item ${c} lies outside the pool`);
      if (used !== allocations) problems.push(`chunks count ${used} used but there are ${allocations} allocation records`);
      if (problems.length > 0) report.ok = false;
      report.pools.push({ name, size: Number(layout.size), used, allocations, problems });
    }
    return report;
  }

  // ---------------------------------------------------------------- internals

  private pickChunk(meta: MetaItem, layout: Layout, skip: ReadonlySet<number>): number | undefined {
    // Count candidate chunks first, then pick the k-th: uniform over non-full auto_assign chunks,
    // without building a list as long as the pool.
    let candidates = 0;
    for (const s of layout.segments) {
      if (!s.autoAssign) continue;
      const n = Math.ceil(Number(s.end - s.start) / s.chunkBits);
      for (let c = s.firstChunk; c < s.firstChunk + n; c++) if (!getBit(meta.full, c) && !skip.has(c)) candidates++;
    }
    if (candidates === 0) return undefined;
    let k = Math.floor(this.random() * candidates);
    for (const s of layout.segments) {
      if (!s.autoAssign) continue;
      const n = Math.ceil(Number(s.end - s.start) / s.chunkBits);
      for (let c = s.firstChunk; c < s.firstChunk + n; c++) {
        if (getBit(meta.full, c) || skip.has(c)) continue;
        if (k === 0) return c;
        k--;
      }
    }
    return undefined;
  }

  private async exhausted(pool: string, meta: MetaItem): Promise<PoolError> {
    this.events.exhausted?.(pool);
    const stats = await this.statsOf(meta);
    return new PoolError(
      'RESOURCE_EXHAUSTED',
      `pool '${pool}' has no free auto-assignable value: ${stats.autoAssignUsed} of ${stats.autoAssignSize} in use (${stats.used} of ${stats.size} values in the pool); grow the pool or release values`,
      { details: { size: stats.size, used: stats.used, auto_assign_size: stats.autoAssignSize, auto_assign_free: stats.autoAssignSize - stats.autoAssignUsed } },
    );
  }

  private chunkWrite(pk: string, chunk: number, current: ChunkItem | undefined, bits: Uint8Array, used: number) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk, sk: chunkSk(chunk) },
        UpdateExpression: 'SET bits = :b, used = :u, ver = :next',
        ConditionExpression: current ? 'ver = :v' : 'attribute_not_exists(pk)',
        ExpressionAttributeValues: { ':b': bits, ':u': used, ':next': (current?.ver ?? 0) + 1, ...(current ? { ':v': current.ver } : {}) },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  private fullBitWrite(meta: MetaItem, chunk: number, full: boolean) {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk: meta.pk, sk: META_SK },
        UpdateExpression: 'SET #full = :f, ver = ver + :one',
        ConditionExpression: 'ver = :v',
        ExpressionAttributeNames: { '#full': 'full' },
        ExpressionAttributeValues: { ':f': withBit(meta.full, chunk, full), ':one': 1, ':v': meta.ver },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const,
      },
    };
  }

  /**
   * Runs a transaction. `failed` holds, per transaction item, the item as it now stands when its
   * condition failed (undefined when it no longer exists) or null when its condition held.
   */
  private async transact(
    items: NonNullable<TransactWriteCommandInput['TransactItems']>,
  ): Promise<{ ok: true } | { ok: false; ambiguous: boolean; failed?: (Record<string, unknown> | undefined | null)[] }> {
    try {
      await this.db.send(new TransactWriteCommand({ TransactItems: items }));
      return { ok: true };
    } catch (e) {
      if (e instanceof TransactionCanceledException) {
        const reasons = e.CancellationReasons ?? [];
        if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
          this.events.retry?.('contention');
          
          return { ok: false, ambiguous: false, failed: reasons.map(reasonItem) };
        }
        this.events.retry?.(reasons.some((r) => r.Code === 'ThrottlingError' || r.Code === 'ProvisionedThroughputExceeded') ? 'throttled' : 'contention');
        return { ok: false, ambiguous: false };
      }
      const kind = classify(e);
      if (kind === 'fatal') throw e;
      this.events.retry?.(kind);
      return { ok: false, ambiguous: kind === 'ambiguous' };
    }
  }

  private async backoff(attempt: number): Promise<void> {
    await sleep(jitter(this.retryPolicy, attempt, this.random));
  }

  private async getMetaAndOwner(pool: string, owner: string): Promise<[MetaItem | undefined, OwnerItem | undefined]> {
    const pk = poolPk(pool);
    const out = await this.db.send(
      new BatchGetCommand({
        RequestItems: { [this.tableName]: { Keys: [{ pk, sk: META_SK }, { pk, sk: ownerSk(owner) }], ConsistentRead: true } },
      }),
    );
    if (out.UnprocessedKeys && Object.keys(out.UnprocessedKeys).length > 0) {
      // Throttled part-way: read both items on their own instead.
      return [await this.getMeta(pool), (await this.getItem(pk, ownerSk(owner))) as OwnerItem | undefined];
    }
    const items = out.Responses?.[this.tableName] ?? [];
    const meta = items.find((i) => i.sk === META_SK);
    const holding = items.find((i) => i.sk !== META_SK);
    return [meta ? decodeMeta(meta) : undefined, holding as OwnerItem | undefined];
  }

  private async getMeta(pool: string): Promise<MetaItem | undefined> {
    const item = await this.getItem(poolPk(pool), META_SK);
    return item ? decodeMeta(item) : undefined;
  }

  private async getMetas(names: readonly string[]): Promise<Map<string, MetaItem>> {
    const metas = new Map<string, MetaItem>();
    for (let i = 0; i < names.length; i += 100) {
      let keys: Record<string, unknown>[] = names.slice(i, i + 100).map((n) => ({ pk: poolPk(n), sk: META_SK }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 0) await this.backoff(attempt);
        const out = await this.db.send(new BatchGetCommand({ RequestItems: { [this.tableName]: { Keys: keys, ConsistentRead: true } } }));
        for (const item of out.Responses?.[this.tableName] ?? []) {
          const meta = decodeMeta(item);
          metas.set(meta.name, meta);
        }
        keys = (out.UnprocessedKeys?.[this.tableName]?.Keys ?? []) as Record<string, unknown>[];
      }
    }
    return metas;
  }

  private async getChunk(pk: string, chunk: number): Promise<ChunkItem | undefined> {
    const item = await this.getItem(pk, chunkSk(chunk));
    return item ? ({ ...item, bits: bytes(item.bits) } as ChunkItem) : undefined;
  }

  private async getItem(pk: string, sk: string): Promise<Record<string, unknown> | undefined> {
    return (await this.db.send(new GetCommand({ TableName: this.tableName, Key: { pk, sk }, ConsistentRead: true }))).Item;
  }

  private async *queryAll(input: Omit<QueryCommandInput, 'TableName'>): AsyncGenerator<Record<string, unknown>> {
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.db.send(new QueryCommand({ ...input, TableName: this.tableName, ExclusiveStartKey: start }));
      for (const item of out.Items ?? []) yield item;
      start = out.LastEvaluatedKey;
    } while (start);
  }
}

/**
 * Retry pacing. A failed condition comes back with the item as it now stands, so the next choice is
 * already informed and is tried at once; only repeated conflicts, throttling and errors back off,
 * with full jitter so that competing callers spread out instead of colliding again in step.
 */
class Pacing {
  private attempts = 0;
  private conflicts = 0;
  constructor(
    private readonly policy: RetryPolicy,
    private readonly random: () => number,
  ) {}

  more(): boolean {
    return this.attempts++ < this.policy.maxAttempts;
  }

  async conflict(): Promise<void> {
    this.conflicts++;
    if (this.conflicts > 2) await sleep(jitter(this.policy, this.conflicts - 2, this.random));
  }

  async failure(): Promise<void> {
    this.conflicts++;
    await sleep(jitter(this.policy, this.conflicts, this.random));
  }
}

function jitter(policy: RetryPolicy, n: number, random: () => number): number {
  return random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(n, 16));
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function decodeMeta(item: Record<string, unknown>): MetaItem {
  return { ...(item as unknown as MetaItem), full: bytes(item.full) };
}

function reasonItem(r: CancellationReason): Record<string, unknown> | undefined | null {
  if (r.Code !== 'ConditionalCheckFailed') return null;
  if (!r.Item) return undefined;
  const item = unmarshall(r.Item) as Record<string, unknown>;
  for (const k of ['bits', 'full']) if (k in item) item[k] = bytes(item[k]);
  return item;
}

/** Throttling and conflicts are safe to retry; a lost connection may have written: ambiguous. */
function classify(e: unknown): 'throttled' | 'contention' | 'ambiguous' | 'fatal' {
  const name = (e as { name?: string }).name ?? '';
  const fault = (e as { $fault?: string }).$fault;
  if (['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'].includes(name)) return 'throttled';
  if (['TransactionConflictException', 'TransactionInProgressException'].includes(name)) return 'contention';
  if (fault === 'server' || ['TimeoutError', 'AbortError', 'RequestTimeout'].includes(name) || /ECONN|EPIPE|socket|network/i.test(String((e as Error).message))) {
    return 'ambiguous';
  }
  return 'fatal';
}

function toAllocation(pool: string, type: PoolType, item: OwnerItem): Allocation {
  return { pool, type, value: valueFromSortKey(item.gsk), owner: item.owner, allocatedAt: item.at };
}

function parseFor(value: ValueInput, type: PoolType): bigint {
  const parsed = value(type);
  if (!parsed.ok) throw new PoolError('INVALID_ARGUMENT', parsed.message);
  return parsed.value;
}

function poolNotFound(pool: string): PoolError {
  return new PoolError('POOL_NOT_FOUND', `no pool named '${pool}'; GET /v1/pools lists them`);
}

function valueNotInPool(pool: string, type: PoolType, v: bigint): PoolError {
  return new PoolError('VALUE_NOT_IN_POOL', `${showValue(type, v)} is not a value of pool '${pool}'; GET /v1/pools/${pool} shows its ranges`);
}

function unavailable(what: string): PoolError {
  return new PoolError('UNAVAILABLE', `${what} gave up after repeated contention or throttling; nothing was changed, retry shortly`, { retryAfterSeconds: 1 });
}

function syncItem(sync: SyncRecord): Record<string, unknown> {
  const trimmed: SyncRecord =
    sync.errors && sync.errors.length > MAX_SYNC_ERRORS
      ? { ...sync, errors: [...sync.errors.slice(0, MAX_SYNC_ERRORS), { path: '(more)', message: `${sync.errors.length - MAX_SYNC_ERRORS} more errors not recorded` }] }
      : sync;
  return { pk: SYNC_PK, sk: `${sync.at}#${sync.id}`, record: JSON.stringify(trimmed) };
}
