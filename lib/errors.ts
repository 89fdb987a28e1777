/**
 * Errors as typed values. Every failure a caller can act on carries one of the contract's codes
 * (docs/API.md, Error codes); adapters map codes to their transport (HTTP status, CLI exit code).
 */
import type { ConfigIssue } from './config.js';

export const ERROR_CODES = [
  'INVALID_ARGUMENT',
  'INVALID_CONFIG',
  'VALUE_NOT_IN_POOL',
  'POOL_NOT_FOUND',
  'NOT_FOUND',
  'METHOD_NOT_ALLOWED',
  'NOT_ALLOCATED',
  'RESOURCE_EXHAUSTED',
  'VALUE_IN_USE',
  'OWNER_CONFLICT',
  'OWNER_MISMATCH',
  'POOL_DISABLED',
  'POOL_NOT_EMPTY',
  'PAYLOAD_TOO_LARGE',
  'UNAVAILABLE',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export class PoolError extends Error {
  readonly code: ErrorCode;
  readonly details?: unknown;
  /** For UNAVAILABLE: when a retry makes sense. */
  readonly retryAfterSeconds?: number;

  constructor(code: ErrorCode, message: string, opts: { details?: unknown; retryAfterSeconds?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'PoolError';
    this.code = code;
    this.details = opts.details;
    this.retryAfterSeconds = opts.retryAfterSeconds;
  }
}

/** An answer lists every problem up to this many, then counts the rest: a 1 MiB file can hold tens of thousands. */
export const MAX_LISTED_ISSUES = 1000;

export function invalidConfig(errors: ConfigIssue[]): PoolError {
  const first = errors[0];
  const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
  const details =
    errors.length <= MAX_LISTED_ISSUES
      ? errors
      : [...errors.slice(0, MAX_LISTED_ISSUES), { path: '(more)', message: `${errors.length - MAX_LISTED_ISSUES} more errors not listed` }];
  return new PoolError('INVALID_CONFIG', `the pool file is rejected: ${first ? `${first.path}: ${first.message}` : 'no detail'}${more}`, { details });
}

export function isPoolError(e: unknown, code?: ErrorCode): e is PoolError {
  return e instanceof PoolError && (code === undefined || e.code === code);
}

/** One item of a batch that failed, by its place in the batch (0 first). */
export interface ItemFailure {
  index: number;
  error: PoolError;
}

/**
 * A batch that changed nothing because some of its items failed: the code (so the HTTP status) of
 * the failure of the lowest index, and every failure found in `details` as {index, code, message}.
 */
export function batchFailed(failures: readonly ItemFailure[], nothing: 'nothing was allocated' | 'nothing was released' | 'nothing was imported'): PoolError {
  const sorted = [...failures].sort((a, b) => a.index - b.index);
  const [first, ...rest] = sorted;
  const more = rest.length === 0 ? '' : ` (${rest.length} more item${rest.length === 1 ? '' : 's'} failed: ${rest.map((f) => f.index).join(', ')})`;
  return new PoolError(first.error.code, `item ${first.index} of the batch: ${first.error.message}${more}; ${nothing}`, {
    details: sorted.map((f) => ({ index: f.index, code: f.error.code, message: f.error.message })),
    retryAfterSeconds: first.error.retryAfterSeconds,
  });
}
