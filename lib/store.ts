/**
 * The DynamoDB store: pools, chunked free bitmaps and allocation records in one table
 * (docs/DATA-MODEL.md). Concurrency is settled by DynamoDB conditions alone: every change is one
 * transaction whose conditions fail if anything it read has moved, and a failed condition is retried
 * with jittered backoff. Nothing is shared between calls in memory, so any number of Lambda instances
 * can run this at once.
 */
import { randomUUID } from 'node:crypto';
import {
  type AttributeValue,
  BatchGetItemCommand,
  type CancellationReason,
  CreateTableCommand,
  type Delete,
  DescribeTableCommand,
  DynamoDBClient,
  type DynamoDBClientConfig,
  GetItemCommand,
  type Put,
  PutItemCommand,
  QueryCommand,
  type QueryCommandInput,
  ResourceNotFoundException,
  TransactionCanceledException,
  type TransactWriteItem,
  TransactWriteItemsCommand,
  type Update,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';
import { emptyBitmap, getBit, popcount, randomClearBit, withBit } from './bitmap.js';
import type { ConfigIssue } from './config.js';
import { PoolError } from './errors.js';
import {
  CHUNK_PREFIX,
  type ChunkItem,
  chunkFromSk,
  chunkSk,
  decodeChunk,
  decodeMeta,
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
import { appendSegments, Layout, type Position, type Segment, segmentChunks, TARGET_CHUNKS_PER_SEGMENT } from './layout.js';
import type { Plan, RegisteredPool } from './plan.js';
import type { ConfigResultJson, PoolCounts } from './shapes.js';
import { formatValue, type Parsed, type PoolType, showValue, valueFromSortKey, valueSortKey } from './values.js';

export interface RetryPolicy {
  /** Attempts before answering UNAVAILABLE. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 30, baseDelayMs: 4, maxDelayMs: 200 };

/**
 * A DynamoDB client as the store wants it: the SDK resolves its middleware stack once per command
 * type (`cacheMiddleware`) instead of on every call, which takes about a quarter off the client's CPU
 * per read (`npm run bench` shows the CPU per allocation). Middleware added to it, as the tests add
 * faults, must be added before its first call.
 */
export function dynamoClient(config: DynamoDBClientConfig = {}): DynamoDBClient {
  return new DynamoDBClient({ cacheMiddleware: true, ...config });
}

/** What the store reports as it works; the Lambda adapters turn these into metrics. */
export interface StoreEvents {
  retry?(reason: 'contention' | 'throttled' | 'ambiguous'): void;
  exhausted?(pool: string): void;
}

export interface StoreOptions {
  /** Best made with `dynamoClient`, which the store is fastest with. */
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

/** A pool's definition and exact counts, as lib/shapes.ts turns them into the contract's Pool. */
export type PoolStats = PoolCounts;

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

/** How many pools `pools()` counts in parallel. */
const POOLS_COUNTED_AT_ONCE = 8;

/** A sync record keeps at most this many entries of each list, so it stays far inside DynamoDB's 400 KB. */
const MAX_SYNC_LIST = 100;

export class PoolStore {
  readonly tableName: string;
  private readonly db: Table;
  private readonly raw: DynamoDBClient;
  private readonly retryPolicy: RetryPolicy;
  private readonly events: StoreEvents;
  private readonly now: () => Date;
  private readonly random: () => number;
  private readonly targetChunks: number;

  constructor(options: StoreOptions) {
    this.tableName = options.tableName;
    this.raw = options.client;
    this.db = new Table(options.client, options.tableName);
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
    await this.db.get(REGISTRY_KEY, { consistent: false });
  }

  // ---------------------------------------------------------------- registration

  async registrationState(): Promise<RegistrationState> {
    const registry = (await this.db.get(REGISTRY_KEY)) as RegistryItem | undefined;
    const names = Object.keys(registry?.pools ?? {});
    const metas = await this.getMetas(names);
    const pools = names.flatMap((name) => {
      const meta = metas.get(name);
      if (!meta) return [];
      const layout = layoutOf(meta);
      return [{ name, type: meta.type, runs: layout.runs(), prefix: meta.prefix, segments: layout.segments.length }];
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
    const items: Write[] = [];
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
        // No `full` attribute: DynamoDB keeps no empty set, and a new pool has no full chunk.
        const item: Omit<MetaItem, 'full'> = {
          pk: poolPk(c.name),
          sk: META_SK,
          name: c.name,
          type: c.type,
          segments: encodeSegments(appendSegments([], c.added, this.targetChunks)),
          prefix: c.prefix,
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
      await this.db.transact(items);
    } catch (e) {
      if (e instanceof TransactionCanceledException) throw new RegistryChanged();
      throw e;
    }
  }

  async recordSync(sync: SyncRecord): Promise<void> {
    await this.db.put(syncItem(sync));
  }

  async syncs(limit = 100): Promise<SyncRecord[]> {
    const out = await this.db.query({
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': SYNC_PK },
      ScanIndexForward: false,
      Limit: limit,
    });
    return out.items.map((i) => JSON.parse(i.record as string) as SyncRecord);
  }

  // ---------------------------------------------------------------- reading pools

  async pool(name: string): Promise<PoolStats> {
    const meta = await this.getMeta(name);
    if (!meta) throw poolNotFound(name);
    return this.statsOf(meta);
  }

  async pools(): Promise<PoolStats[]> {
    const registry = (await this.db.get(REGISTRY_KEY)) as RegistryItem | undefined;
    const names = Object.keys(registry?.pools ?? {}).sort();
    const metas = await this.getMetas(names);
    const found = names.flatMap((name) => metas.get(name) ?? []);
    // A few pools at a time: up to 1,000 pools must not mean 1,000 queries one after the other.
    const out: PoolStats[] = new Array(found.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < found.length; i = next++) out[i] = await this.statsOf(found[i]);
    };
    await Promise.all(Array.from({ length: Math.min(POOLS_COUNTED_AT_ONCE, found.length) }, worker));
    return out;
  }

  /** Exact counts, summed from the chunk items: the chunks are the truth, there is no separate counter. */
  private async statsOf(meta: MetaItem): Promise<PoolStats> {
    const layout = layoutOf(meta);
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
   *
   * The happy path is two reads (the pool, one chunk) and one transaction (the chunk's bitmap on its
   * version, the owner record on its absence). The owner is not read first: the owner record's
   * condition fails, and hands the holding back, when the owner already holds a value.
   */
  async allocate(pool: string, owner: string, value?: ValueInput): Promise<{ allocation: Allocation; created: boolean }> {
    const rid = randomUUID();
    let meta = await this.requireMeta(pool);
    const wanted = value ? wantedValue(pool, meta, value) : undefined;
    /** A chunk as a failed condition just handed it back: fresher than reading it again. */
    let fresh: { chunk: number; item: ChunkItem | undefined } | undefined;
    const pacing = new Pacing(this.retryPolicy, this.random);

    while (pacing.more()) {
      const layout = layoutOf(meta);
      const chunk = wanted !== undefined ? layout.locate(wanted)?.chunk : this.pickChunk(layout, meta.full);
      if (chunk === undefined) return this.noFreeValue(pool, owner, rid, meta);
      const current = fresh?.chunk === chunk ? fresh.item : await this.getChunk(meta.pk, chunk);
      fresh = undefined;
      const info = layout.chunk(chunk);
      if (!info) throw new Error(`chunk ${chunk} lies outside pool '${pool}'`);
      const bits = current?.bits ?? emptyBitmap(info.segment.chunkBits);
      const used = current?.used ?? 0;

      let bit: number;
      if (wanted !== undefined) {
        bit = Number(wanted - info.firstValue);
        if (getBit(bits, bit)) return this.valueTaken(pool, owner, rid, meta, wanted);
      } else {
        bit = randomClearBit(bits, info.validBits, this.random);
        if (bit < 0) {
          // The pool item we hold predates this chunk filling up; its full set is exact when read.
          meta = await this.requireMeta(pool);
          pacing.reread();
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
      const outcome = await this.transact([
        this.chunkWrite(meta.pk, chunk, current, withBit(bits, bit, true), used + 1),
        { Put: { TableName: this.tableName, Item: ownerItem, ConditionExpression: 'attribute_not_exists(pk)', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } },
        ...(used + 1 === info.validBits ? [this.fullSetWrite(meta.pk, chunk, 'ADD')] : []),
      ]);
      if (outcome.kind === 'ok') return { allocation: toAllocation(pool, meta.type, ownerItem), created: true };
      if (outcome.kind === 'conflict') {
        const [chunkNow, holdingNow] = outcome.failed;
        if (holdingNow) return holdingAnswer(pool, owner, rid, meta.type, decodeOwner(holdingNow), wanted);
        if (chunkNow !== null) fresh = { chunk, item: chunkNow ? decodeChunk(chunkNow) : undefined };
        await pacing.conflict();
      } else {
        await pacing.failure();
      }
    }

    // Every attempt failed; one may still have landed where the answer was lost: the owner record says.
    const held = await this.getOwner(meta.pk, owner);
    if (held) return holdingAnswer(pool, owner, rid, meta.type, held, wanted);
    throw unavailable(`allocation in pool '${pool}'`);
  }

  /** No auto_assign chunk has a free value: exhausted, unless the owner already holds one. */
  private async noFreeValue(pool: string, owner: string, rid: string, meta: MetaItem): Promise<{ allocation: Allocation; created: boolean }> {
    const held = await this.getOwner(meta.pk, owner);
    if (held) return holdingAnswer(pool, owner, rid, meta.type, held, undefined);
    this.events.exhausted?.(pool);
    const layout = layoutOf(meta);
    const autoSize = Number(layout.autoAssignSize());
    const used = autoSize + (await this.usedIn(meta.pk, layout.segments.filter((s) => !s.autoAssign)));
    const size = Number(layout.size);
    throw new PoolError(
      'RESOURCE_EXHAUSTED',
      `pool '${pool}' has no free auto-assignable value: ${autoSize} of ${autoSize} in use (${used} of ${size} values in the pool); grow the pool or release values`,
      { details: { size, used, auto_assign_size: autoSize, auto_assign_free: 0 } },
    );
  }

  /** The explicit value is taken: by this owner (the idempotent retry), or by someone else. */
  private async valueTaken(pool: string, owner: string, rid: string, meta: MetaItem, wanted: bigint): Promise<{ allocation: Allocation; created: boolean }> {
    const held = await this.getOwner(meta.pk, owner);
    if (held) return holdingAnswer(pool, owner, rid, meta.type, held, wanted);
    throw new PoolError('VALUE_IN_USE', `${showValue(meta.type, wanted)} in pool '${pool}' is held by another owner`);
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
    const [meta, found] = await this.getMetaAndOwner(pool, owner);
    if (!meta) throw poolNotFound(pool);
    const wanted = value ? wantedValue(pool, meta, value) : undefined;
    const layout = layoutOf(meta);
    let holding = found;
    let fresh: ChunkItem | undefined | null = null;
    /** An earlier attempt may have landed without our hearing of it. */
    let unsure = false;
    const pacing = new Pacing(this.retryPolicy, this.random);

    while (pacing.more()) {
      if (!holding || (wanted !== undefined && valueFromSortKey(holding.gsk) !== wanted)) {
        if (unsure && !holding) return;
        throw await this.notReleasable(pool, owner, meta, wanted);
      }
      const info = layout.chunk(holding.chunk);
      if (!info) throw new Error(`the allocation of '${owner}' points outside pool '${pool}'`);
      const current = fresh !== null ? fresh : await this.getChunk(meta.pk, holding.chunk);
      fresh = null;
      const bits = current?.bits ?? emptyBitmap(info.segment.chunkBits);
      const used = current?.used ?? 0;
      const outcome = await this.transact([
        this.chunkWrite(meta.pk, holding.chunk, current, withBit(bits, holding.bit, false), used - 1),
        {
          Delete: {
            TableName: this.tableName,
            Key: { pk: holding.pk, sk: holding.sk },
            ConditionExpression: 'rid = :rid',
            ExpressionAttributeValues: { ':rid': holding.rid },
            ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
          },
        },
        ...(used === info.validBits ? [this.fullSetWrite(meta.pk, holding.chunk, 'DELETE')] : []),
      ]);
      if (outcome.kind === 'ok') return;
      if (outcome.kind === 'conflict') {
        unsure ||= outcome.maybeLanded;
        const [chunkNow, holdingNow] = outcome.failed;
        if (chunkNow !== null) fresh = chunkNow ? decodeChunk(chunkNow) : undefined;
        if (holdingNow !== null) holding = holdingNow ? decodeOwner(holdingNow) : undefined;
        await pacing.conflict();
      } else {
        unsure ||= outcome.kind === 'unknown';
        holding = await this.getOwner(meta.pk, owner);
        await pacing.failure();
      }
    }
    if (unsure && !(await this.getOwner(meta.pk, owner))) return;
    throw unavailable(`release in pool '${pool}'`);
  }

  /** Why (pool, owner, value) cannot be released: nothing held, or held by someone else. */
  private async notReleasable(pool: string, owner: string, meta: MetaItem, wanted: bigint | undefined): Promise<PoolError> {
    if (wanted === undefined) return new PoolError('NOT_ALLOCATED', `owner '${owner}' holds nothing in pool '${pool}'`);
    const pos = layoutOf(meta).locate(wanted);
    const bits = pos ? (await this.getChunk(meta.pk, pos.chunk))?.bits : undefined;
    if (pos && bits && getBit(bits, pos.bit)) {
      return new PoolError('OWNER_MISMATCH', `${showValue(meta.type, wanted)} in pool '${pool}' is not held by '${owner}'; only its owner may release it`);
    }
    return new PoolError('NOT_ALLOCATED', `${showValue(meta.type, wanted)} in pool '${pool}' is not allocated`);
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
    const meta = await this.requireMeta(pool);
    const wanted = wantedValue(pool, meta, value);
    const pos = layoutOf(meta).locate(wanted) as Position;
    for (let attempt = 0; attempt < 8; attempt++) {
      if (attempt > 0) await this.backoff(attempt);
      const chunk = await this.getChunk(meta.pk, pos.chunk);
      if (!chunk || !getBit(chunk.bits, pos.bit)) {
        throw new PoolError('NOT_ALLOCATED', `${showValue(meta.type, wanted)} in pool '${pool}' is not allocated`);
      }
      const out = await this.db.query({
        IndexName: TABLE_KEYS.valueIndex,
        KeyConditionExpression: 'gpk = :pk AND gsk = :k',
        ExpressionAttributeValues: { ':pk': meta.pk, ':k': valueSortKey(meta.type, wanted) },
      });
      if (out.items[0]) return toAllocation(pool, meta.type, decodeOwner(out.items[0]));
    }
    throw unavailable(`lookup of ${showValue(meta.type, wanted)} in pool '${pool}'`);
  }

  /** Allocations in value order, a page at a time; the cursor is the last value's sort key. */
  async allocations(pool: string, opts: { limit: number; after?: string }): Promise<{ allocations: Allocation[]; last?: string }> {
    const meta = await this.getMeta(pool);
    if (!meta) throw poolNotFound(pool);
    const out = await this.db.query({
      IndexName: TABLE_KEYS.valueIndex,
      KeyConditionExpression: opts.after ? 'gpk = :pk AND gsk > :after' : 'gpk = :pk',
      ExpressionAttributeValues: { ':pk': meta.pk, ...(opts.after ? { ':after': opts.after } : {}) },
      Limit: opts.limit + 1,
    });
    const items = out.items.map(decodeOwner);
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
    for (const name of state.pools.map((p) => p.name).sort()) {
      const meta = state.metas.get(name);
      if (!meta) continue;
      const layout = layoutOf(meta);
      const problems: string[] = [];
      const chunkItems = new Map<number, ChunkItem>();
      for await (const item of this.queryAll({
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :c)',
        ExpressionAttributeValues: { ':pk': meta.pk, ':c': CHUNK_PREFIX },
        ConsistentRead: true,
      })) {
        chunkItems.set(chunkFromSk(item.sk as string), decodeChunk(item));
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
        if (meta.full.has(c) !== (set === info.validBits)) {
          problems.push(`chunk ${c} is ${set === info.validBits ? '' : 'not '}full but the pool's set of full chunks says otherwise`);
        }
      }
      for (const c of chunkItems.keys()) if (c >= layout.chunkCount) problems.push(`chunk item ${c} lies outside the pool`);
      for (const c of meta.full) if (c >= layout.chunkCount) problems.push(`the pool's set of full chunks names chunk ${c}, outside the pool`);
      if (used !== allocations) problems.push(`chunks count ${used} used but there are ${allocations} allocation records`);
      if (problems.length > 0) report.ok = false;
      report.pools.push({ name, size: Number(layout.size), used, allocations, problems });
    }
    return report;
  }

  // ---------------------------------------------------------------- internals

  /**
   * A uniformly random auto_assign chunk that is not full, or undefined when every one is. Guessing
   * is cheap while most chunks have room; past that, count through the chunks that do.
   */
  private pickChunk(layout: Layout, full: ReadonlySet<number>): number | undefined {
    const total = layout.autoChunkCount();
    for (let guess = 0; guess < 8; guess++) {
      const c = layout.autoChunkAt(Math.floor(this.random() * total));
      if (c === undefined) return undefined;
      if (!full.has(c)) return c;
    }
    let autoFull = 0;
    for (const c of full) if (layout.chunk(c)?.segment.autoAssign) autoFull++;
    const open = total - autoFull;
    if (open <= 0) return undefined;
    let k = Math.floor(this.random() * open);
    for (let i = 0; i < total; i++) {
      const c = layout.autoChunkAt(i) as number;
      if (full.has(c)) continue;
      if (k-- === 0) return c;
    }
    return undefined;
  }

  /** Values in use in the chunks of these segments, from the chunks' counts. */
  private async usedIn(pk: string, segments: readonly Segment[]): Promise<number> {
    let used = 0;
    for (const s of segments) {
      for await (const item of this.queryAll({
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :first AND :last',
        ExpressionAttributeValues: { ':pk': pk, ':first': chunkSk(s.firstChunk), ':last': chunkSk(s.firstChunk + segmentChunks(s) - 1) },
        ProjectionExpression: 'used',
        ConsistentRead: true,
      })) {
        used += Number(item.used ?? 0);
      }
    }
    return used;
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

  /**
   * A chunk joins or leaves the pool's full set. ADD and DELETE on a set commute, so this needs no
   * version: the chunk's own condition, in the same transaction, is what makes it exact.
   */
  private fullSetWrite(pk: string, chunk: number, op: 'ADD' | 'DELETE') {
    return {
      Update: {
        TableName: this.tableName,
        Key: { pk, sk: META_SK },
        UpdateExpression: `${op} #full :c`,
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#full': 'full' },
        ExpressionAttributeValues: { ':c': new Set([chunk]) },
      },
    };
  }

  /**
   * Runs a transaction and says how it ended. When the answer is lost (a timeout, a dropped
   * connection, a server error) the very same transaction is sent again with the same client token:
   * DynamoDB answers success without writing twice if the first one landed, so `ok` and `conflict`
   * are always definite. `unknown` is left only when every replay was lost too.
   */
  private async transact(items: Write[]): Promise<TxOutcome> {
    const token = randomUUID();
    /** A send of this transaction may have landed: from then on only a definite answer will do. */
    let uncertain = false;
    for (let replay = 0; ; replay++) {
      try {
        await this.db.transact(items, token);
        return { kind: 'ok' };
      } catch (e) {
        let rejected: 'throttled' | 'contention' | undefined;
        if (e instanceof TransactionCanceledException) {
          const reasons = e.CancellationReasons ?? [];
          if (reasons.some((r) => r.Code === 'ConditionalCheckFailed')) {
            this.events.retry?.('contention');
            return { kind: 'conflict', failed: reasons.map(reasonItem), maybeLanded: uncertain };
          }
          // Another transaction held one of the items (real DynamoDB only), or throttling: this send wrote nothing.
          rejected = reasons.some((r) => r.Code === 'ThrottlingError' || r.Code === 'ProvisionedThroughputExceeded') ? 'throttled' : 'contention';
        } else {
          const kind = classify(e);
          if (kind === 'fatal') throw e;
          if (kind === 'ambiguous') uncertain = true;
          else rejected = kind;
        }
        this.events.retry?.(rejected ?? 'ambiguous');
        if (rejected && !uncertain) return { kind: 'busy' };
        if (replay >= MAX_REPLAYS) return { kind: 'unknown' };
        await this.backoff(replay + 1);
      }
    }
  }

  private async backoff(attempt: number): Promise<void> {
    await sleep(jitter(this.retryPolicy, attempt, this.random));
  }

  private async requireMeta(pool: string): Promise<MetaItem> {
    const meta = await this.getMeta(pool);
    if (!meta) throw poolNotFound(pool);
    return meta;
  }

  private async getMetaAndOwner(pool: string, owner: string): Promise<[MetaItem | undefined, OwnerItem | undefined]> {
    const pk = poolPk(pool);
    const out = await this.db.batchGet([
      { pk, sk: META_SK },
      { pk, sk: ownerSk(owner) },
    ]);
    if (out.unprocessed.length > 0) {
      // Throttled part-way: read both items on their own instead.
      return [await this.getMeta(pool), await this.getOwner(pk, owner)];
    }
    const items = out.items;
    const meta = items.find((i) => i.sk === META_SK);
    const holding = items.find((i) => i.sk !== META_SK);
    return [meta ? decodeMeta(meta) : undefined, holding ? decodeOwner(holding) : undefined];
  }

  private async getMeta(pool: string): Promise<MetaItem | undefined> {
    const item = await this.db.get({ pk: poolPk(pool), sk: META_SK });
    return item ? decodeMeta(item) : undefined;
  }

  private async getOwner(pk: string, owner: string): Promise<OwnerItem | undefined> {
    const item = await this.db.get({ pk, sk: ownerSk(owner) });
    return item ? decodeOwner(item) : undefined;
  }

  private async getMetas(names: readonly string[]): Promise<Map<string, MetaItem>> {
    const metas = new Map<string, MetaItem>();
    for (let i = 0; i < names.length; i += 100) {
      let keys: ItemKey[] = names.slice(i, i + 100).map((n) => ({ pk: poolPk(n), sk: META_SK }));
      for (let attempt = 0; keys.length > 0; attempt++) {
        if (attempt > 0) await this.backoff(attempt);
        const out = await this.db.batchGet(keys);
        for (const item of out.items) {
          const meta = decodeMeta(item);
          metas.set(meta.name, meta);
        }
        keys = out.unprocessed;
      }
    }
    return metas;
  }

  private async getChunk(pk: string, chunk: number): Promise<ChunkItem | undefined> {
    const item = await this.db.get({ pk, sk: chunkSk(chunk) });
    return item ? decodeChunk(item) : undefined;
  }

  private async *queryAll(input: QueryInput): AsyncGenerator<Record<string, unknown>> {
    let start: Record<string, AttributeValue> | undefined;
    do {
      const out = await this.db.query(input, start);
      yield* out.items;
      start = out.last;
    } while (start);
  }
}

type ItemKey = { pk: string; sk: string };
type Native = Record<string, unknown>;
/** A transaction's write with plain JavaScript attribute values, as the store builds them. */
type Write =
  | { Put: Omit<Put, 'Item' | 'ExpressionAttributeValues'> & { Item: object; ExpressionAttributeValues?: Native } }
  | { Update: Omit<Update, 'Key' | 'ExpressionAttributeValues'> & { Key: Native; ExpressionAttributeValues?: Native } }
  | { Delete: Omit<Delete, 'Key' | 'ExpressionAttributeValues'> & { Key: Native; ExpressionAttributeValues?: Native } };
/** A query on the table or its index, with plain JavaScript attribute values. */
type QueryInput = Omit<QueryCommandInput, 'TableName' | 'ExpressionAttributeValues' | 'ExclusiveStartKey'> & { ExpressionAttributeValues: Native };

const toAttributes = (values: object): Record<string, AttributeValue> => marshall(values as Native, { removeUndefinedValues: true });
const fromAttributes = (item: Record<string, AttributeValue>): Native => unmarshall(item);

/**
 * The store's DynamoDB calls with plain JavaScript values in and out: what lib-dynamodb's
 * DocumentClient does, done with util-dynamodb on the low-level client, because the DocumentClient
 * refuses a client whose middleware is resolved once (`dynamoClient`), and resolving it on every call
 * costs more client CPU than the marshalling itself.
 */
class Table {
  constructor(
    private readonly client: DynamoDBClient,
    private readonly name: string,
  ) {}

  async get(key: ItemKey, { consistent = true } = {}): Promise<Native | undefined> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.name, Key: toAttributes(key), ConsistentRead: consistent }));
    return out.Item && fromAttributes(out.Item);
  }

  /** Up to 100 keys, read consistently; `unprocessed` are those DynamoDB left for another call. */
  async batchGet(keys: ItemKey[]): Promise<{ items: Native[]; unprocessed: ItemKey[] }> {
    const out = await this.client.send(
      new BatchGetItemCommand({ RequestItems: { [this.name]: { Keys: keys.map(toAttributes), ConsistentRead: true } } }),
    );
    return {
      items: (out.Responses?.[this.name] ?? []).map(fromAttributes),
      unprocessed: (out.UnprocessedKeys?.[this.name]?.Keys ?? []).map((k) => fromAttributes(k) as ItemKey),
    };
  }

  async query(input: QueryInput, start?: Record<string, AttributeValue>): Promise<{ items: Native[]; last?: Record<string, AttributeValue> }> {
    const out = await this.client.send(
      new QueryCommand({ ...input, TableName: this.name, ExpressionAttributeValues: toAttributes(input.ExpressionAttributeValues), ExclusiveStartKey: start }),
    );
    return { items: (out.Items ?? []).map(fromAttributes), last: out.LastEvaluatedKey };
  }

  async put(item: Native): Promise<void> {
    await this.client.send(new PutItemCommand({ TableName: this.name, Item: toAttributes(item) }));
  }

  async transact(writes: Write[], token?: string): Promise<void> {
    await this.client.send(new TransactWriteItemsCommand({ TransactItems: writes.map(toTransactItem), ClientRequestToken: token }));
  }
}

function toTransactItem(write: Write): TransactWriteItem {
  const values = (v: Native | undefined) => v && toAttributes(v);
  if ('Put' in write) {
    const { Item, ExpressionAttributeValues, ...rest } = write.Put;
    return { Put: { ...rest, Item: toAttributes(Item), ExpressionAttributeValues: values(ExpressionAttributeValues) } };
  }
  if ('Update' in write) {
    const { Key, ExpressionAttributeValues, ...rest } = write.Update;
    return { Update: { ...rest, Key: toAttributes(Key), ExpressionAttributeValues: values(ExpressionAttributeValues) } };
  }
  const { Key, ExpressionAttributeValues, ...rest } = write.Delete;
  return { Delete: { ...rest, Key: toAttributes(Key), ExpressionAttributeValues: values(ExpressionAttributeValues) } };
}

/** How often a transaction whose answer was lost is sent again, with the same client token. */
const MAX_REPLAYS = 5;

type TxOutcome =
  | { kind: 'ok' }
  /**
   * A condition failed: per transaction item, the item as it now stands (undefined: absent), or null
   * where the condition held. `maybeLanded`: an earlier send's answer was lost; with DynamoDB's client
   * tokens that send cannot have landed, but the callers do not rely on it.
   */
  | { kind: 'conflict'; failed: (Record<string, unknown> | undefined | null)[]; maybeLanded: boolean }
  /** Rejected before anything was written (throttling, a transaction conflict): choose again and retry. */
  | { kind: 'busy' }
  /** Every answer was lost: it may or may not have landed. */
  | { kind: 'unknown' };

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

  /** A fresh read instead of a write: it does not use up a write attempt, but it is not free either. */
  reread(): void {
    this.attempts -= 0.5;
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

function reasonItem(r: CancellationReason): Record<string, unknown> | undefined | null {
  if (r.Code !== 'ConditionalCheckFailed') return null;
  return r.Item ? fromAttributes(r.Item) : undefined;
}

function decodeOwner(item: Record<string, unknown>): OwnerItem {
  return item as unknown as OwnerItem;
}

/** A Layout per pool item read: built once per read, not kept between calls. */
const layouts = new WeakMap<MetaItem, Layout>();
function layoutOf(meta: MetaItem): Layout {
  let layout = layouts.get(meta);
  if (!layout) {
    layout = new Layout(decodeSegments(meta.segments));
    layouts.set(meta, layout);
  }
  return layout;
}

/** The explicit value of a request, checked against the pool: INVALID_ARGUMENT, then VALUE_NOT_IN_POOL. */
function wantedValue(pool: string, meta: MetaItem, value: ValueInput): bigint {
  const parsed = value(meta.type);
  if (!parsed.ok) throw new PoolError('INVALID_ARGUMENT', parsed.message);
  if (!layoutOf(meta).locate(parsed.value)) throw valueNotInPool(pool, meta.type, parsed.value);
  return parsed.value;
}

/** The owner already holds a value: the same answer again (200), or OWNER_CONFLICT when it asked for another. */
function holdingAnswer(
  pool: string,
  owner: string,
  rid: string,
  type: PoolType,
  holding: OwnerItem,
  wanted: bigint | undefined,
): { allocation: Allocation; created: boolean } {
  const held = toAllocation(pool, type, holding);
  if (wanted !== undefined && held.value !== wanted) {
    throw new PoolError(
      'OWNER_CONFLICT',
      `owner '${owner}' already holds ${showValue(type, held.value)} in pool '${pool}', not ${showValue(type, wanted)}; release it first`,
      { details: { held: formatValue(type, held.value) } },
    );
  }
  // Our own request's record (rid) means an earlier attempt of this very call landed: still a creation.
  return { allocation: held, created: holding.rid === rid };
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
  const record: SyncRecord = { ...sync };
  if (sync.errors) record.errors = capped(sync.errors, (n) => ({ path: '(more)', message: `${n} more errors not recorded` }));
  if (sync.result) {
    record.result = {
      ...sync.result,
      ignored: capped(sync.result.ignored, (n) => ({ pool: '(more)', reason: `${n} more ignored entries not recorded` })),
      warnings: capped(sync.result.warnings, (n) => `${n} more warnings not recorded`),
    };
  }
  return { pk: SYNC_PK, sk: `${sync.at}#${sync.id}`, record: JSON.stringify(record) };
}

function capped<T>(list: T[], more: (n: number) => T): T[] {
  return list.length > MAX_SYNC_LIST ? [...list.slice(0, MAX_SYNC_LIST), more(list.length - MAX_SYNC_LIST)] : list;
}
