/**
 * Errors on the wire: every failure is `{"error":{"code","message","details"?}}` with the status of
 * the contract's table (docs/API.md, Error codes), mapped from the typed PoolError codes here and nowhere else.
 */
import type { Context } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type * as z from 'zod';
import { type ErrorCode, PoolError } from '../../lib/errors.js';
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

/** A rejected request part as INVALID_ARGUMENT, naming each field and what it accepts. */
export function invalidArgument(part: RequestPart, error: z.core.$ZodError): PoolError {
  const details = error.issues.map((issue) => ({ path: [part, ...issue.path.map(String)].join('.'), message: issue.message }));
  return new PoolError('INVALID_ARGUMENT', details.map((d) => `${d.path}: ${d.message}`).join('; '), { details });
}
