/**
 * The shape of every item of the table (lib/store/README.md), encoded and decoded here and nowhere
 * else, field by field; the keys are lib/store/keys.ts. Pure: plain objects in, plain objects out. An item
 * that does not have the shape its key promises is a CorruptItem, never silently half-read.
 */
import type { Labels } from '../labels.js';
import type { HistoryEntry, HistoryEvent } from '../model.js';
import { expiresAt } from '../history.js';
import { PoolError } from '../errors.js';
import { type IntegerKind, isIntegerKind } from '../kinds.js';
import { type AllocationOrder, isAllocationOrder } from '../orders.js';
import { isPoolType, type PoolType, showValue, valueFromSortKey, valueSortKey } from '../values.js';
import { chunkFromSk, historyOwnerPk, historyPk, historySk, historyValuePk, holdingKey, intentKey, leasePk, metaKey, type Native, pageFromSk, pageKey, poolPk, syncKey, TABLE_KEYS } from './keys.js';
import type { Segment } from './layout.js';

// ---------------------------------------------------------------- field readers

/** An item read from the table does not have the shape its key promises. */
export class CorruptItem extends PoolError {
  constructor(key: string, field: string, expected: string) {
    super('INTERNAL', `item ${key}: field '${field}' is not ${expected}; the table holds something this version did not write`);
  }
}

function where(item: Native): string {
  return `${String(item.pk)} ${String(item.sk)}`;
}

function str(item: Native, field: string): string {
  const v = item[field];
  if (typeof v !== 'string') throw new CorruptItem(where(item), field, 'a string');
  return v;
}

function optStr(item: Native, field: string): string | undefined {
  return item[field] === undefined ? undefined : str(item, field);
}

