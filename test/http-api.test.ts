// The HTTP API of SPEC section 2, route by route, through the application in-process against
// DynamoDB Local: statuses, bodies, error codes and their check order.
import type { Context } from 'aws-lambda';
import { beforeAll, describe, expect, test, vi } from 'vitest';
import type * as z from 'zod';
import { createApiHandler } from '../functions/api.js';
import { createApp, MAX_BODY_BYTES } from '../functions/http/app.js';
import { STATUS_OF } from '../functions/http/errors.js';
import { routes } from '../functions/http/routes.js';
import * as schemas from '../functions/http/schemas.js';
import { PoolError } from '../lib/errors.js';
import type { PoolStore } from '../lib/store/index.js';
import { Metric } from '../lib/telemetry.js';
import { freshStore, register, testClient } from './support/store.js';

const POOLS = `
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

type App = ReturnType<typeof createApp>;

interface Answer {
  status: number;
  headers: Headers;
  body: unknown;
}

async function call(app: App, method: string, path: string, init: { json?: unknown; body?: string; headers?: Record<string, string> } = {}): Promise<Answer> {
  const body = init.json !== undefined ? JSON.stringify(init.json) : init.body;
  const headers = init.json !== undefined ? { 'content-type': 'application/json', ...init.headers } : init.headers;
  const res = await app.request(path, { method, body, headers });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

/** Checks the contract's error shape and answers the error for further checks. */
function expectError(answer: Answer, code: PoolError['code']): { code: string; message: string; details?: unknown } {
  expect({ status: answer.status, code: (answer.body as { error?: { code?: string } })?.error?.code }).toEqual({ status: STATUS_OF[code], code });
  expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
  const { error } = schemas.ErrorBody.parse(answer.body);
  expect(error.message.length).toBeGreaterThan(10);
  return error;
}

function parsed<S extends z.ZodType>(schema: S, answer: Answer, status: number): z.output<S> {
  expect(answer.status, JSON.stringify(answer.body)).toBe(status);
  return schema.parse(answer.body);
}

function capturingLogger() {
  const lines: { level: string; message: string; extra: Record<string, unknown>[] }[] = [];
  return {
    lines,
    error: (message: string, ...extra: Record<string, unknown>[]) => lines.push({ level: 'error', message, extra }),
    warn: (message: string, ...extra: Record<string, unknown>[]) => lines.push({ level: 'warn', message, extra }),
  };
}

const allocate = (app: App, pool: string, json: unknown) => call(app, 'POST', `/v1/pools/${pool}/allocations`, { json });

describe('HTTP API on DynamoDB Local', () => {
  let store: PoolStore;
  let app: App;
  const logger = capturingLogger();

  beforeAll(async () => {
    store = await freshStore();
    await register(store, POOLS);
    app = createApp({ store, maxPoolSize: 250_000, logger });
  });

  test('GET /v1/health answers ok', async () => {
    expect(parsed(schemas.Health, await call(app, 'GET', '/v1/health'), 200)).toEqual({ status: 'ok' });
  });

  test('GET /v1/pools lists every pool by name with its counts and ranges', async () => {
    const { pools } = parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200);
    expect(pools.map((p) => p.name)).toEqual(['fixed', 'lo', 'paged', 'tiny', 'v6', 'vni']);
    const vni = pools.find((p) => p.name === 'vni');
    expect(vni).toMatchObject({
      type: 'integer',
      size: 12,
      auto_assign_free: 10,
      min: 2024500,
      max: 0x2000001,
      ranges: [
        { start: 2024500, end: 2024510, auto_assign: true, size: 10 },
        { start: 0x2000000, end: 0x2000002, auto_assign: false, size: 2 },
      ],
    });
    expect(pools.find((p) => p.name === 'v6')).toMatchObject({ type: 'ipv6', size: 6, min: '2001:db8::2', max: '2001:db8::7' });
    expect(pools.find((p) => p.name === 'lo')).toMatchObject({ type: 'ipv4', size: 6, min: '10.0.0.1', max: '10.0.0.6' });
  });

  test('GET /v1/pools/{pool} answers one pool; unknown and impossible names are POOL_NOT_FOUND', async () => {
    const lo = parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/lo'), 200);
    expect(lo).toMatchObject({ name: 'lo', size: 6, free: lo.size - lo.used });
    expect(expectError(await call(app, 'GET', '/v1/pools/nope'), 'POOL_NOT_FOUND').message).toContain('nope');
    for (const name of ['bad%20name', '-dash-first', 'x'.repeat(65), 'a%2Fb', '%F0%9F%98%80']) {
      expectError(await call(app, 'GET', `/v1/pools/${name}`), 'POOL_NOT_FOUND');
    }
    expectError(await call(app, 'GET', `/v1/pools/${'p'.repeat(5000)}`), 'POOL_NOT_FOUND');
  });

  describe('POST /v1/pools/{pool}/allocations', () => {
    test('allocates a random auto_assign value with 201, and a retry by the same owner answers 200 with it', async () => {
      const first = await allocate(app, 'vni', { owner: 'vpc-1' });
      const made = parsed(schemas.Allocation, first, 201);
      expect(made.pool).toBe('vni');
      expect(made.owner).toBe('vpc-1');
      expect(typeof made.value).toBe('number');
      expect(made.value).toBeGreaterThanOrEqual(2024500);
      expect(made.value).toBeLessThan(2024510);
      expect(first.headers.get('location')).toBe(`/v1/pools/vni/allocations/${made.value}`);
      for (let i = 0; i < 3; i++) expect(parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'vpc-1' }), 200)).toEqual(made);
      // The retry may also name the value it got.
      expect(parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'vpc-1', value: made.value }), 200)).toEqual(made);
      expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/vni'), 200).used).toBe(1);
    });

    test('IP pools take and answer strings; IPv6 in RFC 5952 form', async () => {
      const v4 = parsed(schemas.Allocation, await allocate(app, 'lo', { owner: 'dpu-1' }), 201);
      expect(v4.value).toMatch(/^10\.0\.0\.[1-6]$/);
      const v6 = parsed(schemas.Allocation, await allocate(app, 'v6', { owner: 'vtep-1', value: '2001:0DB8:0000::0005' }), 201);
      expect(v6.value).toBe('2001:db8::5');
      expect(parsed(schemas.Allocation, await allocate(app, 'v6', { owner: 'vtep-1', value: '2001:db8::5' }), 200)).toEqual(v6);
    });

    test('explicit values, auto_assign = false ones included; VALUE_IN_USE for a value held by another owner', async () => {
      const manual = parsed(schemas.Allocation, await allocate(app, 'vni', { owner: 'ext-1', value: 0x2000000 }), 201);
      expect(manual.value).toBe(0x2000000);
      expectError(await allocate(app, 'vni', { owner: 'ext-2', value: 0x2000000 }), 'VALUE_IN_USE');
      // Never handed out at random: only the auto_assign values count as free for that.
      expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/vni'), 200).auto_assign_free).toBe(9);
    });

    test('OWNER_CONFLICT when the owner asks for another value than the one it holds', async () => {
      const held = parsed(schemas.Allocation, await allocate(app, 'fixed', { owner: 'ext-3', value: '10.1.0.1' }), 201);
      const error = expectError(await allocate(app, 'fixed', { owner: 'ext-3', value: '10.1.0.2' }), 'OWNER_CONFLICT');
      expect(error.message).toContain(String(held.value));
      expect(error.details).toEqual({ held: '10.1.0.1' });
      expectError(await call(app, 'GET', '/v1/pools/fixed/allocations/10.1.0.2'), 'NOT_ALLOCATED');
      expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/fixed/owners/ext-3'), 200)).toEqual(held);
    });

    test('VALUE_NOT_IN_POOL for an explicit value outside the pool', async () => {
      expectError(await allocate(app, 'vni', { owner: 'x-1', value: 99 }), 'VALUE_NOT_IN_POOL');
      expectError(await allocate(app, 'vni', { owner: 'x-1', value: 2024510 }), 'VALUE_NOT_IN_POOL');
      expectError(await allocate(app, 'lo', { owner: 'x-1', value: '10.0.0.0' }), 'VALUE_NOT_IN_POOL');
      expectError(await allocate(app, 'lo', { owner: 'x-1', value: '10.0.0.7' }), 'VALUE_NOT_IN_POOL');
      expectError(await allocate(app, 'v6', { owner: 'x-1', value: '2001:db8::1' }), 'VALUE_NOT_IN_POOL');
      expectError(await call(app, 'GET', '/v1/pools/x-1'), 'POOL_NOT_FOUND');
      expectError(await call(app, 'GET', '/v1/pools/vni/owners/x-1'), 'NOT_ALLOCATED');
    });

    test('request shape: INVALID_ARGUMENT naming the field and what it accepts', async () => {
      const cases: [unknown, string, RegExp][] = [
        [{}, 'body.owner', /required/],
        [{ owner: '' }, 'body.owner', /1-256 characters/],
        [{ owner: 'has space' }, 'body.owner', /printable ASCII without spaces/],
        [{ owner: 'x'.repeat(257) }, 'body.owner', /1-256 characters.*257 characters/],
        [{ owner: 'tab\there' }, 'body.owner', /printable ASCII/],
        [{ owner: 'caf\u00e9' }, 'body.owner', /printable ASCII/],
        // Every owner must fit in one path segment, even once API Gateway has decoded the path.
        [{ owner: '.' }, 'body.owner', /not "\." or "\.\."/],
        [{ owner: '..' }, 'body.owner', /not "\." or "\.\."; got the string "\.\."/],
        [{ owner: 'tenant/7' }, 'body.owner', /except \/ \? # % and \\.*\("\/", character 7, is not accepted\)/],
        [{ owner: 'a?b' }, 'body.owner', /"\?", character 2/],
        [{ owner: 'a#b' }, 'body.owner', /"#", character 2/],
        [{ owner: '100%' }, 'body.owner', /"%", character 4/],
        [{ owner: 'dom\\user' }, 'body.owner', /"\\\\", character 4/],
        [{ owner: 42 }, 'body.owner', /must be a string/],
        [{ owner: null }, 'body.owner', /must be a string/],
        [{ owner: 'a', value: 1.5 }, 'body.value', /whole JSON number/],
        [{ owner: 'a', value: -1 }, 'body.value', /0 <= v < 2\^53/],
        [{ owner: 'a', value: 2 ** 53 }, 'body.value', /2\^53/],
        [{ owner: 'a', value: 1e300 }, 'body.value', /2\^53/],
        [{ owner: 'a', value: '2024501' }, 'body.value', /JSON number .*for integer pools/],
        [{ owner: 'a', value: 'not-an-address' }, 'body.value', /IPv4 or IPv6 address/],
        [{ owner: 'a', value: '10.0.0.256' }, 'body.value', /IPv4 or IPv6/],
        [{ owner: 'a', value: null }, 'body.value', /got null/],
        [{ owner: 'a', value: [1] }, 'body.value', /got an array/],
        [{ owner: 'a', value: true }, 'body.value', /got boolean true/],
        [{ owner: 'a', vaule: 2024501 }, 'body', /unknown field "vaule"; accepted fields: owner, value/],
        [[], 'body', /JSON object/],
        [null, 'body', /JSON object.*got null/],
        ['owner', 'body', /JSON object/],
        [7, 'body', /JSON object/],
      ];
      for (const [json, path, message] of cases) {
        const error = expectError(await allocate(app, 'vni', json), 'INVALID_ARGUMENT');
        const details = error.details as { path: string; message: string }[];
        expect(details.map((d) => d.path), JSON.stringify(json)).toContain(path);
        expect(error.message, JSON.stringify(json)).toMatch(message);
      }
      for (const body of ['', '   ', '{"owner":', '{owner: "a"}', "{'owner':'a'}", 'owner=a', '\u00ff\u00fe']) {
        expect(expectError(await call(app, 'POST', '/v1/pools/vni/allocations', { body }), 'INVALID_ARGUMENT').message).toMatch(/^body: /);
      }
      // A value of the wrong family is refused once the pool's type is known.
      expect(expectError(await allocate(app, 'vni', { owner: 'a', value: '10.0.0.1' }), 'INVALID_ARGUMENT').message).toMatch(/JSON number/);
      expect(expectError(await allocate(app, 'lo', { owner: 'a', value: 5 }), 'INVALID_ARGUMENT').message).toMatch(/IPv4/);
      expect(expectError(await allocate(app, 'lo', { owner: 'a', value: '2001:db8::2' }), 'INVALID_ARGUMENT').message).toMatch(/IPv4/);
      expect(expectError(await allocate(app, 'v6', { owner: 'a', value: '10.0.0.2' }), 'INVALID_ARGUMENT').message).toMatch(/IPv6/);
      // Nothing was allocated by any of these.
      expectError(await call(app, 'GET', '/v1/pools/vni/owners/a'), 'NOT_ALLOCATED');
    });

    test('the body is read as JSON whatever its Content-Type', async () => {
      for (const [owner, contentType] of [
        ['ct-form', 'application/x-www-form-urlencoded'],
        ['ct-text', 'text/plain'],
        ['ct-none', undefined],
        ['ct-json-charset', 'application/json; charset=utf-8'],
      ] as const) {
        const answer = await call(app, 'POST', '/v1/pools/paged/allocations', {
          body: JSON.stringify({ owner }),
          headers: contentType ? { 'content-type': contentType } : {},
        });
        expect(parsed(schemas.Allocation, answer, 201).owner).toBe(owner);
        expect((await call(app, 'DELETE', `/v1/pools/paged/owners/${owner}`)).status).toBe(204);
      }
    }, 30_000);

    test('checks run in SPEC order: shape, POOL_NOT_FOUND, VALUE_NOT_IN_POOL, holding, VALUE_IN_USE, RESOURCE_EXHAUSTED', async () => {
      // Shape before the pool: a bad owner or a value no pool can hold, on an unknown pool.
      expectError(await allocate(app, 'nope', { owner: 'bad owner' }), 'INVALID_ARGUMENT');
      expectError(await allocate(app, 'nope', { owner: 'o', value: 'nonsense' }), 'INVALID_ARGUMENT');
      expectError(await allocate(app, 'nope', { owner: 'o', value: 5 }), 'POOL_NOT_FOUND');
      // The pool before the value, the value before the owner's holding.
      const held = parsed(schemas.Allocation, await allocate(app, 'tiny', { owner: 'order-1', value: 10 }), 201);
      expectError(await allocate(app, 'tiny', { owner: 'order-1', value: 12 }), 'VALUE_NOT_IN_POOL');
      // The holding before VALUE_IN_USE: order-1 asks for the value order-2 holds.
      parsed(schemas.Allocation, await allocate(app, 'tiny', { owner: 'order-2', value: 11 }), 201);
      expectError(await allocate(app, 'tiny', { owner: 'order-1', value: 11 }), 'OWNER_CONFLICT');
      // VALUE_IN_USE before RESOURCE_EXHAUSTED: the pool is full now.
      expectError(await allocate(app, 'tiny', { owner: 'order-3', value: 11 }), 'VALUE_IN_USE');
      // The holding before exhaustion: a full pool still answers a retry.
      expect(parsed(schemas.Allocation, await allocate(app, 'tiny', { owner: 'order-1' }), 200)).toEqual(held);
      const exhausted = expectError(await allocate(app, 'tiny', { owner: 'order-3' }), 'RESOURCE_EXHAUSTED');
      expect(exhausted.message).toMatch(/2 of 2/);
      expect(exhausted.details).toMatchObject({ size: 2, used: 2, auto_assign_free: 0 });
      expectError(await call(app, 'GET', '/v1/pools/tiny/owners/order-3'), 'NOT_ALLOCATED');
      expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/tiny'), 200)).toMatchObject({ used: 2, free: 0 });
    });
  });

  describe('lookups and releases', () => {
    test('GET by value and by owner; release by value needs the owner; release by owner', async () => {
      const a = parsed(schemas.Allocation, await allocate(app, 'fixed', { owner: 'rel-1', value: '10.1.0.6' }), 201);
      expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/fixed/allocations/10.1.0.6'), 200)).toEqual(a);
      expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/fixed/owners/rel-1'), 200)).toEqual(a);

      expect(expectError(await call(app, 'DELETE', '/v1/pools/fixed/allocations/10.1.0.6'), 'INVALID_ARGUMENT').message).toMatch(/query\.owner: required/);
      expectError(await call(app, 'DELETE', '/v1/pools/fixed/allocations/10.1.0.6?owner=has%20space'), 'INVALID_ARGUMENT');
      expectError(await call(app, 'DELETE', '/v1/pools/fixed/allocations/10.1.0.6?owner=rel-1&owner=rel-1'), 'INVALID_ARGUMENT');
      for (const bad of ['..', '.', 'a%2Fb', 'a%3Fb', 'a%23b', 'a%25b', 'a%5Cb']) {
        const error = expectError(await call(app, 'DELETE', `/v1/pools/fixed/allocations/10.1.0.6?owner=${bad}`), 'INVALID_ARGUMENT');
        expect(error.message, bad).toMatch(/^query\.owner: must be 1-256 characters .*except \/ \? # % and \\, and not "\." or "\.\."/);
      }
      expectError(await call(app, 'DELETE', '/v1/pools/fixed/allocations/10.1.0.6?owner=someone-else'), 'OWNER_MISMATCH');
      expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/fixed/allocations/10.1.0.6'), 200)).toEqual(a);

      const released = await call(app, 'DELETE', '/v1/pools/fixed/allocations/10.1.0.6?owner=rel-1');
      expect(released.status).toBe(204);
      expect(released.body).toBeUndefined();
      expectError(await call(app, 'DELETE', '/v1/pools/fixed/allocations/10.1.0.6?owner=rel-1'), 'NOT_ALLOCATED');
      expectError(await call(app, 'GET', '/v1/pools/fixed/allocations/10.1.0.6'), 'NOT_ALLOCATED');
      expectError(await call(app, 'GET', '/v1/pools/fixed/owners/rel-1'), 'NOT_ALLOCATED');

      parsed(schemas.Allocation, await allocate(app, 'lo', { owner: 'rel-2' }), 201);
      expect((await call(app, 'DELETE', '/v1/pools/lo/owners/rel-2')).status).toBe(204);
      expectError(await call(app, 'DELETE', '/v1/pools/lo/owners/rel-2'), 'NOT_ALLOCATED');
      expectError(await call(app, 'GET', '/v1/pools/lo/owners/rel-2'), 'NOT_ALLOCATED');
    });

    test('values outside the pool, of the wrong form, or in unknown pools', async () => {
      expectError(await call(app, 'GET', '/v1/pools/lo/allocations/10.0.0.7'), 'VALUE_NOT_IN_POOL');
      expectError(await call(app, 'DELETE', '/v1/pools/lo/allocations/10.0.0.7?owner=a'), 'VALUE_NOT_IN_POOL');
      expectError(await call(app, 'GET', '/v1/pools/vni/allocations/5'), 'VALUE_NOT_IN_POOL');
      expectError(await call(app, 'DELETE', '/v1/pools/vni/allocations/2024510?owner=a'), 'VALUE_NOT_IN_POOL');
      for (const value of ['abc', '-1', '1.5', '9007199254740992', '99999999999999999999', '10.0.0', '%2F', '%00']) {
        expect(expectError(await call(app, 'GET', `/v1/pools/vni/allocations/${value}`), 'INVALID_ARGUMENT').message).toMatch(/^path\.value: /);
      }
      expectError(await call(app, 'GET', '/v1/pools/vni/allocations/10.0.0.1'), 'INVALID_ARGUMENT');
      expectError(await call(app, 'GET', '/v1/pools/lo/allocations/2024500'), 'INVALID_ARGUMENT');
      expectError(await call(app, 'GET', '/v1/pools/nope/allocations/5'), 'POOL_NOT_FOUND');
      expectError(await call(app, 'DELETE', '/v1/pools/nope/allocations/5?owner=a'), 'POOL_NOT_FOUND');
      expectError(await call(app, 'GET', '/v1/pools/nope/owners/a'), 'POOL_NOT_FOUND');
      expectError(await call(app, 'DELETE', '/v1/pools/nope/owners/a'), 'POOL_NOT_FOUND');
      expectError(await call(app, 'GET', `/v1/pools/vni/owners/${'o'.repeat(257)}`), 'INVALID_ARGUMENT');
      expectError(await call(app, 'GET', '/v1/pools/vni/owners/a%20b'), 'INVALID_ARGUMENT');
      // Not valid percent-encoding: refused, never taken literally as the owner "%zz".
      expectError(await call(app, 'GET', '/v1/pools/vni/owners/%zz'), 'INVALID_ARGUMENT');
      expectError(await call(app, 'GET', '/v1/pools/vni/owners/%FF'), 'INVALID_ARGUMENT');
    });

    test('IPv6 values URL-encoded in paths, and owners with URL syntax in them', async () => {
      // Everything printable but / ? # % \ is an owner, dots included when not alone.
      for (const fine of ['...', '.a', 'a.', 'vpc-42:dpu-7']) {
        const held = parsed(schemas.Allocation, await allocate(app, 'paged', { owner: fine }), 201);
        expect(parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/paged/owners/${encodeURIComponent(fine)}`), 200)).toEqual(held);
        expect((await call(app, 'DELETE', `/v1/pools/paged/owners/${fine}`)).status).toBe(204);
      }
      const owner = "team:a&e=f+g;h@i!$'()*,[]{}|^`~\"<>";
      parsed(schemas.Allocation, await allocate(app, 'v6', { owner, value: '2001:db8::7' }), 201);
      const byValue = parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/v6/allocations/${encodeURIComponent('2001:db8::7')}`), 200);
      expect(byValue).toMatchObject({ owner, value: '2001:db8::7' });
      // Colons need no encoding in a path, and a non-canonical form names the same value.
      expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/v6/allocations/2001:DB8:0:0::7'), 200)).toEqual(byValue);
      expect(parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/v6/owners/${encodeURIComponent(owner)}`), 200)).toEqual(byValue);
      expectError(await call(app, 'DELETE', `/v1/pools/v6/allocations/2001%3Adb8%3A%3A7?owner=team`), 'OWNER_MISMATCH');
      expect((await call(app, 'DELETE', `/v1/pools/v6/allocations/2001%3Adb8%3A%3A7?owner=${encodeURIComponent(owner)}`)).status).toBe(204);
      expectError(await call(app, 'GET', '/v1/pools/v6/allocations/2001%3Adb8%3A%3A7'), 'NOT_ALLOCATED');
    });
  });

  describe('GET /v1/pools/{pool}/allocations', () => {
    test('pages in value order with an opaque cursor, and limit bounds', async () => {
      const values = [100, 119, 105, 101, 110, 111, 118];
      for (const v of values) parsed(schemas.Allocation, await allocate(app, 'paged', { owner: `page-${v}`, value: v }), 201);
      const seen: number[] = [];
      let cursor: string | null = '';
      let pages = 0;
      do {
        const page: z.output<typeof schemas.AllocationPage> = parsed(schemas.AllocationPage, await call(app, 'GET', `/v1/pools/paged/allocations?limit=3&cursor=${cursor}`), 200);
        expect(page.allocations.length).toBeLessThanOrEqual(3);
        seen.push(...page.allocations.map((a) => a.value as number));
        cursor = page.next_cursor;
        pages++;
      } while (cursor !== null);
      expect(seen).toEqual([...values].sort((a, b) => a - b));
      expect(pages).toBe(3);

      const all = parsed(schemas.AllocationPage, await call(app, 'GET', '/v1/pools/paged/allocations'), 200);
      expect(all).toMatchObject({ next_cursor: null });
      expect(all.allocations.map((a) => a.owner)).toEqual([...values].sort((a, b) => a - b).map((v) => `page-${v}`));
      expect(parsed(schemas.AllocationPage, await call(app, 'GET', '/v1/pools/paged/allocations?limit=1000'), 200).allocations).toHaveLength(7);
      expect(parsed(schemas.AllocationPage, await call(app, 'GET', '/v1/pools/paged/allocations?limit='), 200).allocations).toHaveLength(7);
      const one = parsed(schemas.AllocationPage, await call(app, 'GET', '/v1/pools/paged/allocations?limit=1'), 200);
      expect(one.allocations.map((a) => a.value)).toEqual([100]);
      expect(one.next_cursor).toMatch(/^[A-Za-z0-9_-]+$/);
      const last = parsed(schemas.AllocationPage, await call(app, 'GET', `/v1/pools/paged/allocations?limit=6&cursor=${one.next_cursor}`), 200);
      expect(last).toMatchObject({ next_cursor: null });
      expect(last.allocations).toHaveLength(6);

      for (const query of ['limit=0', 'limit=1001', 'limit=-1', 'limit=1.5', 'limit=abc', 'limit=1e2', 'limit=%201', 'limit=10&limit=20']) {
        expect(expectError(await call(app, 'GET', `/v1/pools/paged/allocations?${query}`), 'INVALID_ARGUMENT').message).toMatch(/^query\.limit: /);
      }
      for (const cursor of ['!!!', 'abc', Buffer.from('zzzzzzzz').toString('base64url'), `${one.next_cursor}x`, 'A'.repeat(500)]) {
        expect(expectError(await call(app, 'GET', `/v1/pools/paged/allocations?cursor=${cursor}`), 'INVALID_ARGUMENT').message).toMatch(/^query\.cursor: /);
      }
      expectError(await call(app, 'GET', '/v1/pools/nope/allocations'), 'POOL_NOT_FOUND');
    });
  });

  describe('routes and limits', () => {
    test('unknown routes answer 404 NOT_FOUND', async () => {
      for (const [method, path] of [
        ['GET', '/'],
        ['GET', '/v1'],
        ['GET', '/v2/pools'],
        ['GET', '/v1/pools/vni/allocations/5/extra'],
        ['POST', '/v1/pools/vni/grow'],
        ['GET', '/v1/pools/'],
        ['GET', '/v1/configs'],
        ['DELETE', '/v1/nothing'],
      ]) {
        expectError(await call(app, method, path), 'NOT_FOUND');
      }
    });

    test('known routes with another method answer 405 METHOD_NOT_ALLOWED with Allow', async () => {
      const cases: [string, string, string][] = [
        ['PUT', '/v1/pools', 'GET, HEAD'],
        ['POST', '/v1/health', 'GET, HEAD'],
        ['DELETE', '/v1/pools/vni', 'GET, HEAD'],
        ['PATCH', '/v1/pools/vni/allocations', 'POST, GET, HEAD'],
        ['POST', '/v1/pools/vni/allocations/5', 'GET, HEAD, DELETE'],
        ['PUT', '/v1/pools/vni/owners/a', 'GET, HEAD, DELETE'],
        ['GET', '/v1/config?dry_run=true', 'POST'],
        ['DELETE', '/v1/config/syncs', 'GET, HEAD'],
        ['OPTIONS', '/v1/openapi.json', 'GET, HEAD'],
      ];
      for (const [method, path, allow] of cases) {
        const answer = await call(app, method, path);
        expect(expectError(answer, 'METHOD_NOT_ALLOWED').message).toContain(method);
        expect(answer.headers.get('allow')?.split(', ').sort()).toEqual(allow.split(', ').sort());
      }
      // HEAD is GET without a body.
      expect((await app.request('/v1/pools/vni', { method: 'HEAD' })).status).toBe(200);
    });

    test('bodies over 1 MiB answer 413 PAYLOAD_TOO_LARGE and change nothing', async () => {
      const syncsBefore = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200);
      const padding = (n: number) => `# ${'x'.repeat(n - 3)}\n`;
      expectError(await call(app, 'POST', '/v1/config', { body: padding(MAX_BODY_BYTES + 1) }), 'PAYLOAD_TOO_LARGE');
      expectError(await call(app, 'POST', '/v1/pools/vni/allocations', { body: `{"owner":"big","x":"${'y'.repeat(MAX_BODY_BYTES)}"}` }), 'PAYLOAD_TOO_LARGE');
      const declared = await app.request('/v1/config', { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES + 1), headers: { 'content-length': String(MAX_BODY_BYTES + 1) } });
      expect(declared.status).toBe(413);
      // Exactly 1 MiB is read (and rejected as a file without pools).
      expectError(await call(app, 'POST', '/v1/config', { body: padding(MAX_BODY_BYTES) }), 'INVALID_CONFIG');
      const syncsAfter = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200);
      expect(syncsAfter.syncs.slice(1)).toEqual(syncsBefore.syncs.slice(0, syncsAfter.syncs.length - 1));
      expect(syncsAfter.syncs[0]).toMatchObject({ source: 'http', status: 'rejected' });
    });
  });

  describe('POST /v1/config and GET /v1/config/syncs', () => {
    test('applies additively: created, unchanged, grown; dry runs change and record nothing', async () => {
      const file = '[pools.grown]\ntype = "integer"\nranges = [{ start = 1, end = 5 }]\n';
      const dry = parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config?dry_run=true', { body: file, headers: { 'content-type': 'application/toml' } }), 200);
      expect(dry).toEqual({ applied: false, dry_run: true, pools: [{ name: 'grown', action: 'created', added: 4, size: 4 }], ignored: [], warnings: [] });
      expect(parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config?dry_run', { body: file }), 200).dry_run).toBe(true);
      expect(parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config?dry_run=1', { body: file }), 200).dry_run).toBe(true);
      expectError(await call(app, 'GET', '/v1/pools/grown'), 'POOL_NOT_FOUND');
      const syncsBefore = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200).syncs;

      const created = parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config', { body: file, headers: { 'content-type': 'text/plain' } }), 200);
      expect(created).toEqual({ applied: true, dry_run: false, pools: [{ name: 'grown', action: 'created', added: 4, size: 4 }], ignored: [], warnings: [] });
      const again = parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config?dry_run=false', { body: file, headers: { 'content-type': 'application/json' } }), 200);
      expect(again.pools).toEqual([{ name: 'grown', action: 'unchanged', added: 0, size: 4 }]);
      const grow = `[api]\nport = 1\n[pools.grown]\ntype = "integer"\nranges = [{ start = 1, end = 9 }]\n`;
      const grown = parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config?dry_run=0', { body: grow }), 200);
      expect(grown).toMatchObject({ applied: true, pools: [{ name: 'grown', action: 'grown', added: 4, size: 8 }], warnings: ["top-level table 'api' ignored"] });
      expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/grown'), 200)).toMatchObject({ size: 8, min: 1, max: 8 });

      const { syncs } = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200);
      expect(syncs.slice(3)).toEqual(syncsBefore.slice(0, syncs.length - 3));
      expect(syncs.slice(0, 3).map((s) => [s.source, s.status, s.result?.pools[0].action])).toEqual([
        ['http', 'applied', 'grown'],
        ['http', 'applied', 'unchanged'],
        ['http', 'applied', 'created'],
      ]);
      expect(syncs[0].result).toEqual(grown);
      expect(syncs.map((s) => s.at)).toEqual([...syncs.map((s) => s.at)].sort().reverse());
      expect(syncs.at(-1)).toMatchObject({ source: 'startup', status: 'applied' });

      expect(expectError(await call(app, 'POST', '/v1/config?dry_run=maybe', { body: file }), 'INVALID_ARGUMENT').message).toMatch(/^query\.dry_run: /);
    });

    test('INVALID_CONFIG reports every problem with its path, changes nothing, and is recorded', async () => {
      const cases: [string, string, string[]][] = [
        ['invalid TOML', '[pools.a\ntype = "integer"', ['line 1, column 9']],
        ['no pools table', '[api]\nport = 3000\n', ['pools']],
        ['empty body', '', ['pools']],
        ['pools not a table', 'pools = 3\n', ['pools']],
        ['missing type', '[pools.a]\nranges = [{ start = 1, end = 2 }]\n', ['pools.a.type']],
        ['unknown type', '[pools.a]\ntype = "vlan"\nranges = [{ start = 1, end = 2 }]\n', ['pools.a.type']],
        ['unknown key', '[pools.a]\ntype = "integer"\nrange = [{ start = 1, end = 2 }]\n', ['pools.a.range']],
        ['unknown range key', '[pools.a]\ntype = "integer"\nranges = [{ start = 1, end = 2, auto = true }]\n', ['pools.a.ranges[0].auto']],
        ['neither prefix nor ranges', '[pools.a]\ntype = "ipv4"\n', ['pools.a']],
        ['both for a new pool', '[pools.a]\ntype = "ipv4"\nprefix = "10.9.0.0/30"\nranges = [{ start = "10.9.1.1", end = "10.9.1.5" }]\n', ['pools.a']],
        ['end not after start', '[pools.a]\ntype = "integer"\nranges = [{ start = 5, end = 5 }]\n', ['pools.a.ranges[0].end']],
        ['host bits set', '[pools.a]\ntype = "ipv4"\nprefix = "10.9.0.1/24"\n', ['pools.a.prefix']],
        ['prefix on an integer pool', '[pools.a]\ntype = "integer"\nprefix = "10.9.0.0/24"\n', ['pools.a.prefix']],
        ['integer out of range', '[pools.a]\ntype = "integer"\nranges = [{ start = 1, end = "0x20000000000001" }]\n', ['pools.a.ranges[0].end']],
        ['negative integer', '[pools.a]\ntype = "integer"\nranges = [{ start = -1, end = 5 }]\n', ['pools.a.ranges[0].start']],
        ['address of the wrong family', '[pools.a]\ntype = "ipv4"\nranges = [{ start = "2001:db8::1", end = "10.9.0.9" }]\n', ['pools.a.ranges[0].start']],
        ['overlap inside a pool', '[pools.a]\ntype = "integer"\nranges = [{ start = 1000, end = 1010 }, { start = 1005, end = 1020 }]\n', ['pools.a.ranges[1]']],
        ['overlap with another pool', '[pools.a]\ntype = "integer"\nranges = [{ start = 2024505, end = 2024600 }]\n', ['pools.a.ranges[0]']],
        ['type change', '[pools.vni]\ntype = "ipv4"\nprefix = "10.9.0.0/30"\n', ['pools.vni.type']],
        ['everything excluded', '[pools.a]\ntype = "integer"\nranges = [{ start = 1000, end = 1002 }]\nexclude = [1000, 1001]\n', ['pools.a']],
        ['too large', '[pools.a]\ntype = "integer"\nranges = [{ start = 0, end = 250001 }]\n', ['pools.a']],
        ['bad pool name', '[pools."-x"]\ntype = "integer"\nranges = [{ start = 3000, end = 3001 }]\n', ['pools.-x']],
        [
          'more problems than are listed',
          Array.from({ length: 150 }, (_, i) => `[pools.bad-${i}]\ntype = "integer"\nranges = [{ start = 9, end = 1 }]\n`).join(''),
          ['pools.bad-0.ranges[0].end', 'pools.bad-149.ranges[0].end'],
        ],
        [
          'several problems at once',
          '[pools.a]\ntype = "integer"\nranges = [{ start = 9, end = 1 }, { start = "x", end = 4 }]\n[pools.b]\ntype = "ipv6"\nprefix = "2001:db8::1/64"\nbogus = 1\n',
          ['pools.a.ranges[0].end', 'pools.a.ranges[1].start', 'pools.b.prefix', 'pools.b.bogus'],
        ],
      ];
      const poolsBefore = parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200);
      for (const [what, body, paths] of cases) {
        const syncsBefore = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200).syncs;
        expectError(await call(app, 'POST', '/v1/config?dry_run=true', { body }), 'INVALID_CONFIG');
        expect(parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200).syncs, `${what}: a rejected dry run is not recorded`).toEqual(syncsBefore);

        const error = expectError(await call(app, 'POST', '/v1/config', { body }), 'INVALID_CONFIG');
        const details = error.details as { path: string; message: string }[];
        expect(Array.isArray(details) && details.length > 0, what).toBe(true);
        for (const d of details) expect(schemas.ConfigIssue.safeParse(d).success, what).toBe(true);
        expect(details.map((d) => d.path), what).toEqual(expect.arrayContaining(paths));
        for (const d of details) expect(d.message.length, `${what}: ${d.path}`).toBeGreaterThan(10);

        const { syncs } = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200);
        // The record keeps the first 100 problems and counts the rest; the answer lists them all.
        const recorded = details.length <= 100 ? details : [...details.slice(0, 100), { path: '(more)', message: `${details.length - 100} more errors not recorded` }];
        expect(syncs[0], what).toMatchObject({ source: 'http', status: 'rejected', errors: recorded });
        expect(syncs[0].result).toBeUndefined();
        expect(syncs.slice(1)).toEqual(syncsBefore.slice(0, syncs.length - 1));
      }
      expect(parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200)).toEqual(poolsBefore);
    }, 60_000);
  });

  test('what a file quotes is clipped, so that a large file is answered and recorded instead of failing', async () => {
    const prefix = await call(app, 'POST', '/v1/config', { body: `[pools.huge]\ntype = "ipv4"\nprefix = "${'x'.repeat(450_000)}"\n` });
    const error = expectError(prefix, 'INVALID_CONFIG');
    const details = error.details as { path: string; message: string }[];
    expect(details.map((d) => d.path)).toEqual(['pools.huge.prefix']);
    expect(details[0].message).toMatch(/^"x{100}…" \(449900 more characters\) is not a CIDR prefix; expected an IPv4 prefix such as "10.180.62.0\/26"$/);
    expect(error.message.length).toBeLessThan(4200);
    const [rejected] = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200).syncs;
    expect(rejected).toMatchObject({ status: 'rejected', errors: details });

    const key = 'k'.repeat(500_000);
    const applied = parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config', { body: `[${key}]\n[pools.clipped]\ntype = "integer"\nranges = [{ start = 3000, end = 3001 }]\n` }), 200);
    expect(applied.pools).toEqual([{ name: 'clipped', action: 'created', added: 1, size: 1 }]);
    expect(applied.warnings).toHaveLength(1);
    expect(applied.warnings[0]).toMatch(/^top-level table 'k{100}… \(499900 more characters\)' ignored$/);
    const [recorded] = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200).syncs;
    expect(recorded).toMatchObject({ status: 'applied', result: applied });
  });

  test('GET /v1/check recounts every pool', async () => {
    const report = parsed(schemas.CheckReport, await call(app, 'GET', '/v1/check'), 200);
    expect(report.ok).toBe(true);
    const { pools } = parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200);
    expect(report.pools.map((p) => [p.name, p.size, p.used, p.allocations, p.problems]).sort()).toEqual(
      pools.map((p) => [p.name, p.size, p.used, p.used, []]).sort(),
    );
  });

  test('GET /v1/openapi.json is an OpenAPI 3.1 document of every route, from the same schemas', async () => {
    const answer = await call(app, 'GET', '/v1/openapi.json');
    expect(answer.status).toBe(200);
    const doc = answer.body as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { operationId: string; parameters: { name: string; in: string; required: boolean }[]; responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> }; 'x-spec-extension'?: boolean }>>;
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('resource-pools');
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'GET /v1/health',
        'GET /v1/pools',
        'GET /v1/pools/{pool}',
        'POST /v1/pools/{pool}/allocations',
        'GET /v1/pools/{pool}/allocations',
        'GET /v1/pools/{pool}/allocations/{value}',
        'DELETE /v1/pools/{pool}/allocations/{value}',
        'GET /v1/pools/{pool}/owners/{owner}',
        'DELETE /v1/pools/{pool}/owners/{owner}',
        'POST /v1/config',
        'GET /v1/config/syncs',
        'GET /v1/openapi.json',
        'GET /v1/check',
      ].sort(),
    );
    expect(routes).toHaveLength(operations.length);

    const allocateOp = doc.paths['/v1/pools/{pool}/allocations'].post;
    expect(Object.keys(allocateOp.responses).sort()).toEqual(['200', '201', '400', '404', '409', '413', '503']);
    expect(allocateOp.requestBody?.content['application/json']).toEqual({ schema: { $ref: '#/components/schemas/AllocateRequest' } });
    expect(doc.paths['/v1/config'].post.requestBody?.content).toHaveProperty(['application/toml']);
    expect(doc.paths['/v1/pools/{pool}/allocations/{value}'].delete.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['pool', 'path', true],
      ['value', 'path', true],
      ['owner', 'query', true],
    ]);
    expect(doc.paths['/v1/pools/{pool}/allocations'].get.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['pool', 'path', true],
      ['limit', 'query', false],
      ['cursor', 'query', false],
    ]);

    // The component schemas are the ones requests are validated with.
    expect(doc.components.schemas.AllocateRequest).toMatchObject({ type: 'object', required: ['owner'], additionalProperties: false });
    expect(doc.components.schemas.Pool.required).toEqual(Object.keys(schemas.Pool.shape));
    for (const name of ['Pool', 'PoolList', 'Allocation', 'AllocationPage', 'ConfigResult', 'Sync', 'SyncList', 'CheckReport', 'Health', 'Error']) {
      expect(doc.components.schemas[name], name).toMatchObject({ type: 'object' });
      expect(doc.components.schemas[name]).not.toHaveProperty('$schema');
    }
    // Every reference resolves.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(doc.components.schemas, ref).toHaveProperty([ref]);
  });
});

