/**
 * The store: pools, chunked free bitmaps and allocation records in one DynamoDB table
 * (lib/store/README.md). Concurrency is settled by DynamoDB conditions alone: every change is one
 * transaction whose conditions fail if anything it read has moved, and a failed condition is retried
 * with jittered backoff, within a time budget. Nothing is shared between containers, so any number of
 * Lambda instances can run this at once.
 *
 * PoolStore is the small interface the rest of the product uses; each operation lives in its own file.
 */
import type { Allocated, Allocation, AllocationPage, AllocationRequest, BatchAllocated, BatchReleased, BatchReleaseItem, CheckReport, HistoryEntry, ImportResult, HistoryPage, HistoryQuery, ListRequest, PoolCounts, RelabelRequest, ReleaseRequest, SyncRecord, ValueInput } from '../model.js';
import type { Plan } from '../plan.js';
import { allocate } from './allocate.js';
import { allocateBatch } from './batch-allocate.js';
import { releaseBatch } from './batch-release.js';
import { check, type CheckOptions } from './check.js';
import { type ExpiredLeases, expireLeases, type ExpireOptions } from './expire.js';
import { StoreContext, type StoreEvents, type StoreOptions } from './context.js';
import { allPoolCounts, poolCounts } from './counts.js';
import { deletePool } from './delete-pool.js';
import { setDisabled } from './disable.js';
import { REGISTRY_KEY } from './keys.js';
import { findByOwner, findByValue, listAllocations } from './lookup.js';
import { applyPlan, type RegistrationState, registrationState } from './register.js';
import { ownerHoldings } from './owner-holdings.js';
import { relabel } from './relabel.js';
import { readHistory, recordHistory } from './history.js';
import { historyFeed, type TableChange } from './history-feed.js';
import { importAllocations, type ImportItem } from './import.js';
import { release } from './release.js';
import { retire, type RetireRequest, type RetireResult } from './retire.js';
import { repair, type RepairOptions, type RepairReport } from './repair.js';
import { listSyncs, recordSync } from './syncs.js';

export { dynamoClient } from './client.js';
export type { ExpiredLeases, ExpireOptions } from './expire.js';
export { MAX_TRANSACTION_ITEMS } from './batch.js';
export type { ImportItem, RetireRequest, RetireResult };
export { DEFAULT_RETRY, type RetryPolicy } from './pacing.js';
export { RegistryChanged, type RegistrationState } from './register.js';
export type { CheckOptions, RepairOptions, RepairReport, StoreEvents, StoreOptions, TableChange };
export { concernsHistory } from './history-feed.js';

export class PoolStore {
  readonly tableName: string;
  private readonly ctx: StoreContext;

  constructor(options: StoreOptions) {
    this.tableName = options.tableName;
    this.ctx = new StoreContext(options);
  }

  /** Creates the table when missing (local stack and tests; in AWS the CDK app owns it). */
  ensureTable(options: { changeStream?: boolean } = {}): Promise<void> {
    return this.ctx.table.ensure(options);
  }

  /** Liveness: the table answers a read. */
  async health(): Promise<void> {
    await this.ctx.table.get(REGISTRY_KEY, this.ctx.budget(), { consistent: false });
  }

  allocate(req: AllocationRequest): Promise<Allocated> {
    return allocate(this.ctx, req);
  }

  /** Releases what the owner holds (the value named, if any, which it must hold); answers what was released. */
  release(req: ReleaseRequest): Promise<Allocation> {
    return release(this.ctx, req);
  }

  /** 1-25 allocations in one or several pools, all or nothing: every item held as asked, or nothing allocated. */
  allocateBatch(items: readonly AllocationRequest[]): Promise<BatchAllocated> {
    return allocateBatch(this.ctx, items);
  }

  /** Releases 1-25 (pool, owner) holdings in one step; an owner that holds nothing there is `released: false`. */
  releaseBatch(items: readonly BatchReleaseItem[], by?: string): Promise<BatchReleased[]> {
    return releaseBatch(this.ctx, items, by);
  }