function num(item: Native, field: string): number {
  const v = item[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new CorruptItem(where(item), field, 'a number');
  return v;
}

function optNum(item: Native, field: string): number | undefined {
  return item[field] === undefined ? undefined : num(item, field);
}

function bool(item: Native, field: string): boolean {
  const v = item[field];
  if (typeof v !== 'boolean') throw new CorruptItem(where(item), field, 'a boolean');
  return v;
}

function bin(item: Native, field: string): Uint8Array {
  const v = item[field];
  // DynamoDB may leave out an empty binary value altogether.
  if (v === undefined) return new Uint8Array(0);
  if (!(v instanceof Uint8Array)) throw new CorruptItem(where(item), field, 'binary');
  return v;
}

function strList(item: Native, field: string): string[] {
  const v = item[field];
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new CorruptItem(where(item), field, 'a list of strings');
  return v;
}

function labelMap(item: Native, field: string): Labels {
  const v = item[field];
  if (v === undefined) return {};
  if (typeof v !== 'object' || v === null || Array.isArray(v) || !Object.values(v).every((x) => typeof x === 'string')) {
    throw new CorruptItem(where(item), field, 'a map of strings');
  }
  return v as Labels;
}

function optKind(item: Native, field: string): IntegerKind | undefined {
  const v = item[field];
  if (v === undefined || v === null) return undefined;
  if (!isIntegerKind(v)) throw new CorruptItem(where(item), field, 'an integer kind');
  return v;
}

function optOrder(item: Native, field: string): AllocationOrder | undefined {
  const v = item[field];
  if (v === undefined) return undefined;
  if (!isAllocationOrder(v)) throw new CorruptItem(where(item), field, 'an allocation order');
  return v;
}

function poolType(item: Native, field: string): PoolType {
  const v = item[field];
  if (!isPoolType(v)) throw new CorruptItem(where(item), field, 'a pool type');
  return v;
}

// ---------------------------------------------------------------- registry

/** Which pools exist; every registration goes through this item's version, so registrations serialize. */
export interface RegistryItem {
  /** name → type */
  pools: Map<string, PoolType>;
  ver: number;
}

export function decodeRegistry(item: Native | undefined): RegistryItem {
  if (!item) return { pools: new Map(), ver: 0 };
  const pools = item.pools;
  if (typeof pools !== 'object' || pools === null) throw new CorruptItem(where(item), 'pools', 'a map');
  const out = new Map<string, PoolType>();
  for (const [name, type] of Object.entries(pools)) {
    if (!isPoolType(type)) throw new CorruptItem(where(item), `pools.${name}`, 'a pool type');
    out.set(name, type);
  }
  return { pools: out, ver: num(item, 'ver') };
}

// ---------------------------------------------------------------- pool definition

/** A grow that a registration larger than one transaction has written but maybe not yet committed. */
export interface StagedGrow {
  /** The registration intent that decides whether it counts. */
  intent: string;
  lver: number;
  nseg: number;
  prefix?: string;
  /** A new allocation order, when the registration changes it. */
  order?: AllocationOrder;
  updatedAt: string;
}

/**
 * A pool's definition: read by every allocation, and of fixed size whatever the pool's size, fill or
 * number of ranges (its segments live in layout pages).
 */
export interface MetaItem {
  name: string;
  type: PoolType;
  /** Prefix pools: the length of every value (`delegate_prefix_len`), fixed at creation. */
  delegate?: number;
  /** Integer pools: `kind`, fixed at creation. */
  kind?: IntegerKind;
  /** The namespace its values are unique in (`scope`), fixed at creation; absent for the family's default. */
  scope?: string;
  /** `allocation_order` (`ord`): absent for a pool registered before it existed, which allocates at random. */
  order?: AllocationOrder;
  /** Layout version: grows with every registration that adds segments. */
  lver: number;
  /** How many segments the layout has. */
  nseg: number;
  /** The largest prefix registered, kept to explain shrinks. */
  prefix?: string;
  createdAt: string;
  updatedAt: string;
  /** Item version: every change of the definition is conditioned on it. */
  ver: number;
  /** Set on a pool created by a registration that has not committed yet: the pool does not exist until it does. */
  pendingIntent?: string;
  staged?: StagedGrow;
  /** Refuses new allocations (PATCH /v1/pools/{pool}); everything else still works. */
  disabled?: boolean;
  /** Set when a deletion began (ISO time): the pool refuses new allocations until it is gone, or the deletion is undone. */
  deleting?: string;
}

export function encodeMeta(m: MetaItem): Native {
  return {
    ...metaKey(m.name),
    name: m.name,
    type: m.type,
    dlen: m.delegate,
    kind: m.kind,
    scope: m.scope,
    ord: m.order,
    lver: m.lver,
    nseg: m.nseg,
    prefix: m.prefix,
    created_at: m.createdAt,
    updated_at: m.updatedAt,
    ver: m.ver,
    pending: m.pendingIntent,
  };
}

export function decodeMeta(item: Native): MetaItem {
  const staged = item.staged;
  return {
    name: str(item, 'name'),
    type: poolType(item, 'type'),
    delegate: optNum(item, 'dlen'),
    kind: optKind(item, 'kind'),
    scope: optStr(item, 'scope'),
    order: optOrder(item, 'ord'),
    lver: num(item, 'lver'),
    nseg: num(item, 'nseg'),
    prefix: optStr(item, 'prefix'),
    createdAt: str(item, 'created_at'),
    updatedAt: str(item, 'updated_at'),
    ver: num(item, 'ver'),
    pendingIntent: optStr(item, 'pending'),
    staged: staged === undefined ? undefined : decodeStaged(item, staged),
    disabled: item.disabled === undefined ? undefined : bool(item, 'disabled'),
    deleting: optStr(item, 'deleting'),
  };
}

export function encodeStaged(s: StagedGrow): Native {
  return { intent: s.intent, lver: s.lver, nseg: s.nseg, prefix: s.prefix, ord: s.order, updated_at: s.updatedAt };
}

function decodeStaged(item: Native, v: unknown): StagedGrow {
  if (typeof v !== 'object' || v === null) throw new CorruptItem(where(item), 'staged', 'a map');
  const s = { ...(v as Native), pk: item.pk, sk: `${String(item.sk)}.staged` };
  return { intent: str(s, 'intent'), lver: num(s, 'lver'), nseg: num(s, 'nseg'), prefix: optStr(s, 'prefix'), order: optOrder(s, 'ord'), updatedAt: str(s, 'updated_at') };
}

// ---------------------------------------------------------------- layout pages

/** Up to SEGMENTS_PER_PAGE segments of a pool's layout, and which of them may have never-written chunks. */
export interface PageItem {
  page: number;
  segments: Segment[];
  virtual: boolean[];
  ver: number;
  room?: string;
}

export function encodeSegment(s: Segment, virtual: boolean): string {
  const fields = [s.start.toString(16), s.end.toString(16), s.autoAssign ? 1 : 0, s.firstChunk, s.chunkBits, virtual ? 1 : 0];
  // A seventh field only on a segment with retired runs: every other segment reads as it always did.
  if (s.retired && s.retired.length > 0) fields.push(s.retired.map((r) => `${r.start.toString(16)}-${r.end.toString(16)}`).join(';'));
  return fields.join(',');
}

export function encodePage(pool: string, p: PageItem): Native {
  return { ...pageKey(pool, p.page), segs: p.segments.map((s, i) => encodeSegment(s, p.virtual[i])), ver: p.ver, room: p.room };
}

export function decodePage(item: Native): PageItem {
  const segments: Segment[] = [];
  const virtual: boolean[] = [];
  for (const text of strList(item, 'segs')) {
    const parts = text.split(',');
    if (parts.length !== 6 && parts.length !== 7) throw new CorruptItem(where(item), 'segs', 'a list of segments');
    const [start, end, auto, firstChunk, chunkBits, virt, retired] = parts;
    const segment: Segment = { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), autoAssign: auto === '1', firstChunk: Number(firstChunk), chunkBits: Number(chunkBits) };
    if (retired) {
      segment.retired = retired.split(';').map((r) => {
        const [from, to] = r.split('-');
        if (!from || !to) throw new CorruptItem(where(item), 'segs', 'a list of segments');
        return { start: BigInt(`0x${from}`), end: BigInt(`0x${to}`) };
      });
    }
    segments.push(segment);
    virtual.push(virt === '1');
  }
  return { page: pageFromSk(str(item, 'sk')), segments, virtual, ver: num(item, 'ver'), room: optStr(item, 'room') };
}

