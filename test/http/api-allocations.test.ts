// Allocations (docs/API.md): POST /v1/pools/{pool}/allocations, lookups and releases by value and
// by owner, and the paged listing, through the application in-process against DynamoDB Local:
// statuses, bodies, error codes and their check order. The tests of this file share one table, in
// order.
import { beforeAll, describe, expect, test } from 'vitest';
import type * as z from 'zod';
import * as schemas from '../../functions/http/schemas.js';
import { allocate, type App, call, expectError, parsed, poolsApp } from '../support/http-api.js';

describe('HTTP API on DynamoDB Local', () => {
  let app: App;
  beforeAll(async () => { app = await poolsApp(); });

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
      expect(error.details).toEqual({ held: '10.1.0.1', size: 1 });
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

    test('checks run in the documented order: shape, POOL_NOT_FOUND, VALUE_NOT_IN_POOL, holding, VALUE_IN_USE, RESOURCE_EXHAUSTED', async () => {
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
});
