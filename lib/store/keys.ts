/**
 * The table's keys: attribute names, and the partition and sort key of every kind of item. Pure.
 * lib/store/items.ts defines what each item holds.
 */

/** Attribute names of the table's keys and indexes, shared with the CDK table definition. */
export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Global index: a pool's allocation records in value order. */
  valueIndex: 'by-value',
  valueIndexPartitionKey: 'gpk',
  valueIndexSortKey: 'gsk',
  /** Global index: everything an owner holds, pool by pool (allocation records only carry `owner`). */
  ownerIndex: 'by-owner',
  ownerIndexPartitionKey: 'owner',
  ownerIndexSortKey: 'pool',
  /** Local index: a pool's chunks and layout pages that have free values (lib/store/room.ts). */
  roomIndex: 'by-room',
  roomIndexSortKey: 'room',
  /**
   * Global index, sparse, keys only: allocation records that carry a lease, by expiry time, in
   * LEASE_SHARDS partitions (lib/store/expire.ts). Only a leased record has `lpk` and `exp`.
   */
  leaseIndex: 'by-expiry',
  leaseIndexPartitionKey: 'lpk',
  leaseIndexSortKey: 'exp',
  /** Epoch seconds after which DynamoDB removes the item (registration intents and history entries). */
  ttl: 'ttl',
} as const;

export type Native = Record<string, unknown>;
export interface ItemKey {
  pk: string;
  sk: string;
}

export const REGISTRY_KEY: ItemKey = { pk: 'REGISTRY', sk: 'REGISTRY' };
export const META_SK = 'META';
export const CHUNK_PREFIX = 'CHUNK#';
export const LAYOUT_PREFIX = 'LAYOUT#';
export const OWNER_PREFIX = 'OWNER#';
/** The partition of registration intents. */
export const INTENTS_PK = 'REGISTRATION';
const SYNC_PREFIX = 'SYNC#';
export const HISTORY_PREFIX = 'HIST#';
export const HOLDING_PREFIX = 'HOLD#';

/** Segments per layout page: a page of 32 IPv6 segments stays under 3 KB. */
export const SEGMENTS_PER_PAGE = 32;
/** How many layout pages a layout of `nseg` segments fills. */
export const pageCount = (nseg: number): number => Math.ceil(nseg / SEGMENTS_PER_PAGE);
/** An allocation record's partition: a pool's records spread over this many, by a hash of the owner. */
export const OWNER_SHARDS = 16;
/**
 * Partitions of the lease index: every leased allocation and renewal writes one of them, so they
 * spread that load (each index partition takes 1,000 writes/s), and the sweeper reads each of them
 * once a run, so they stay few (docs/CAPACITY.md).
 */
export const LEASE_SHARDS = 8;
const LEASE_PREFIX = 'LEASE#';

export const poolPk = (pool: string): string => `POOL#${pool}`;
export const metaKey = (pool: string): ItemKey => ({ pk: poolPk(pool), sk: META_SK });
export const pageKey = (pool: string, page: number): ItemKey => ({ pk: poolPk(pool), sk: `${LAYOUT_PREFIX}${hex(page, 2)}` });
export const chunkSk = (chunk: number): string => `${CHUNK_PREFIX}${hex(chunk, 8)}`;
export const chunkKey = (pool: string, chunk: number): ItemKey => ({ pk: poolPk(pool), sk: chunkSk(chunk) });
export const chunkFromSk = (sk: string): number => Number.parseInt(sk.slice(CHUNK_PREFIX.length), 16);
export const pageFromSk = (sk: string): number => Number.parseInt(sk.slice(LAYOUT_PREFIX.length), 16);
export const holdingPk = (pool: string, shard: number): string => `${HOLDING_PREFIX}${pool}#${shard.toString(16)}`;
export const holdingKey = (pool: string, owner: string): ItemKey => ({ pk: holdingPk(pool, ownerShard(owner)), sk: `${OWNER_PREFIX}${owner}` });
/** A leased record's partition of the lease index: fixed for (pool, owner), so a renewal moves only the sort key. */
export const leasePk = (pool: string, owner: string): string => leaseShardPk(ownerShard(`${pool}#${owner}`) % LEASE_SHARDS);
export const leaseShardPk = (shard: number): string => `${LEASE_PREFIX}${shard}`;
export const intentKey = (id: string): ItemKey => ({ pk: INTENTS_PK, sk: id });
/** Sync records of one calendar month share a partition: newest first is a query per month. */
export const syncPk = (at: string): string => `${SYNC_PREFIX}${at.slice(0, 7)}`;
export const syncKey = (sync: { id: string; at: string }): ItemKey => ({ pk: syncPk(sync.at), sk: `${sync.at}#${sync.id}` });

/**
 * History entries. A pool's entries of one calendar month share a partition (newest first is a query
 * per month, and no partition outgrows DynamoDB's 10 GB item collection limit); the sort key starts
 * with the entry's time. The same sort key orders an entry in the by-value index (partition: the
 * pool and the value) and in the by-owner index (partition: the pool and the owner), whose keys no
 * allocation record can have: owners and pool names hold no `#`.
 */
export const historyPk = (pool: string, at: string): string => `${HISTORY_PREFIX}${pool}#${at.slice(0, 7)}`;
export const historySk = (e: { at: string; event: string; requestId: string; owner: string }): string => `${e.at}#${e.event}#${e.requestId}#${e.owner}`;
export const historyValuePk = (pool: string, valueKey: string): string => `HV#${pool}#${valueKey}`;
export const historyOwnerPk = (pool: string, owner: string): string => `HO#${pool}#${owner}`;

/** The item with this key among items read together (a BatchGetItem answers in no particular order). */
export function itemWithKey(items: readonly Native[], key: ItemKey): Native | undefined {
  return items.find((i) => i.pk === key.pk && i.sk === key.sk);
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** FNV-1a over the owner's UTF-16 code units, folded to a shard. */
export function ownerShard(owner: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < owner.length; i++) {
    h ^= owner.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % OWNER_SHARDS;
}