// ---------------------------------------------------------------- chunks

/** A chunk's free bitmap: bit set = allocated. A chunk never written has no item and is all free. */
export interface ChunkItem {
  chunk: number;
  bits: Uint8Array;
  used: number;
  ver: number;
  room?: string;
  /** When it was last written (epoch ms): how long the by-value index has had to catch up. */
  at?: number;
  /** The incarnation of the pool that last wrote it (its definition's created_at); absent on chunks written before chunks carried it. */
  born?: string;
}

export function decodeChunk(item: Native): ChunkItem {
  return {
    chunk: chunkFromSk(str(item, 'sk')),
    bits: bin(item, 'bits'),
    used: num(item, 'used'),
    ver: num(item, 'ver'),
    room: optStr(item, 'room'),
    at: item.at === undefined ? undefined : num(item, 'at'),
    born: optStr(item, 'born'),
  };
}

// ---------------------------------------------------------------- allocation records

/** Who holds what: one per (pool, owner), which is what makes the owner the idempotency key. */
export interface HoldingItem {
  pool: string;
  type: PoolType;
  /** Prefix pools: the length of every value, so that the record reads on its own. */
  delegate?: number;
  owner: string;
  /** The first value held. */
  value: bigint;
  /** How many values from `value` on. */
  size: number;
  at: string;
  /** Id of the request that allocated it, so a retried ambiguous write knows it was its own. */
  rid: string;
  labels?: Labels;
  /** How many times the labels were changed: the condition of the next change. */
  labelsVersion?: number;
  /** Who allocated it. */
  by?: string;
  /** The last label change: when, by whom, and its request id (what its history entry says). */
  labelsAt?: string;
  labelsBy?: string;
  labelsRid?: string;
  /** Set on a record an import created: when (its history entry says `imported`, at this time). */
  importedAt?: string;
  /** When the lease runs out (ISO time), if the allocation has one: its sort key in the lease index. */
  expires?: string;
}

export function encodeHolding(h: HoldingItem): Native {
  return {
    ...holdingKey(h.pool, h.owner),
    pool: h.pool,
    type: h.type,
    dlen: h.delegate,
    owner: h.owner,
    // The value as text, for people reading the table; gsk is what the store reads.
    value: showValue(h, h.value, h.size),
    size: h.size,
    at: h.at,
    rid: h.rid,
    gpk: poolPk(h.pool),
    gsk: valueSortKey(h.type, h.value),
    // Absent when empty: DynamoDB keeps no empty map worth its bytes.
    labels: h.labels && Object.keys(h.labels).length > 0 ? { ...h.labels } : undefined,
    by: h.by,
    iat: h.importedAt,
    // Only a leased record is in the lease index (sparse): both keys or neither.
    ...(h.expires ? { [TABLE_KEYS.leaseIndexPartitionKey]: leasePk(h.pool, h.owner), [TABLE_KEYS.leaseIndexSortKey]: h.expires } : {}),
  };
}

