/**
 * Errors on the wire: every failure is `{"error":{"code","message","details"?}}` with the status of
 * the contract's table (docs/API.md, Error codes), mapped from the typed PoolError codes here and nowhere else.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type * as z from 'zod';
import { batchFailed, type ErrorCode, PoolError } from '../../lib/errors.js';
import { clip } from '../../lib/values.js';

export const STATUS_OF: Readonly<Record<ErrorCode, ContentfulStatusCode>> = {
  INVALID_ARGUMENT: 400,
  INVALID_CONFIG: 400,
  VALUE_NOT_IN_POOL: 400,
  POOL_NOT_FOUND: 404,
  NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  NOT_ALLOCATED: 404,
  RESOURCE_EXHAUSTED: 409,
  VALUE_IN_USE: 409,
  OWNER_CONFLICT: 409,
  OWNER_MISMATCH: 409,
  POOL_DISABLED: 409,
  POOL_NOT_EMPTY: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNAVAILABLE: 503,
  INTERNAL: 500,
};

export interface ErrorJson {
  error: { code: ErrorCode; message: string; details?: unknown };
}

/** No message needs more; a longer one quotes too much of its input. */
const MAX_MESSAGE_CHARS = 4096;

export function errorJson(e: PoolError): ErrorJson {
  return { error: { code: e.code, message: clip(e.message, MAX_MESSAGE_CHARS), ...(e.details === undefined ? {} : { details: e.details }) } };
}

export function errorResponse(c: Context, e: PoolError, headers: Record<string, string> = {}): Response {
  if (e.code === 'UNAVAILABLE') headers = { ...headers, 'Retry-After': String(Math.max(1, Math.ceil(e.retryAfterSeconds ?? 1))) };
  return c.json(errorJson(e), STATUS_OF[e.code], headers);
}

/** Where in the request a problem is: `body.owner`, `query.limit`, `path.value`. */
export type RequestPart = 'path' | 'query' | 'body';

/** A field as messages name it: `body.labels.site`, a list's element by its index: `allocations[3].owner`. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : `${i === 0 ? '' : '.'}${String(p)}`)).join('');
}

/** A rejected request part as INVALID_ARGUMENT, naming each field and what it accepts. */
export function invalidArgument(part: RequestPart, error: z.core.$ZodError): PoolError {
  const details = error.issues.map((issue) => ({ path: fieldPath([part, ...issue.path]), message: issue.message }));
  return new PoolError('INVALID_ARGUMENT', details.map((d) => `${d.path}: ${d.message}`).join('; '), { details });
}

/**
 * A rejected batch body (its list named `list`): when every problem lies in items, as the store
 * answers a batch, one `{index, code, message}` per item in `details`, each message naming the field
 * with its index (`allocations[3].owner: …`); otherwise (no list, too many items) as any body.
 */
export function invalidBatch(list: string, nothing: 'nothing was allocated' | 'nothing was released' | 'nothing was imported') {
  return (error: z.core.$ZodError): PoolError => {
    const inItem = (path: readonly PropertyKey[]) => path[0] === list && typeof path[1] === 'number';
    if (!error.issues.every((issue) => inItem(issue.path))) return invalidArgument('body', error);
    const byItem = new Map<number, string[]>();
    for (const issue of error.issues) {
      const index = issue.path[1] as number;
      byItem.set(index, [...(byItem.get(index) ?? []), `${fieldPath(issue.path)}: ${issue.message}`]);
    }
    return batchFailed(
      [...byItem].map(([index, messages]) => ({ index, error: new PoolError('INVALID_ARGUMENT', messages.join('; ')) })),
      nothing,
    );
  };
}
