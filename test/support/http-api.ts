/**
 * The HTTP API in-process (docs/API.md): the application on a fresh table of pools the tests of
 * test/http/api-*.test.ts share, requests to it, and checks of the contract's answers.
 */
import { expect } from 'vitest';
import type * as z from 'zod';
import { createApp } from '../../functions/http/app.js';
import { STATUS_OF } from '../../functions/http/errors.js';
import * as schemas from '../../functions/http/schemas.js';
import type { PoolError } from '../../lib/errors.js';
import { freshStore, register } from './store.js';

export const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 2024500, end = 2024510 }, { start = "0x2000000", end = "0x2000002", auto_assign = false }]

[pools.lo]
type = "ipv4"
prefix = "10.0.0.0/29"

[pools.v6]
type = "ipv6"
prefix = "2001:db8::/125"
exclude = ["2001:db8::1"]

[pools.tiny]
type = "integer"
ranges = [{ start = 10, end = 12 }]

[pools.paged]
type = "integer"
ranges = [{ start = 100, end = 120 }]

# Never handed out at random, so explicit values in tests cannot collide with random ones.
[pools.fixed]
type = "ipv4"
auto_assign = false
ranges = [{ start = "10.1.0.1", end = "10.1.0.9" }]
`;

export type App = ReturnType<typeof createApp>;

export interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

export async function call(app: App, method: string, path: string, init: { json?: unknown; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
  const headers = init.json !== undefined ? { 'content-type': 'application/json', ...init.headers } : init.headers;
  const res = await app.request(path, { method, body, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Checks the contract's error shape and answers the error for further checks. */
export function expectError(answer: Answer, code: PoolError['code']): { code: string; message: string; details?: unknown } {
  expect({ status: answer.status, code: (answer.body as { error?: { code?: string } })?.error?.code }).toEqual({ status: STATUS_OF[code], code });
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  const { error } = schemas.ErrorBody.parse(answer.body);
  expect(error.message.length).toBeGreaterThan(10);
  return error;
}

export function parsed<S extends z.ZodType>(schema: S, answer: Answer, status: number): z.output<S> {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  return schema.parse(answer.body);
}

export function capturingLogger() {
  const lines: { level: string; message: string; extra: Record<string, unknown>[] }[] = [];
  return {
    lines,
    error: (message: string, ...extra: Record<string, unknown>[]) => lines.push({ level: 'error', message, extra }),
    warn: (message: string, ...extra: Record<string, unknown>[]) => lines.push({ level: 'warn', message, extra }),
  };
}

export const allocate = (app: App, pool: string, json: unknown) => call(app, 'POST', `/v1/pools/${pool}/allocations`, { json });

/** The application on a fresh table with these pools (POOLS unless told) registered: each test file makes one and its tests share it. */
export async function poolsApp(pools = POOLS): Promise<App> {
  const store = await freshStore();
  await register(store, pools);
  return createApp({ store, maxPoolSize: 250_000, logger: capturingLogger() });
}
