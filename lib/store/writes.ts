/**
 * Every write the store sends, built as plain request objects by pure functions (sent by
 * lib/store/table.ts, in transactions by lib/store/transact.ts). Each condition is assembled from
 * named parts, with the timeline that makes it necessary.
 */
import { type ChunkItem, encodeHistory, encodeHolding, encodeIntent, encodeMeta, encodePage, encodeStaged, encodeSync, type HoldingItem, type IntentItem, type IntentStatus, type MetaItem, type PageItem, type RegistryItem, type StagedGrow } from './items.js';
import { holdingKey, intentKey, type ItemKey, leasePk, metaKey, type Native, REGISTRY_KEY, chunkKey, pageKey, TABLE_KEYS } from './keys.js';
import type { PoolType } from '../values.js';
import type { AllocationOrder } from '../orders.js';
import type { HistoryEntry } from '../model.js';

/** A transaction's write with plain JavaScript attribute values. */
export type Write =
  | { Put: { Item: Native; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Native; ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' } }
  | { Update: { Key: ItemKey; UpdateExpression: string; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Native; ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' } }
  | { Delete: { Key: ItemKey; ConditionExpression?: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Native; ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' } }
  /** Writes nothing: the transaction happens only if the condition holds (transactions only). */
  | { ConditionCheck: { Key: ItemKey; ConditionExpression: string; ExpressionAttributeNames?: Record<string, string>; ExpressionAttributeValues?: Native; ReturnValuesOnConditionCheckFailure?: 'ALL_OLD' } };

// ---------------------------------------------------------------- condition parts

/** The item does not exist yet: it was never written (a chunk), or nobody holds it (an allocation record). */
const ABSENT = 'attribute_not_exists(pk)';
const EXISTS = 'attribute_exists(pk)';
/** The item is still the version we read: nobody changed it between our read and our write. */
const UNCHANGED = '#ver = :seen';
/**
 * A chunk item belongs to the incarnation of the pool we read (its definition's created_at). Timeline
 * it guards against: we read chunk 3 at version 2, the pool is deleted (chunk 3 with it) and
 * registered again under its name with another layout, a new allocation creates chunk 3 and writes
 * it once, to version 2, our write arrives: the version matches, but the bits mean other values. A
 * chunk written before chunks carried their incarnation has none and passes: every write stamps it.
 */
const SAME_POOL = '(#born = :born OR attribute_not_exists(#born))';

/** Which incarnation of a pool a write is for: its name and when its definition was created. */
export type PoolIncarnation = Pick<MetaItem, 'name' | 'createdAt'>;

// ---------------------------------------------------------------- chunks

export interface ChunkChange {
  bits: Uint8Array;
  used: number;
  /** When (epoch ms). */
  at: number;
  /** The room key the new bits call for (lib/store/room.ts); undefined takes the chunk out of the room index. */
  room: string | undefined;
}

/**
 * A chunk's new bitmap. Timeline it guards against: we read version 7, another allocation writes
 * version 8 with our chosen bit set, our write arrives: the version condition fails and hands the
 * chunk back as it now stands (ALL_OLD), so the next choice needs no read. A chunk never written is
 * created on the condition that it still does not exist.
 */
export function chunkWrite(pool: PoolIncarnation, chunk: number, before: ChunkItem | undefined, after: ChunkChange): Write {
  const set = ['bits = :bits', 'used = :used', '#ver = :next', '#at = :at', '#born = :born', ...(after.room ? ['#room = :room'] : [])];
  const remove = after.room ? '' : ' REMOVE #room';
  return {
    Update: {
      Key: chunkKey(pool.name, chunk),
      UpdateExpression: `SET ${set.join(', ')}${remove}`,
      ConditionExpression: before ? `${UNCHANGED} AND ${SAME_POOL}` : ABSENT,
      ExpressionAttributeNames: { '#ver': 'ver', '#at': 'at', '#born': 'born', '#room': TABLE_KEYS.roomIndexSortKey },
      ExpressionAttributeValues: {
        ':born': pool.createdAt,
        ':bits': after.bits,
        ':used': after.used,
        ':at': after.at,
        ':next': (before?.ver ?? 0) + 1,
        ...(after.room ? { ':room': after.room } : {}),
        ...(before ? { ':seen': before.ver } : {}),
      },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

// ---------------------------------------------------------------- allocation records

/**
 * A new allocation record. It is keyed by (pool, owner), so its absence is the whole idempotency
 * rule: a second allocation for the owner fails here and gets the existing record back.
 */
export function holdingPut(h: HoldingItem): Write {
  return { Put: { Item: encodeHolding(h), ConditionExpression: ABSENT, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } };
}

/**
 * Removes an allocation record, only if it is still the allocation we read (its request id): a
 * release racing a release and a new allocation by the same owner cannot delete the newer one.
 */
export function holdingDelete(pool: string, owner: string, rid: string): Write {
  return { Delete: sameRecord(pool, owner, rid) };
}

/** The record of (pool, owner) if it is still the allocation with this request id; handed back if not. */
function sameRecord(pool: string, owner: string, rid: string) {
  return { Key: holdingKey(pool, owner), ConditionExpression: 'rid = :rid', ExpressionAttributeValues: { ':rid': rid }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' as const };
}

/**
 * The allocation record is still the one read (its request id), in a transaction that writes others:
 * a batch whose item the owner already held answers it only if it is still held when the batch lands.
 * Timeline it guards against: we read the owner's record, another call releases it, our batch lands
 * with its other items and answers the released one as held.
 */
export function holdingStill(pool: string, owner: string, rid: string): Write {
  return { ConditionCheck: sameRecord(pool, owner, rid) };
}

/**
 * An allocation record's labels replaced by the merge of a patch into what was read, and its lease
 * renewed with them when `expires` is given. Timeline it guards against: we read labels version 3,
 * another patch writes version 4, our write arrives: the version condition fails and we merge again
 * into what it wrote, so no patch is lost. The request id condition means a record released (and
 * perhaps allocated again) since we read it is not touched: a patch racing a release cannot bring the
 * allocation back.
 */
export function labelsWrite(h: HoldingItem, labels: Readonly<Record<string, string>>, change: { at: string; by: string; requestId: string }, expires?: string): Write {
  const version = h.labelsVersion ?? 0;
  const empty = Object.keys(labels).length === 0;
  // Who changed them, when, under which request id: the history entry the change stream derives from it.
  const stamp = `#lv = :next, lat = :lat, lby = :lby, lrid = :lrid${expires ? `, ${LEASE_SET}` : ''}`;
  return {
    Update: {
      Key: holdingKey(h.pool, h.owner),
      UpdateExpression: empty ? `SET ${stamp} REMOVE labels` : `SET labels = :labels, ${stamp}`,
      ConditionExpression: `${SAME_ALLOCATION} AND ${version === 0 ? 'attribute_not_exists(#lv)' : '#lv = :seen'}`,
      ExpressionAttributeNames: { '#lv': 'lv', ...(expires ? LEASE_NAMES : {}) },
      ExpressionAttributeValues: {
        ':rid': h.rid,
        ':next': version + 1,
        ':lat': change.at,
        ':lby': change.by,
        ':lrid': change.requestId,
        ...(empty ? {} : { ':labels': { ...labels } }),
        ...(version === 0 ? {} : { ':seen': version }),
        ...(expires ? leaseValues(h, expires) : {}),
      },
    },
  };
}

/** The record is still the allocation read (its request id; a missing record fails it too). */
const SAME_ALLOCATION = 'rid = :rid';
/** A lease's end and its partition of the lease index (sparse: only leased records carry them). */
const LEASE_SET = '#lpk = :lpk, #exp = :exp';
const LEASE_NAMES = { '#lpk': TABLE_KEYS.leaseIndexPartitionKey, '#exp': TABLE_KEYS.leaseIndexSortKey };
const leaseValues = (h: HoldingItem, expires: string) => ({ ':lpk': leasePk(h.pool, h.owner), ':exp': expires });

/**
 * A lease renewed from now, or turned on: the record's expiry moved (and with it its entry in the
 * lease index). Timeline it guards against: we read the record, the sweeper releases it (its lease
 * ran out), the owner allocates again; our renewal arrives: the request id condition fails, so a
 * renewal never lands on a record released meanwhile, nor on a newer allocation. Racing the sweeper
 * the other way, the sweeper's delete is conditioned on the expiry it read (holdingExpire), which this
 * write moved. Writing it twice sets the same expiry: a lost answer may be sent again.
 */
export function leaseWrite(h: HoldingItem, expires: string): Write {
  return {
    Update: {
      Key: holdingKey(h.pool, h.owner),
      UpdateExpression: `SET ${LEASE_SET}`,
      ConditionExpression: SAME_ALLOCATION,
      ExpressionAttributeNames: LEASE_NAMES,
      ExpressionAttributeValues: { ':rid': h.rid, ...leaseValues(h, expires) },
    },
  };
}

/**
 * Removes an allocation record whose lease ran out, only if it is the allocation read (its request
 * id), with the expiry read, and that expiry is past. Timeline it guards against: the sweeper reads
 * the record, the owner renews it (a later `exp`), the sweeper's delete arrives: the expiry condition
 * fails and the value stays held. Handed back when it fails, to judge again.
 */
export function holdingExpire(h: HoldingItem, now: string): Write {
  return {
    Delete: {
      Key: holdingKey(h.pool, h.owner),
      ConditionExpression: `${SAME_ALLOCATION} AND ${LEASE_AS_READ} AND ${LEASE_PAST}`,
      ExpressionAttributeNames: { '#exp': TABLE_KEYS.leaseIndexSortKey },
      ExpressionAttributeValues: { ':rid': h.rid, ':exp': h.expires, ':now': now },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The lease is the one read: not renewed since. */
const LEASE_AS_READ = '#exp = :exp';
/** The lease has run out (ISO times sort as they compare). */
const LEASE_PAST = '#exp <= :now';

// ---------------------------------------------------------------- history entries

/**
 * A history entry, written whole and without condition: the entry derived twice from the same change
 * (a stream record delivered again) is the same item, and writing it again changes nothing.
 */
export function historyPut(entry: HistoryEntry, keepDays: number): Write {
  return { Put: { Item: encodeHistory(entry, keepDays) } };
}

// ---------------------------------------------------------------- registry

/**
 * The registry with pools added, written whole on the version the registration was planned against
 * (an update expression naming 1,000 pools would pass DynamoDB's 4 KB expression limit; the item
 * itself stays a few tens of KB).
 */
export function registryWrite(before: RegistryItem, added: ReadonlyMap<string, PoolType>): Write {
  const pools = Object.fromEntries([...before.pools, ...added]);
  const item = { ...REGISTRY_KEY, pools, ver: before.ver + 1 };
  if (before.ver === 0) return { Put: { Item: item, ConditionExpression: ABSENT } };
  return { Put: { Item: item, ConditionExpression: UNCHANGED, ExpressionAttributeNames: { '#ver': 'ver' }, ExpressionAttributeValues: { ':seen': before.ver } } };
}

// ---------------------------------------------------------------- pool definitions and layout pages

/** A new pool's definition; with `pendingIntent` it does not count until that registration commits. */
export function metaPut(meta: MetaItem): Write {
  return { Put: { Item: encodeMeta(meta), ConditionExpression: ABSENT } };
}

/** Clean definition (no staged grow, no pending creation): a registration must not stack on another one. */
const SETTLED = 'attribute_not_exists(staged) AND attribute_not_exists(pending)';

/** A grown (or reordered) pool's definition, on the version the registration read; the fields it does not set stay as they are. */
export function metaGrow(before: MetaItem, after: { lver: number; nseg: number; prefix?: string; order?: AllocationOrder; updatedAt: string }): Write {
  return {
    Update: {
      Key: metaKey(before.name),
      UpdateExpression: `SET lver = :lver, nseg = :nseg, updated_at = :at, #ver = :next${after.prefix ? ', prefix = :prefix' : ''}${after.order ? ', ord = :ord' : ''}`,
      ConditionExpression: `${UNCHANGED} AND ${SETTLED}`,
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: {
        ':lver': after.lver,
        ':nseg': after.nseg,
        ':at': after.updatedAt,
        ':next': before.ver + 1,
        ':seen': before.ver,
        ...(after.prefix ? { ':prefix': after.prefix } : {}),
        ...(after.order ? { ':ord': after.order } : {}),
      },
    },
  };
}

/** A grow that counts only once its registration intent commits. */
export function metaStage(before: MetaItem, staged: StagedGrow): Write {
  return {
    Update: {
      Key: metaKey(before.name),
      UpdateExpression: 'SET staged = :staged, #ver = :next',
      ConditionExpression: `${UNCHANGED} AND ${SETTLED}`,
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: { ':staged': encodeStaged(staged), ':next': before.ver + 1, ':seen': before.ver },
    },
  };
}

/** Folds a committed staged grow into the definition (any reader would already apply it). */
export function metaSettleStaged(pool: string, staged: StagedGrow): Write {
  return {
    Update: {
      Key: metaKey(pool),
      UpdateExpression: `SET lver = :lver, nseg = :nseg, updated_at = :at, #ver = #ver + :one${staged.prefix ? ', prefix = :prefix' : ''}${staged.order ? ', ord = :ord' : ''} REMOVE staged`,
      ConditionExpression: 'staged.intent = :intent',
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: {
        ':lver': staged.lver,
        ':nseg': staged.nseg,
        ':at': staged.updatedAt,
        ':one': 1,
        ':intent': staged.intent,
        ...(staged.prefix ? { ':prefix': staged.prefix } : {}),
        ...(staged.order ? { ':ord': staged.order } : {}),
      },
    },
  };
}

/** Drops a staged grow whose registration was aborted. */
export function metaDropStaged(pool: string, intent: string): Write {
  return {
    Update: {
      Key: metaKey(pool),
      UpdateExpression: 'SET #ver = #ver + :one REMOVE staged',
      ConditionExpression: 'staged.intent = :intent',
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: { ':one': 1, ':intent': intent },
    },
  };
}

/** Marks a pool created by a committed registration as settled. */
export function metaSettleCreated(pool: string, intent: string): Write {
  return {
    Update: {
      Key: metaKey(pool),
      UpdateExpression: 'SET #ver = #ver + :one REMOVE pending',
      ConditionExpression: 'pending = :intent',
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: { ':one': 1, ':intent': intent },
    },
  };
}

/** Deletes a pool created by an aborted registration. */
export function metaDropCreated(pool: string, intent: string): Write {
  return { Delete: { Key: metaKey(pool), ConditionExpression: 'pending = :intent', ExpressionAttributeValues: { ':intent': intent } } };
}

/**
 * Turns a pool's refusal of new allocations on or off. The version is left alone: the flag is its own
 * attribute, which no registration writes, so a switch racing a grow loses neither.
 */
export function metaSwitch(pool: string, disabled: boolean, at: string): Write {
  return {
    Update: {
      Key: metaKey(pool),
      UpdateExpression: disabled ? 'SET #disabled = :yes, updated_at = :at' : 'SET updated_at = :at REMOVE #disabled',
      ConditionExpression: `${EXISTS} AND attribute_not_exists(pending)`,
      ExpressionAttributeNames: { '#disabled': 'disabled' },
      ExpressionAttributeValues: { ':at': at, ...(disabled ? { ':yes': true } : {}) },
    },
  };
}

/**
 * The incarnation read is still the pool and no deletion of it has begun: what an allocation creating
 * a chunk item checks. A pool deleted and registered again under its name has another created_at.
 */
const OPEN = 'created_at = :born AND attribute_not_exists(deleting)';

/**
 * The pool is not being deleted, checked in the transaction of an allocation that creates a chunk
 * item. Timeline it guards against: the allocation reads the definition, a deletion marks it,
 * finds every chunk empty and deletes them, then the allocation lands on a chunk that no longer
 * exists, whose "absent" condition holds: without this check it would create a live allocation in
 * a deleted pool. A write to an existing chunk needs no check: a deletion deletes that chunk on its
 * version, and one of the two conditions fails.
 */
export function metaOpen(pool: PoolIncarnation): Write {
  return { ConditionCheck: { Key: metaKey(pool.name), ConditionExpression: OPEN, ExpressionAttributeValues: { ':born': pool.createdAt }, ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } };
}

/** Marks a pool as being deleted, on the version read: from then on it takes no new allocation. */
export function metaDeleting(before: MetaItem, at: string): Write {
  return {
    Update: {
      Key: metaKey(before.name),
      UpdateExpression: 'SET deleting = :at, #ver = :next',
      ConditionExpression: `${UNCHANGED} AND ${SETTLED}`,
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: { ':at': at, ':next': before.ver + 1, ':seen': before.ver },
    },
  };
}

/** Undoes a deletion that found an allocation after all. */
export function metaUndelete(pool: string, deleting: string): Write {
  return {
    Update: {
      Key: metaKey(pool),
      UpdateExpression: 'SET #ver = #ver + :one REMOVE deleting',
      ConditionExpression: 'deleting = :at',
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: { ':one': 1, ':at': deleting },
    },
  };
}

/** Deletes the definition of a pool being deleted, on the version that marked it. */
export function metaDelete(before: MetaItem): Write {
  return {
    Delete: {
      Key: metaKey(before.name),
      ConditionExpression: `${UNCHANGED} AND attribute_exists(deleting)`,
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: { ':seen': before.ver },
    },
  };
}

/** Deletes an empty chunk item of a pool being deleted, on the version read: an allocation since then fails it. */
export function chunkDelete(pool: PoolIncarnation, chunk: ChunkItem): Write {
  return {
    Delete: {
      Key: chunkKey(pool.name, chunk.chunk),
      ConditionExpression: `${UNCHANGED} AND ${SAME_POOL} AND used = :zero`,
      ExpressionAttributeNames: { '#ver': 'ver', '#born': 'born' },
      ExpressionAttributeValues: { ':seen': chunk.ver, ':born': pool.createdAt, ':zero': 0 },
      ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
    },
  };
}

/** The registry without a deleted pool, on the version read. */
export function registryRemove(before: RegistryItem, pool: string): Write {
  const pools = Object.fromEntries([...before.pools].filter(([name]) => name !== pool));
  return {
    Put: {
      Item: { ...REGISTRY_KEY, pools, ver: before.ver + 1 },
      ConditionExpression: UNCHANGED,
      ExpressionAttributeNames: { '#ver': 'ver' },
      ExpressionAttributeValues: { ':seen': before.ver },
    },
  };
}

/** A layout page as a whole: created, or replaced on the version that was read. */
export function pageWrite(pool: string, before: PageItem | undefined, after: PageItem): Write {
  return {
    Put: {
      Item: encodePage(pool, { ...after, ver: (before?.ver ?? 0) + 1 }),
      ConditionExpression: before ? UNCHANGED : ABSENT,
      ExpressionAttributeNames: before ? { '#ver': 'ver' } : undefined,
      ExpressionAttributeValues: before ? { ':seen': before.ver } : undefined,
    },
  };
}

/** A layout page past the committed segments, written whatever is there (nothing there counts). */
export function pageReplace(pool: string, after: PageItem): Write {
  return { Put: { Item: encodePage(pool, { ...after, ver: 1 }) } };
}

/** Deletes a layout page written by an aborted registration (never one that a settled layout uses). */
export function pageDelete(pool: string, page: number): Write {
  return { Delete: { Key: pageKey(pool, page) } };
}

// ---------------------------------------------------------------- registration intents and syncs

export function intentPut(intent: IntentItem, ttlSeconds: number): Write {
  return { Put: { Item: encodeIntent(intent, ttlSeconds), ConditionExpression: ABSENT } };
}

/**
 * Moves an intent on, only from the status expected: a commit and an abort cannot both win. A
 * committed intent loses its expiry (readers need it while staged items remain); a settled or
 * aborted one gets it back.
 */
export function intentMove(id: string, from: IntentStatus, to: IntentStatus, ttlSeconds?: number): Write {
  const expiry = to === 'committed' ? ' REMOVE #ttl' : ttlSeconds !== undefined ? ', #ttl = :ttl' : '';
  return {
    Update: {
      Key: intentKey(id),
      UpdateExpression: `SET #status = :to${expiry}`,
      ConditionExpression: `${EXISTS} AND #status = :from`,
      ExpressionAttributeNames: { '#status': 'status', ...(expiry ? { '#ttl': TABLE_KEYS.ttl } : {}) },
      ExpressionAttributeValues: { ':from': from, ':to': to, ...(expiry.includes(':ttl') ? { ':ttl': ttlSeconds } : {}) },
    },
  };
}

export function syncPut(record: { id: string; at: string }, json: string): Write {
  return { Put: { Item: encodeSync(record, json) } };
}
