/**
 * Sending a transaction and saying how it ended. When its answer is lost (a timeout, a dropped
 * connection, a server error) the very same transaction is sent again with the same client token:
 * DynamoDB answers success without writing twice if the first one landed, so `ok` and `conflict`
 * are always definite. `unknown` is left only when every replay was lost too; the caller then asks
 * the table (the allocation record says) before it answers.
 */
import { randomUUID } from 'node:crypto';
import { TransactionCanceledException } from '@aws-sdk/client-dynamodb';
import type { Native } from './keys.js';
import { classifyCancellation, classifyError } from './outcomes.js';
import { type Budget, jitter, type RetryPolicy, sleep } from './pacing.js';
import type { Table } from './table.js';
import type { Write } from './writes.js';

export type TxOutcome =
  | { kind: 'ok' }
  /**
   * A condition failed: per transaction item, in order, the item as it now stands (undefined: absent),
   * or null where the condition held. `maybeLanded`: an earlier send's answer was lost; with client
   * tokens that send cannot have landed, but callers do not rely on it.
   */
  | { kind: 'conflict'; items: (Native | undefined | null)[]; maybeLanded: boolean }
  /** Rejected before anything was written (throttling, a transaction conflict): choose again and retry. */
  | { kind: 'busy' }
  /** Every answer was lost: it may or may not have landed. */
  | { kind: 'unknown' };

/** How often a transaction whose answer was lost is sent again, with the same client token. */
const MAX_REPLAYS = 5;

export interface TransactDeps {
  table: Table;
  retry: RetryPolicy;
  random: () => number;
  onRetry(reason: 'throttled' | 'contention' | 'ambiguous'): void;
}

export async function transact(deps: TransactDeps, writes: readonly Write[], budget: Budget): Promise<TxOutcome> {
  const token = randomUUID();
  /** A send of this transaction may have landed: from then on only a definite answer will do. */
  let uncertain = false;
  for (let replay = 0; ; replay++) {
    try {
      await deps.table.transact(writes, token, budget);
      return { kind: 'ok' };
    } catch (e) {
      let rejected: 'throttled' | 'contention' | undefined;
      if (e instanceof TransactionCanceledException) {
        const reasons = e.CancellationReasons ?? [];
        const verdict = classifyCancellation(reasons);
        if (verdict === 'fatal') throw e;
        if (verdict === 'conflict') {
          deps.onRetry('contention');
          const items = reasons.map((r) => (r.Code !== 'ConditionalCheckFailed' ? null : r.Item ? deps.table.fromAttributes(r.Item) : undefined));
          return { kind: 'conflict', items, maybeLanded: uncertain };
        }
        rejected = verdict;
      } else {
        const kind = classifyError(e);
        if (kind === 'fatal') throw e;
        if (kind === 'ambiguous') uncertain = true;
        else rejected = kind;
      }
      deps.onRetry(rejected ?? 'ambiguous');
      if (rejected && !uncertain) return { kind: 'busy' };
      if (replay >= MAX_REPLAYS || !budget.open()) return { kind: 'unknown' };
      await sleep(Math.min(jitter(deps.retry, replay + 1, deps.random), budget.remaining()));
    }
  }
}
