// Pool lifecycle through the application in-process against DynamoDB Local: PATCH and DELETE
// /v1/pools/{pool}, …/retire, …/import and POST /v1/check/repair, with their answers, their codes,
// and bad bodies refused naming the field and changing nothing. The tests of this file share one
// table, in order.
import { beforeAll, describe, expect, test } from 'vitest';
import * as schemas from '../../functions/http/schemas.js';
import { allocate, type App, call, expectError, parsed, poolsApp } from '../support/http-api.js';

const POOLS = `
[pools.vlan]
type = "integer"
ranges = [{ start = 100, end = 200 }, { start = 1000, end = 1100 }]

[pools.lo]
type = "ipv4"
prefix = "10.9.0.0/24"

[pools.spare]
type = "integer"
ranges = [{ start = 7000, end = 7010 }]
`;

const json = (app: App, method: string, path: string, body: unknown) => call(app, method, path, { json: body });

describe('pool lifecycle over HTTP', () => {
  let app: App;
  beforeAll(async () => {
    app = await poolsApp(POOLS);
  });

  test('PATCH /v1/pools/{pool} disables and enables; a disabled pool answers 409 POOL_DISABLED', async () => {
    expect(parsed(schemas.Pool, await json(app, 'PATCH', '/v1/pools/vlan', { disabled: true }), 200)).toMatchObject({ name: 'vlan', disabled: true });
    expectError(await allocate(app, 'vlan', { owner: 'x' }), 'POOL_DISABLED');
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/vlan'), 200).disabled).toBe(true);
    expect(parsed(schemas.Pool, await json(app, 'PATCH', '/v1/pools/vlan', { disabled: false }), 200).disabled).toBe(false);
    expect((await allocate(app, 'vlan', { owner: 'x', value: 150 })).status).toBe(201);

    for (const [body, field] of [
      [{ disabled: 'yes' }, 'body.disabled'],
      [{}, 'body.disabled'],
      [{ disabled: true, extra: 1 }, 'body'],
    ] as const) {
      const error = expectError(await json(app, 'PATCH', '/v1/pools/vlan', body), 'INVALID_ARGUMENT');
      expect(error.message).toContain(field);
    }
    expectError(await json(app, 'PATCH', '/v1/pools/nope', { disabled: true }), 'POOL_NOT_FOUND');
  });

  test('POST …/retire takes free values out, refuses held ones (details.held), and names bad fields', async () => {
    const dry = parsed(schemas.RetireResult, await json(app, 'POST', '/v1/pools/vlan/retire?dry_run=true', { ranges: [{ start: 1000, end: 1100 }] }), 200);
    expect(dry).toMatchObject({ retired: 100, pool: { size: 200 } });
    const held = expectError(await json(app, 'POST', '/v1/pools/vlan/retire', { ranges: [{ start: 100, end: 200 }] }), 'VALUE_IN_USE');
    expect(held.details).toEqual({ held: [150] });
    const done = parsed(schemas.RetireResult, await json(app, 'POST', '/v1/pools/vlan/retire', { ranges: [{ start: 1000, end: 1100 }], values: [199] }), 200);
    expect(done).toMatchObject({ retired: 101, pool: { size: 99, max: 198 } });
    expectError(await allocate(app, 'vlan', { owner: 'y', value: 1050 }), 'VALUE_NOT_IN_POOL');
    // A CIDR block in an IP pool.
    expect(parsed(schemas.RetireResult, await json(app, 'POST', '/v1/pools/lo/retire', { values: ['10.9.0.16/28'] }), 200)).toMatchObject({ retired: 16, pool: { size: 238 } });

    for (const [body, field] of [
      [{}, 'name the values to retire'],
      [{ ranges: [{ start: 150 }] }, 'body.ranges[0].end'],
      [{ values: ['ten'] }, 'values[0]'],
      [{ ranges: [{ start: 160, end: 150 }] }, 'ranges[0]'],
      [{ value: 5 }, 'accepted fields: ranges, values'],
    ] as const) {
      expect(expectError(await json(app, 'POST', '/v1/pools/vlan/retire', body), 'INVALID_ARGUMENT').message).toContain(field);
    }
    expectError(await json(app, 'POST', '/v1/pools/vlan/retire', { values: [5000] }), 'VALUE_NOT_IN_POOL');
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/vlan'), 200).size).toBe(99);
  });

  test('POST …/import adopts allocations, keeps allocated_at, is idempotent, and fails whole with details per item', async () => {
    const body = { allocations: [{ value: 120, owner: 'vpc-1', allocated_at: '2025-01-02T03:04:05Z' }, { value: 121, owner: 'vpc-2', labels: { site: 'dc1' } }] };
    expect(parsed(schemas.ImportResult, await json(app, 'POST', '/v1/pools/vlan/import?dry_run=true', body), 200)).toEqual({ imported: 2, unchanged: 0 });
    expect(parsed(schemas.ImportResult, await json(app, 'POST', '/v1/pools/vlan/import', body), 200)).toEqual({ imported: 2, unchanged: 0 });
    expect(parsed(schemas.ImportResult, await json(app, 'POST', '/v1/pools/vlan/import', body), 200)).toEqual({ imported: 0, unchanged: 2 });
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vlan/owners/vpc-1'), 200)).toMatchObject({ value: 120, allocated_at: '2025-01-02T03:04:05.000Z' });

    const conflict = expectError(await json(app, 'POST', '/v1/pools/vlan/import', { allocations: [{ value: 130, owner: 'ok' }, { value: 150, owner: 'other' }] }), 'VALUE_IN_USE');
    expect(conflict.details).toEqual([{ index: 1, code: 'VALUE_IN_USE', message: expect.stringContaining('150') }]);
    expectError(await call(app, 'GET', '/v1/pools/vlan/owners/ok'), 'NOT_ALLOCATED');

    const bad = expectError(await json(app, 'POST', '/v1/pools/vlan/import', { allocations: [{ value: 131, owner: 'a', allocated_at: 'yesterday' }, { owner: 'b' }] }), 'INVALID_ARGUMENT');
    expect((bad.details as { index: number; message: string }[]).map((d) => [d.index, d.message.split(':')[0]])).toEqual([
      [0, 'allocations[0].allocated_at'],
      [1, 'allocations[1].value'],
    ]);
    expect(expectError(await json(app, 'POST', '/v1/pools/vlan/import', { allocations: [] }), 'INVALID_ARGUMENT').message).toContain('body.allocations');
    const tooMany = { allocations: Array.from({ length: 1001 }, (_, i) => ({ value: 100 + (i % 90), owner: `o${i}` })) };
    expect(expectError(await json(app, 'POST', '/v1/pools/vlan/import', tooMany), 'INVALID_ARGUMENT').message).toContain('1 to 1000');
  });

  test('POST /v1/check/repair on a healthy table mends nothing; a dry run says so too', async () => {
    expect(parsed(schemas.RepairReport, await call(app, 'POST', '/v1/check/repair?dry_run=true'), 200)).toEqual({ repaired: [], next_cursor: null });
    expect(parsed(schemas.RepairReport, await call(app, 'POST', '/v1/check/repair?pool=vlan'), 200)).toEqual({ repaired: [], next_cursor: null });
    expectError(await call(app, 'POST', '/v1/check/repair?pool=nope'), 'POOL_NOT_FOUND');
    expectError(await call(app, 'POST', '/v1/check/repair?dry_run=maybe'), 'INVALID_ARGUMENT');
  });

  test('DELETE /v1/pools/{pool}: 409 POOL_NOT_EMPTY while it holds anything, 204 once empty, then POOL_NOT_FOUND', async () => {
    expect((await allocate(app, 'spare', { owner: 'last' })).status).toBe(201);
    expectError(await call(app, 'DELETE', '/v1/pools/spare'), 'POOL_NOT_EMPTY');
    expect((await call(app, 'DELETE', '/v1/pools/spare/owners/last')).status).toBe(204);
    expect((await call(app, 'DELETE', '/v1/pools/spare')).status).toBe(204);
    expectError(await call(app, 'GET', '/v1/pools/spare'), 'POOL_NOT_FOUND');
    expectError(await call(app, 'DELETE', '/v1/pools/spare'), 'POOL_NOT_FOUND');
    expect(parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200).pools.map((p) => p.name)).toEqual(['lo', 'vlan']);
  });
});
