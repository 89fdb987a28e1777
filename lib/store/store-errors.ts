/**
 * The errors the store answers with, as typed values (PoolError with a contract code). Messages say
 * what is wrong in the pool's own terms; they name no HTTP route or CLI command, which the adapters
 * add where they help.
 */
import { PoolError } from '../errors.js';
import { blockLabel, blockName } from '../blocks.js';
import { formatValue, type SpaceLike, showValue, spaceOf } from '../values.js';

export function poolNotFound(pool: string): PoolError {
  return new PoolError('POOL_NOT_FOUND', `no pool named '${pool}'`);
}

/** The pool a call read was deleted and another registered under its name while the call ran. */
export function poolReplaced(pool: string): PoolError {
  return new PoolError('UNAVAILABLE', `pool '${pool}' was deleted and registered again while this call ran; nothing was changed, retry (the retry goes by the new definition)`, {
    retryAfterSeconds: 1,
  });
}

/** A new allocation in a pool that refuses them: disabled, or being deleted. */
export function poolDisabled(pool: string, meta: { deleting?: string }): PoolError {
  if (meta.deleting) return new PoolError('POOL_DISABLED', `pool '${pool}' is being deleted (since ${meta.deleting}) and takes no new allocation; deleting it again finishes the deletion`);
  return new PoolError('POOL_DISABLED', `pool '${pool}' is disabled and takes no new allocation; enable it to allocate again (lookups, releases and imports still work)`);
}

export function poolNotEmpty(pool: string, allocations: number): PoolError {
  const some = allocations === 1 ? '1 allocation' : `${allocations} allocations`;
  return new PoolError('POOL_NOT_EMPTY', `pool '${pool}' holds ${some} and is not deleted; release them first (nothing was changed)`, { details: { allocations } });
}

export function valueNotInPool(pool: string, type: SpaceLike, v: bigint, size = 1): PoolError {
  if (size > 1) return new PoolError('VALUE_NOT_IN_POOL', `the block ${shownBlock(type, v, size)} is not wholly in pool '${pool}'`);
  return new PoolError('VALUE_NOT_IN_POOL', `${showValue(type, v)} is not a value of pool '${pool}'`);
}

export function valueInUse(pool: string, type: SpaceLike, v: bigint, size = 1, taken?: bigint): PoolError {
  if (size > 1) {
    const which = taken === undefined ? 'some of it' : `${showValue(type, taken)}, inside it`;
    return new PoolError('VALUE_IN_USE', `the block ${shownBlock(type, v, size)} in pool '${pool}' is not free: another owner holds ${which}`);
  }
  return new PoolError('VALUE_IN_USE', `${showValue(type, v)} in pool '${pool}' is held by another owner`);
}

/** A block as a message names it: its CIDR, or an integer block's first value and size. */
function shownBlock(type: SpaceLike, v: bigint, size: number): string {
  return spaceOf(type).type === 'integer' ? `of ${size} values from ${v}` : showValue(type, v, size);
}

interface Held {
  value: bigint;
  size: bigint;
}

export function ownerConflict(pool: string, owner: string, type: SpaceLike, held: Held, wanted: { value?: bigint; size: bigint }): PoolError {
  const heldText = held.size === 1n ? showValue(type, held.value) : `the block ${shownBlock(type, held.value, Number(held.size))}`;
  const wantedText = wanted.value !== undefined ? (wanted.size === 1n ? showValue(type, wanted.value) : shownBlock(type, wanted.value, Number(wanted.size))) : wanted.size === 1n ? 'a single value' : `a ${blockLabel(type, wanted.size)} block`;
  return new PoolError('OWNER_CONFLICT', `owner '${owner}' already holds ${heldText} in pool '${pool}', not ${wantedText}; release it first`, {
    details: { held: formatValue(type, held.value, Number(held.size)), size: Number(held.size) },
  });
}

/** A block larger than the pool serves: INVALID_ARGUMENT naming max_block_size. */
export function blockTooLarge(pool: string, type: SpaceLike, size: bigint, largest: bigint): PoolError {
  return new PoolError(
    'INVALID_ARGUMENT',
    `a block of ${blockLabel(type, size)} is larger than pool '${pool}' hands out: its max_block_size is ${largest.toLocaleString('en-US')} (${blockLabel(type, largest)})`,
    { details: { max_block_size: Number(largest) } },
  );
}

/**
 * An explicit block larger than the range it names can hold in one allocation (64 of that range's
 * chunks), although the pool's largest range serves it: the limit here is named, and the pool's.
 */
export function blockTooLargeHere(pool: string, type: SpaceLike, value: bigint, size: bigint, here: bigint, largest: bigint): PoolError {
  return new PoolError(
    'INVALID_ARGUMENT',
    `a block of ${blockLabel(type, size)} at ${showValue(type, value)} is larger than its range of pool '${pool}' hands out: blocks there are at most ${blockLabel(type, here)}; the pool's max_block_size (${largest.toLocaleString('en-US')}) is what its largest range serves`,
    { details: { max_block_size: Number(largest), max_block_size_here: Number(here) } },
  );
}

/** No aligned block of the size asked is free; the message names the largest one that is. */
export function blockExhausted(pool: string, type: SpaceLike, size: bigint, largestFree: bigint): PoolError {
  const name = (n: bigint) => blockName(type, n);
  const largest = largestFree === 0n ? 'no auto-assignable value is free' : largestFree === 1n ? 'only single values are free' : `the largest free block is a ${name(largestFree)}`;
  return new PoolError('RESOURCE_EXHAUSTED', `no free ${name(size)} in ${pool}; ${largest}`, {
    details: { size: Number(size), largest_free_block: Number(largestFree) },
  });
}

export function ownerHoldsNothing(pool: string, owner: string): PoolError {
  return new PoolError('NOT_ALLOCATED', `owner '${owner}' holds nothing in pool '${pool}'`);
}

/** The allocation a lease renewal read was released meanwhile (its lease ran out, or it was released). */
export function leaseGone(pool: string, owner: string): PoolError {
  return new PoolError('NOT_ALLOCATED', `what owner '${owner}' held in pool '${pool}' was released while this renewal was sent (its lease ran out, or it was released); nothing was renewed`);
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
 * Whether an error stops an operation short of a verdict (a read that failed, the budget, a bug), as
 * opposed to an answer decided on what was read (VALUE_IN_USE…): once a write may have landed unheard,
 * such an error is settled by reading what landed.
 */
export function undecided(e: unknown): boolean {
  return !(e instanceof PoolError) || e.code === 'UNAVAILABLE' || e.code === 'INTERNAL';
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

/** A batch of no item, or of more than `max`. */
export function batchSize(items: number, max: number): PoolError {
  return new PoolError('INVALID_ARGUMENT', `a batch holds 1 to ${max} items; got ${items}${items > max ? ': split it into smaller batches' : ''}`);
}

/** The same (pool, owner) as an earlier item: one item per (pool, owner), as one allocation per (pool, owner). */
export function sameItemTwice(pool: string, owner: string, earlier: number): PoolError {
  return new PoolError('INVALID_ARGUMENT', `pool '${pool}' and owner '${owner}' are already item ${earlier} of this batch; a batch names each (pool, owner) once`);
}

/** What one transaction cannot hold: DynamoDB takes at most `max` items in one. */
export function transactionTooLarge(items: number, max: number): PoolError {
  return new PoolError('INVALID_ARGUMENT', `the batch would write ${items} items and one transaction takes ${max}: split it into smaller batches (blocks that span many chunks write one item per chunk)`, {
    details: { items, max_items: max },
  });
}
