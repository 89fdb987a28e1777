/**
 * The domain model: what a pool, an allocation, a config sync and a check report are, independent of
 * how the store keeps them (lib/store/) and of how the HTTP API and the CLI show them (lib/shapes.ts).
 * Pure types and a few constructors; no I/O.
 */
import type { ConfigIssue } from './config.js';
import type { IntegerKind } from './kinds.js';
import type { LabelFilter, Labels } from './labels.js';
import type { AllocationOrder } from './orders.js';
import type { FlaggedRun } from './runs.js';
import type { ConfigResultJson } from './shapes.js';
import type { Parsed, PoolType, ValueSpace } from './values.js';

/** A request's value, parsed once the pool's type (and a prefix pool's delegate length) is known: the store reads the pool first. */
export type ValueInput = (space: ValueSpace) => Parsed<bigint>;

/** A block's size in values (a power of two), read once the pool's space is known (a /24 is 256 values of an IPv4 pool). */
export type SizeInput = (space: ValueSpace) => Parsed<bigint>;

/** What an allocation asks for. The owner is the idempotency key: one allocation per (pool, owner). */
export interface AllocationRequest {
  pool: string;
  owner: string;
  /** That exact value (a block's first value); otherwise one is chosen. */
  value?: ValueInput;
  /** An aligned block of this many values instead of one value. */
  size?: SizeInput;
  /** Set when the allocation is made; a retry answers the labels held, whatever it sends. */
  labels?: Labels;
  /** Who asks: the caller's IAM principal behind API Gateway, "local" on the local stack. */
  by?: string;
  /** A lease (lib/leases.ts): released by the service once it runs out. A retry answers the lease held; it does not renew. */
  leaseSeconds?: number;
}

/**
 * A change of what an owner holds: a JSON merge patch of its labels (RFC 7396: null removes a key),
 * a lease renewed from now (or turned on), or both.
 */
export interface RelabelRequest {
  pool: string;
  owner: string;
  patch?: Readonly<Record<string, string | null>>;
  leaseSeconds?: number;
  /** Who asks, recorded in history. */
  by?: string;
}

export interface ListRequest {
  limit: number;
  /** A cursor from a previous page. */
  after?: string;
  /** Only allocations carrying every one of these labels. */
  labels?: readonly LabelFilter[];
}

/** What a release names: the owner's holding, or a value that the owner must hold. */
export interface ReleaseRequest {
  pool: string;
  owner: string;
  value?: ValueInput;
  /** Who asks, recorded in history. */
  by?: string;
}

/** One value, or one aligned block of values, held by an owner. */
export interface Allocation {
  pool: string;
  type: PoolType;
  /** Prefix pools: the length of every value. */
  delegate?: number;
  /** The first value held. */
  value: bigint;
  /** How many values are held from `value` on: 1 for a single value. */
  size: number;
  owner: string;
  allocatedAt: string;
  labels: Labels;
  /** Who allocated it, when known. */
  allocatedBy?: string;
  /** When its lease runs out (ISO time), if it has one. */
  expiresAt?: string;
}

/** What happened to an allocation; `expired` is recorded by the lease sweeper, `imported` and `repaired` by pool lifecycle operations. */
export type HistoryEvent = 'allocated' | 'released' | 'labels_changed' | 'expired' | 'imported' | 'repaired';

/** One thing that happened to an allocation, kept for a site's retention period. */
export interface HistoryEntry {
  pool: string;
  type: PoolType;
  delegate?: number;
  value: bigint;
  size: number;
  owner: string;
  event: HistoryEvent;
  at: string;
  /** The caller: an IAM principal ARN, "local", "startup" or "config-sync"; "unknown" when nobody said. */
  by: string;
  /** The id of the request that did it (one id for every item of a batch). */
  requestId: string;
  /** The labels the allocation carried after the event. */
  labels: Labels;
}

/** Which history to read, newest first. */
export interface HistoryQuery {
  pool: string;
  /** Only entries about this value (any value of a block names the block). */
  value?: ValueInput;
  /** Only entries about this owner's allocations in the pool. */
  owner?: string;
  /** ISO times, inclusive. */
  since?: string;
  until?: string;
  limit: number;
  after?: string;
}

export interface HistoryPage {
  entries: HistoryEntry[];
  next?: string;
}

export interface Allocated {
  allocation: Allocation;
  /** False when the owner already held it: the idempotent retry (HTTP 200 instead of 201). */
  created: boolean;
}

/** The most items one batch (of allocations or of releases) may hold. */
export const MAX_BATCH_ITEMS = 25;

/** What a batch of allocations answers: every item held as asked, in item order. */
export interface BatchAllocated {
  allocations: Allocation[];
  /** False when every item was already held as asked (a retried batch: HTTP 200 instead of 201). */
  created: boolean;
}

/** One item of a batch of releases: what the owner holds in the pool. */
export interface BatchReleaseItem {
  pool: string;
  owner: string;
}

/** What a batch of releases answers per item, in item order. */
export interface BatchReleased {
  pool: string;
  owner: string;
  /** False when the owner held nothing there: that fails nothing. */
  released: boolean;
  /** What was released. */
  allocation?: Allocation;
}

/** The most items one import takes: a NICo pool of 250,000 values is 250 calls. */
export const MAX_IMPORT_ITEMS = 1000;

/** What an import did (or would do, in a dry run). */
export interface ImportResult {
  imported: number;
  /** Items the same owner already held as given. */
  unchanged: number;
}

/** A pool's definition and exact counts; lib/shapes.ts turns it into the contract's Pool. */
export interface PoolCounts {
  name: string;
  type: PoolType;
  /** Prefix pools: the length of every value. */
  delegate?: number;
  /** Integer pools: what the numbers are. */
  kind?: IntegerKind;
  /** The namespace its values are unique in; absent for the family's default. */
  scope?: string;
  /** Absent means random, as for a pool registered before orders existed. */
  order?: AllocationOrder;
  size: number;
  used: number;
  autoAssignSize: number;
  autoAssignUsed: number;
  runs: readonly FlaggedRun[];
  /** The largest block one allocation may ask for. */
  maxBlockSize: number;
  /** Refuses new allocations: disabled, or being deleted. */
  disabled: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface AllocationPage {
  allocations: Allocation[];
  /** Where the next page starts; absent on the last page. */
  next?: string;
}

export interface SyncObject {
  bucket: string;
  key: string;
  version_id: string | null;
  etag: string | null;
}

/** One application of a pool file, applied or rejected, as `GET /v1/config/syncs` lists it. */
export interface SyncRecord {
  id: string;
  source: 's3' | 'http' | 'startup';
  status: 'applied' | 'rejected';
  object?: SyncObject;
  at: string;
  result?: ConfigResultJson;
  errors?: ConfigIssue[];
}

export interface PoolCheck {
  name: string;
  ok: boolean;
  size: number;
  /** Values marked allocated in the chunks this call read. */
  used: number;
  /** Allocation records this call read. */
  allocations: number;
  /** Disagreements that persisted when the items involved were read again. */
  problems: string[];
}

export interface CheckReport {
  ok: boolean;
  pools: PoolCheck[];
  /** Continues a check that did not fit in one call; null when it is complete. */
  next_cursor: string | null;
}