describe('failures that are not the caller\'s', () => {
  const failing = (e: unknown) => {
    const fail = async () => {
      throw e;
    };
    return { health: fail, pools: fail, pool: fail, allocate: fail, syncs: fail, check: fail } as unknown as PoolStore;
  };

  test('an unexpected error answers 500 INTERNAL with a request id, and is logged with it', async () => {
    const logger = capturingLogger();
    const app = createApp({ store: failing(new TypeError('a bug')), maxPoolSize: 1000, logger });
    const answer = await call(app, 'GET', '/v1/pools');
    const error = expectError(answer, 'INTERNAL');
    const requestId = answer.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    expect(error.message).toContain(requestId);
    expect(error.message).not.toContain('a bug');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'error', extra: [{ requestId, method: 'GET', path: '/v1/pools', error: { name: 'TypeError', message: 'a bug' } }] });
  });

  test('UNAVAILABLE answers 503 with Retry-After; a table that does not answer fails the health check', async () => {
    const logger = capturingLogger();
    const busy = createApp({ store: failing(new PoolError('UNAVAILABLE', 'gave up after contention', { retryAfterSeconds: 2 })), maxPoolSize: 1000, logger });
    const answer = await allocate(busy, 'vni', { owner: 'a' });
    expectError(answer, 'UNAVAILABLE');
    expect(answer.headers.get('retry-after')).toBe('2');
    expect(logger.lines.map((l) => l.level)).toEqual(['warn']);

    const down = createApp({ store: failing(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' })), maxPoolSize: 1000, logger });
    const health = await call(down, 'GET', '/v1/health');
    expectError(health, 'UNAVAILABLE');
    expect(Number(health.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});

describe('the Lambda handler (API Gateway HTTP API, payload v2)', () => {
  const context = { awsRequestId: 'lambda-req-1', functionName: 'api', functionVersion: '$LATEST', memoryLimitInMB: '512' } as Context;

  function event(method: string, rawPath: string, init: { rawQueryString?: string; body?: string; isBase64Encoded?: boolean; headers?: Record<string, string> } = {}) {
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString: init.rawQueryString ?? '',
      headers: { host: 'abc123.execute-api.eu-west-1.amazonaws.com', 'user-agent': 'curl/8.5.0', ...init.headers },
      requestContext: {
        accountId: '123456789012',
        apiId: 'abc123',
        domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
        domainPrefix: 'abc123',
        http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'curl/8.5.0' },
        requestId: 'Jx1aQgTeoAMEVhw=',
        routeKey: '$default',
        stage: '$default',
        time: '22/Nov/2026:10:00:00 +0000',
        timeEpoch: 1795341600000,
      },
      body: init.body,
      isBase64Encoded: init.isBase64Encoded ?? false,
    };
  }

  test('serves the application: base64 bodies, decoded raw paths, JSON errors, and EMF metrics per invocation', async () => {
    const store = await freshStore();
    await register(store, '[pools.vni]\ntype = "integer"\nranges = [{ start = 7000, end = 7001 }]\n[pools.v6]\ntype = "ipv6"\nprefix = "2001:db8::/126"\n');
    const emf: { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }; [key: string]: unknown }[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      const text = String(chunk);
      if (text.includes('"_aws"')) emf.push(JSON.parse(text));
      return true;
    });
    try {
      const handler = createApiHandler({ client: testClient(), tableName: store.tableName, maxPoolSize: 1000 });

      const body = Buffer.from(JSON.stringify({ owner: 'vpc-9' })).toString('base64');
      const created = await handler(event('POST', '/v1/pools/vni/allocations', { body, isBase64Encoded: true, headers: { 'content-type': 'application/json' } }), context);
      expect(created.statusCode).toBe(201);
      expect(created.headers?.['content-type']).toMatch(/^application\/json/);
      expect(created.headers?.['x-request-id']).toBe('Jx1aQgTeoAMEVhw=');
      expect(JSON.parse(created.body ?? '')).toMatchObject({ pool: 'vni', value: 7000, owner: 'vpc-9' });

      const exhausted = await handler(event('POST', '/v1/pools/vni/allocations', { body: '{"owner":"vpc-10"}' }), context);
      expect(exhausted.statusCode).toBe(409);
      expect(JSON.parse(exhausted.body ?? '')).toMatchObject({ error: { code: 'RESOURCE_EXHAUSTED' } });

      // HTTP APIs hand over rawPath decoded: IPv6 colons and an owner with URL syntax in it.
      const owner = "a&b=c+d:e;f@g!$'()*,";
      const v6 = await handler(event('POST', '/v1/pools/v6/allocations', { body: JSON.stringify({ owner, value: '2001:db8::2' }) }), context);
      expect(v6.statusCode).toBe(201);
      expect(JSON.parse((await handler(event('GET', '/v1/pools/v6/allocations/2001:db8::2'), context)).body ?? '')).toMatchObject({ owner });
      expect(JSON.parse((await handler(event('GET', `/v1/pools/v6/owners/${owner}`), context)).body ?? '')).toMatchObject({ value: '2001:db8::2' });
      const released = await handler(event('DELETE', '/v1/pools/v6/allocations/2001:db8::2', { rawQueryString: `owner=${encodeURIComponent(owner)}` }), context);
      expect(released.statusCode).toBe(204);

      const list = await handler(event('GET', '/v1/pools', { body: 'ignored', isBase64Encoded: false }), context);
      expect(list.statusCode).toBe(200);
      expect((JSON.parse(list.body ?? '') as { pools: unknown[] }).pools).toHaveLength(2);

      for (const bad of [
        event('POST', '/v1/pools/vni/allocations', { body: '%%%not base64', isBase64Encoded: true }),
        event('GE T', '/v1/pools'),
        event('GET', '/v1/pools', { headers: { 'x-bad': 'line\nbreak' } }),
        event('GET', '/v1/pools/\ud800'),
      ]) {
        const answer = await handler(bad as never, context);
        expect(answer.statusCode).toBe(400);
        expect(answer.headers?.['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(answer.body ?? '')).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
      }
      expect(JSON.parse((await handler(event('PUT', '/v1/pools'), context)).body ?? '')).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });

      // Dot segments are refused, not resolved: this once ran as POST /v1/config (an admin route).
      const climbed = await handler(event('POST', '/v1/pools/x/../../config', { body: '[pools.evil]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]\n' }), context);
      expect(climbed.statusCode).toBe(400);
      expect(climbed.headers?.['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(climbed.body ?? '')).toEqual({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^path: segment 4 \("\.\."\) is a dot segment; /) } });
      expect((await store.pools()).map((p) => p.name).sort()).toEqual(['v6', 'vni']);
      // A decoded %2F makes two segments: "tenant/7" is not one owner but a path that names no route.
      expect(JSON.parse((await handler(event('GET', '/v1/pools/v6/owners/tenant/7'), context)).body ?? '')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    } finally {
      write.mockRestore();
    }

    const documents = emf.map((doc) => ({
      dimensions: doc._aws.CloudWatchMetrics[0].Dimensions,
      pool: doc.Pool,
      metrics: Object.fromEntries(doc._aws.CloudWatchMetrics[0].Metrics.map((m) => [m.Name, doc[m.Name]])),
    }));
    expect(emf.every((doc) => doc._aws.CloudWatchMetrics[0].Namespace === 'ResourcePools')).toBe(true);
    expect(emf.every((doc) => !('service' in doc))).toBe(true);
    const perPool = documents.filter((d) => d.pool !== undefined);
    const aggregate = documents.filter((d) => d.pool === undefined);
    expect(perPool.every((d) => JSON.stringify(d.dimensions) === '[["Pool"]]')).toBe(true);
    expect(aggregate.every((d) => JSON.stringify(d.dimensions) === '[[]]')).toBe(true);
    const sum = (docs: typeof documents, metric: string) => docs.reduce((n, d) => n + (typeof d.metrics[metric] === 'number' ? (d.metrics[metric] as number) : 0), 0);
    expect(sum(aggregate, Metric.Allocations)).toBe(2);
    expect(sum(aggregate, Metric.AllocationsExhausted)).toBe(1);
    expect(sum(aggregate, Metric.Releases)).toBe(1);
    expect(sum(perPool.filter((d) => d.pool === 'vni'), Metric.AllocationsExhausted)).toBe(1);
    expect(sum(perPool.filter((d) => d.pool === 'vni'), Metric.Allocations)).toBe(1);
    expect(sum(perPool.filter((d) => d.pool === 'v6'), Metric.Releases)).toBe(1);
    // Two allocations succeeded; the exhausted one is counted, not timed.
    expect(aggregate.filter((d) => Metric.AllocationLatency in d.metrics)).toHaveLength(2);
  });
});