  findByOwner(pool: string, owner: string): Promise<Allocation> {
    return findByOwner(this.ctx, pool, owner);
  }

  findByValue(pool: string, value: ValueInput): Promise<Allocation> {
    return findByValue(this.ctx, pool, value);
  }

  allocations(pool: string, opts: ListRequest): Promise<AllocationPage> {
    return listAllocations(this.ctx, pool, opts);
  }

  /** Everything the owner holds, in every pool, by pool name. */
  ownerHoldings(owner: string): Promise<Allocation[]> {
    return ownerHoldings(this.ctx, owner);
  }

  /**
   * Releases allocations whose lease ran out (by `now`, the store's clock unless given), each with an
   * `expired` history entry; a bounded run, which says when it left some for the next.
   */
  expireLeases(opts?: ExpireOptions): Promise<ExpiredLeases> {
    return expireLeases(this.ctx, opts);
  }

  /** Merges a patch into what the owner's allocation carries, and renews its lease; the value and the owner never change. */
  relabel(req: RelabelRequest): Promise<Allocation> {
    return relabel(this.ctx, req);
  }

  /** Newest first: a pool's timeline, or what happened to one value or one owner's allocations in it. */
  history(q: HistoryQuery): Promise<HistoryPage> {
    return readHistory(this.ctx, q);
  }

  /**
   * Turns changes of the table (its stream) into history: writes the entries they call for and
   * answers the entries written meanwhile, to be published as events.
   */
  async recordChanges(changes: readonly TableChange[]): Promise<HistoryEntry[]> {
    const feed = historyFeed(changes);
    await recordHistory(this.ctx, feed.record);
    return feed.publish;
  }

  /** Stops (true) or resumes (false) new allocations in a pool; answers the pool as it now is. */
  setDisabled(pool: string, disabled: boolean): Promise<PoolCounts> {
    return setDisabled(this.ctx, pool, disabled);
  }

  /** Deletes a pool that holds no allocation (else POOL_NOT_EMPTY, and nothing changes). */
  deletePool(pool: string): Promise<void> {
    return deletePool(this.ctx, pool);
  }

  pool(name: string): Promise<PoolCounts> {
    return poolCounts(this.ctx, name);
  }

  pools(): Promise<PoolCounts[]> {
    return allPoolCounts(this.ctx);
  }

  check(opts?: CheckOptions): Promise<CheckReport> {
    return check(this.ctx, opts);
  }

  /** Takes free values out of a pool, only if none of them is held (else VALUE_IN_USE, and nothing changes). */
  retire(req: RetireRequest, opts?: { dryRun?: boolean }): Promise<RetireResult> {
    return retire(this.ctx, req, opts);
  }

  /** Adopts up to 1,000 allocations made outside the service into a pool, all or nothing. */
  importAllocations(pool: string, items: readonly ImportItem[], opts?: { dryRun?: boolean; by?: string }): Promise<ImportResult> {
    return importAllocations(this.ctx, pool, items, opts);
  }

  /** Mends what `check` finds and a second read confirms; with `dryRun`, lists what it would do. */
  repair(opts?: RepairOptions): Promise<RepairReport> {
    return repair(this.ctx, opts);
  }

  /** What is registered, for planning; `deadline` (epoch ms) bounds it with the rest of the registration. */
  registrationState(deadline?: number): Promise<RegistrationState> {
    return registrationState(this.ctx, this.ctx.budget(deadline));
  }

  applyPlan(plan: Plan, state: RegistrationState, sync?: SyncRecord, deadline?: number): Promise<void> {
    return applyPlan(this.ctx, plan, state, sync, this.ctx.budget(deadline));
  }

  /** When an operation started now must be done (epoch ms): what one registration may spend in all. */
  deadline(): number {
    return Date.now() + this.ctx.budgetMs;
  }

  recordSync(sync: SyncRecord): Promise<void> {
    return recordSync(this.ctx, sync);
  }

  syncs(limit = 100): Promise<SyncRecord[]> {
    return listSyncs(this.ctx, limit);
  }
}
