/**
 * The errors the store answers with, as typed values (PoolError with a contract code). Messages say
 * what is wrong in the pool's own terms; they name no HTTP route or CLI command, which the adapters
 * add where they help.
 */
import { PoolError } from '../errors.js';
import { formatValue, type SpaceLike, showValue } from '../values.js';

export function poolNotFound(pool: string): PoolError {
  return new PoolError('POOL_NOT_FOUND', `no pool named '${pool}'`);
}

export function valueNotInPool(pool: string, type: SpaceLike, v: bigint): PoolError {
  return new PoolError('VALUE_NOT_IN_POOL', `${showValue(type, v)} is not a value of pool '${pool}'`);
}

export function valueInUse(pool: string, type: SpaceLike, v: bigint): PoolError {
  return new PoolError('VALUE_IN_USE', `${showValue(type, v)} in pool '${pool}' is held by another owner`);
}

export function ownerConflict(pool: string, owner: string, type: SpaceLike, held: bigint, wanted: bigint): PoolError {
  return new PoolError(
    'OWNER_CONFLICT',
    `owner '${owner}' already holds ${showValue(type, held)} in pool '${pool}', not ${showValue(type, wanted)}; release it first`,
    { details: { held: formatValue(type, held) } },
  );
}

export function ownerHoldsNothing(pool: string, owner: string): PoolError {
  return new PoolError('NOT_ALLOCATED', `owner '${owner}' holds nothing in pool '${pool}'`);
}

export function valueNotAllocated(pool: string, type: SpaceLike, v: bigint): PoolError {
  return new PoolError('NOT_ALLOCATED', `${showValue(type, v)} in pool '${pool}' is not allocated`);
}

export function ownerMismatch(pool: string, owner: string, type: SpaceLike, v: bigint): PoolError {
  return new PoolError('OWNER_MISMATCH', `${showValue(type, v)} in pool '${pool}' is not held by '${owner}'; only its owner may release it`);
}

export function exhausted(pool: string, counts: { size: number; used: number; autoAssignSize: number }): PoolError {
  const { size, used, autoAssignSize } = counts;
  return new PoolError(
    'RESOURCE_EXHAUSTED',
    `pool '${pool}' has no free auto-assignable value: ${autoAssignSize} of ${autoAssignSize} in use (${used} of ${size} values in the pool); grow the pool or release values`,
    { details: { size, used, auto_assign_size: autoAssignSize, auto_assign_free: 0 } },
  );
}

/** Nothing was changed; a retry with the same owner is safe whatever happened (the owner is the idempotency key). */
export function unavailable(what: string, cause?: unknown): PoolError {
  return new PoolError('UNAVAILABLE', `${what} did not complete in time (contention, throttling or a slow DynamoDB); nothing was changed, retry shortly`, {
    retryAfterSeconds: 1,
    cause,
  });
}

/**
 * A write was sent, its answer lost, and DynamoDB could not be asked whether it landed: the caller is
 * told so, with what the same request again answers either way (it is safe to repeat).
 */
export function outcomeUnknown(what: string, retryAnswers: string, cause?: unknown): PoolError {
  return new PoolError('UNAVAILABLE', `${what} may or may not have landed (DynamoDB did not answer in time); retry shortly: the same request again ${retryAnswers}`, {
    retryAfterSeconds: 1,
    cause,
  });
}