export function decodeHolding(item: Native): HoldingItem {
  return {
    pool: str(item, 'pool'),
    type: poolType(item, 'type'),
    delegate: optNum(item, 'dlen'),
    owner: str(item, 'owner'),
    value: valueFromSortKey(str(item, 'gsk')),
    size: num(item, 'size'),
    at: str(item, 'at'),
    rid: str(item, 'rid'),
    labels: labelMap(item, 'labels'),
    labelsVersion: optNum(item, 'lv'),
    by: optStr(item, 'by'),
    labelsAt: optStr(item, 'lat'),
    labelsBy: optStr(item, 'lby'),
    labelsRid: optStr(item, 'lrid'),
    importedAt: optStr(item, 'iat'),
    expires: optStr(item, TABLE_KEYS.leaseIndexSortKey),
  };
}

// ---------------------------------------------------------------- history entries

const HISTORY_EVENTS: readonly string[] = ['allocated', 'released', 'labels_changed', 'expired', 'imported', 'repaired'];

/**
 * A history entry. Its attributes `owner` and `pool` are the by-owner index's keys (the pool and
 * owner prefixed, the entry's sort key), so the entry's own pool and owner are `hpool` and `howner`.
 * Written whole and without condition: the same entry written twice is the same item.
 */
export function encodeHistory(e: HistoryEntry, keepDays: number): Native {
  const sk = historySk(e);
  return {
    pk: historyPk(e.pool, e.at),
    sk,
    hpool: e.pool,
    howner: e.owner,
    type: e.type,
    dlen: e.delegate,
    ev: e.event,
    value: showValue(e, e.value, e.size),
    size: e.size,
    at: e.at,
    by: e.by,
    rid: e.requestId,
    labels: Object.keys(e.labels).length > 0 ? { ...e.labels } : undefined,
    gpk: historyValuePk(e.pool, valueSortKey(e.type, e.value)),
    gsk: sk,
    [TABLE_KEYS.ownerIndexPartitionKey]: historyOwnerPk(e.pool, e.owner),
    [TABLE_KEYS.ownerIndexSortKey]: sk,
    [TABLE_KEYS.ttl]: expiresAt(e, keepDays),
  };
}

export function decodeHistory(item: Native): HistoryEntry {
  const event = str(item, 'ev');
  if (!HISTORY_EVENTS.includes(event)) throw new CorruptItem(where(item), 'ev', 'a history event');
  const gpk = str(item, 'gpk');
  return {
    pool: str(item, 'hpool'),
    type: poolType(item, 'type'),
    delegate: optNum(item, 'dlen'),
    value: valueFromSortKey(gpk.slice(gpk.lastIndexOf('#') + 1)),
    size: num(item, 'size'),
    owner: str(item, 'howner'),
    event: event as HistoryEvent,
    at: str(item, 'at'),
    by: str(item, 'by'),
    requestId: str(item, 'rid'),
    labels: labelMap(item, 'labels'),
  };
}

// ---------------------------------------------------------------- registration intents

/** pending → committed → settled (every staged item folded in), or pending → aborted. */
export type IntentStatus = 'pending' | 'committed' | 'settled' | 'aborted';
const INTENT_STATUSES: readonly string[] = ['pending', 'committed', 'settled', 'aborted'];

/**
 * A registration too large for one transaction: its staged items count once this says committed.
 * It names the pools it creates and grows, so that whoever finds it unfinished can finish or undo it.
 */
export interface IntentItem {
  id: string;
  status: IntentStatus;
  at: string;
  created: string[];
  grown: string[];
}

export function encodeIntent(i: IntentItem, ttlSeconds: number): Native {
  return { ...intentKey(i.id), status: i.status, at: i.at, created: i.created, grown: i.grown, [TABLE_KEYS.ttl]: ttlSeconds };
}

export function decodeIntent(item: Native): IntentItem {
  const status = str(item, 'status');
  if (!INTENT_STATUSES.includes(status)) throw new CorruptItem(where(item), 'status', 'an intent status');
  return { id: str(item, 'sk'), status: status as IntentStatus, at: str(item, 'at'), created: strList(item, 'created'), grown: strList(item, 'grown') };
}


// ---------------------------------------------------------------- config syncs

export function encodeSync(record: { id: string; at: string }, json: string): Native {
  return { ...syncKey(record), record: json };
}

export function syncJson(item: Native): string {
  return str(item, 'record');
}
