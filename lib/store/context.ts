/**
 * What every store operation works with: the table, the options, the clock and randomness, what the
 * store reports as it works (StoreEvents), and the per-container cache of pool layouts. One context
 * per PoolStore; nothing in it is shared between containers, and nothing cached is trusted without a
 * fresh read in the same call.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { IntentStatus } from './items.js';
import { Budget, DEFAULT_BUDGET_MS, DEFAULT_RETRY, type RetryPolicy } from './pacing.js';
import { PoolCache } from './pool-cache.js';
import { Table } from './table.js';
import { transact, type TxOutcome } from './transact.js';
import { TARGET_CHUNKS_PER_SEGMENT } from './layout.js';
import type { Write } from './writes.js';
import type { SyncRecord } from '../model.js';
import { DEFAULT_HISTORY_DAYS } from '../history.js';

/** What the store reports as it works; the Lambda adapters turn these into metrics. */
export interface StoreEvents {
  retry?(reason: 'contention' | 'throttled' | 'ambiguous'): void;
  exhausted?(pool: string): void;
  /** A new allocation (not an idempotent retry), and how long it took. */
  allocated?(pool: string, ms: number): void;
  released?(pool: string): void;
  /** A config sync was recorded: a pool file applied, or rejected. */
  synced?(sync: SyncRecord): void;
}

export interface StoreOptions {
  /** Best made with `dynamoClient` (lib/store/client.ts), which sets timeouts and leaves retries to the store. */
  readonly client: DynamoDBClient;
  readonly tableName: string;
  /** @default DEFAULT_RETRY */
  readonly retry?: Partial<RetryPolicy>;
  readonly events?: StoreEvents;
  /** @default () => new Date() */
  readonly now?: () => Date;
  /** @default Math.random */
  readonly random?: () => number;
  /** How long one operation may take in all, in milliseconds. @default DEFAULT_BUDGET_MS */
  readonly budgetMs?: number;
  /** How long history entries are kept, in days. @default DEFAULT_HISTORY_DAYS */
  readonly historyDays?: number;
  /** How many chunks a new segment is cut into (within chunk size limits); for benchmarks. @default TARGET_CHUNKS_PER_SEGMENT */
  readonly targetChunksPerSegment?: number;
}

export class StoreContext {
  readonly table: Table;
  readonly retry: RetryPolicy;
  readonly events: StoreEvents;
  readonly now: () => Date;
  readonly random: () => number;
  readonly targetChunks: number;
  readonly cache = new PoolCache();
  /** Statuses of registration intents already seen committed or aborted: those never change again. */
  readonly settledIntents = new Map<string, IntentStatus>();
  readonly budgetMs: number;
  readonly historyDays: number;

  constructor(options: StoreOptions) {
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.events = options.events ?? {};
    this.now = options.now ?? (() => new Date());
    this.random = options.random ?? Math.random;
    this.targetChunks = options.targetChunksPerSegment ?? TARGET_CHUNKS_PER_SEGMENT;
    this.budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
    this.historyDays = options.historyDays ?? DEFAULT_HISTORY_DAYS;
    this.table = new Table(options.client, options.tableName, this.retry, this.random, (reason) => this.events.retry?.(reason));
  }

  /** A budget for one operation, or for part of one that must be done by `deadline` (epoch ms). */
  budget(deadline?: number): Budget {
    return deadline === undefined ? Budget.of(this.budgetMs) : new Budget(deadline);
  }

  tx(writes: readonly Write[], budget: Budget): Promise<TxOutcome> {
    return transact({ table: this.table, retry: this.retry, random: this.random, onRetry: (r) => this.events.retry?.(r) }, writes, budget);
  }

  isoNow(): string {
    return this.now().toISOString();
  }
}

