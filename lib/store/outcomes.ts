/**
 * What a failed DynamoDB request means, decided from the error alone. Pure: the SDK's error shapes
 * in, a verdict out, so every rule here is unit-tested without DynamoDB.
 */

/**
 * - `throttled`, `contention`: rejected before anything was written; safe to retry.
 * - `ambiguous`: the request may have been applied (a timeout, a reset connection, a server error).
 * - `fatal`: a bug or a request DynamoDB will never accept; retrying cannot help.
 */
export type Failure = 'throttled' | 'contention' | 'ambiguous' | 'fatal';

const THROTTLING = new Set(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded', 'LimitExceededException']);
const CONTENTION = new Set(['TransactionConflictException', 'TransactionInProgressException']);
const LOST = new Set(['TimeoutError', 'AbortError', 'RequestTimeout', 'RequestTimeoutException', 'InternalServerError', 'ServiceUnavailable']);

export function classifyError(e: unknown): Failure {
  const name = (e as { name?: string } | undefined)?.name ?? '';
  const fault = (e as { $fault?: string } | undefined)?.$fault;
  if (THROTTLING.has(name)) return 'throttled';
  if (CONTENTION.has(name)) return 'contention';
  if (LOST.has(name) || fault === 'server') return 'ambiguous';
  if (/ECONN|EPIPE|ETIMEDOUT|socket|network|aborted/i.test(String((e as Error | undefined)?.message ?? ''))) return 'ambiguous';
  return 'fatal';
}

export interface Reason {
  Code?: string;
  Item?: unknown;
}

/**
 * A cancelled transaction, per DynamoDB's cancellation reasons (one per item, in order):
 * - `conflict`: a condition failed; the reasons carry the items as they now stand;
 * - `throttled` / `contention`: throttling, or another transaction held an item (real DynamoDB only):
 *   nothing was written, choose again and retry;
 * - `fatal`: a validation error (an item over 400 KB, a bad expression): never retried, never
 *   mistaken for contention.
 */
export function classifyCancellation(reasons: readonly Reason[]): 'conflict' | 'throttled' | 'contention' | 'fatal' {
  const codes = reasons.map((r) => r.Code ?? 'None');
  if (codes.includes('ValidationError')) return 'fatal';
  if (codes.includes('ConditionalCheckFailed')) return 'conflict';
  if (codes.some((c) => c === 'ThrottlingError' || c === 'ProvisionedThroughputExceeded' || c === 'RequestLimitExceeded')) return 'throttled';
  if (codes.some((c) => c === 'TransactionConflict')) return 'contention';
  if (codes.some((c) => c !== 'None')) return 'fatal';
  return 'contention';
}
