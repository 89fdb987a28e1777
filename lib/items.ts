/**
 * The single-table layout (docs/DATA-MODEL.md): keys and the shape of every item, encoded and decoded
 * here and nowhere else. Pure: plain objects in, plain objects out.
 */
import type { Segment } from './layout.js';
import type { PoolType } from './values.js';

export const TABLE_KEYS = {
  partitionKey: 'pk',
  sortKey: 'sk',
  valueIndex: 'by-value',
  valueIndexPartitionKey: 'gpk',
  valueIndexSortKey: 'gsk',
  ttl: 'expires_at',
} as const;

export const REGISTRY_KEY = { pk: 'REGISTRY', sk: 'REGISTRY' } as const;
export const SYNC_PK = 'SYNC';
export const META_SK = 'META';
export const CHUNK_PREFIX = 'CHUNK#';
export const OWNER_PREFIX = 'OWNER#';

export const poolPk = (pool: string): string => `POOL#${pool}`;
export const chunkSk = (chunk: number): string => `${CHUNK_PREFIX}${chunk.toString(16).padStart(8, '0')}`;
export const ownerSk = (owner: string): string => `${OWNER_PREFIX}${owner}`;
export const chunkFromSk = (sk: string): number => Number.parseInt(sk.slice(CHUNK_PREFIX.length), 16);

/** Which pools exist; every registration goes through this item's version, so registrations serialize. */
export interface RegistryItem {
  pk: string;
  sk: string;
  /** name → type */
  pools: Record<string, PoolType>;
  ver: number;
}

/**
 * A pool's definition and the set of its full chunks; read by every allocation. Chunks join and leave
 * `full` with DynamoDB's ADD and DELETE on a number set, which commute, so two allocations filling
 * different chunks never conflict on this item. DynamoDB stores no empty set: absent means none.
 */
export interface MetaItem {
  pk: string;
  sk: string;
  name: string;
  type: PoolType;
  /** "start,end,auto,firstChunk,chunkBits" with start and end in hex. */
  segments: string[];
  prefix?: string;
  /** Chunks with no free value. Exact, because it changes in the same transaction as the chunk. */
  full: ReadonlySet<number>;
  ver: number;
  created_at: string;
  updated_at: string;
}

/** A chunk's free bitmap: bit set = allocated. A chunk never written has no item and is all free. */
export interface ChunkItem {
  pk: string;
  sk: string;
  bits: Uint8Array;
  used: number;
  ver: number;
}

/** Who holds a value; one per (pool, owner), which is what makes the owner the idempotency key. */
export interface OwnerItem {
  pk: string;
  sk: string;
  owner: string;
  /** The value as text, for people reading the table. */
  value: string;
  chunk: number;
  bit: number;
  at: string;
  /** Id of the request that allocated it, so a retried ambiguous write knows it was its own. */
  rid: string;
  /** by-value index: the pool, and the value's sort key (fixed-width hex). */
  gpk: string;
  gsk: string;
}

export function encodeSegments(segments: readonly Segment[]): string[] {
  return segments.map((s) => [s.start.toString(16), s.end.toString(16), s.autoAssign ? 1 : 0, s.firstChunk, s.chunkBits].join(','));
}

export function decodeSegments(encoded: readonly string[]): Segment[] {
  return encoded.map((text) => {
    const [start, end, auto, firstChunk, chunkBits] = text.split(',');
    return { start: BigInt(`0x${start}`), end: BigInt(`0x${end}`), autoAssign: auto === '1', firstChunk: Number(firstChunk), chunkBits: Number(chunkBits) };
  });
}

/** DynamoDB returns binary attributes as Uint8Array; an empty one may be omitted altogether. */
export function bytes(v: unknown): Uint8Array {
  return v instanceof Uint8Array ? v : new Uint8Array(0);
}

/** A number set as read back (a Set of numbers), or empty when DynamoDB left the attribute out. */
function numberSet(v: unknown): ReadonlySet<number> {
  return v instanceof Set ? new Set([...v].map(Number)) : new Set();
}

export function decodeMeta(item: Record<string, unknown>): MetaItem {
  return { ...(item as unknown as MetaItem), full: numberSet(item.full) };
}

export function decodeChunk(item: Record<string, unknown>): ChunkItem {
  return { ...(item as unknown as ChunkItem), bits: bytes(item.bits) };
}
