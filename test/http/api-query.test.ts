// Unknown query parameters, on every route of the table: INVALID_ARGUMENT naming the parameter and
// the ones the route accepts, before anything is read or changed (an ignored `?owner=` would answer
// every allocation as if it had filtered).
import { beforeAll, describe, expect, test } from 'vitest';
import { routes } from '../../functions/http/routes.js';
import * as schemas from '../../functions/http/schemas.js';
import { type App, allocate, call, expectError, parsed, poolsApp } from '../support/http-api.js';

const EXAMPLE: Record<string, string> = { pool: 'vni', value: '2024500', owner: 'q-owner' };

const concrete = (path: string) => path.replace(/\{([^}]+)\}/g, (_, name: string) => EXAMPLE[name]);

describe('query parameters on DynamoDB Local', () => {
  let app: App;
  beforeAll(async () => { app = await poolsApp(); });

  test.each(routes.map((r) => [`${r.spec.method.toUpperCase()} ${r.spec.path}`, r.spec] as const))('%s refuses an unknown parameter, naming the accepted ones', async (_name, spec) => {
    const accepted = Object.keys(spec.query?.shape ?? {});
    const answer = await call(app, spec.method.toUpperCase(), `${concrete(spec.path)}?owner-typo=tenant-3`, { body: spec.body ? '{}' : undefined });
    const error = expectError(answer, 'INVALID_ARGUMENT');
    expect(error.message).toContain('query.owner-typo: unknown query parameter');
    expect(error.message).toContain(accepted.length === 0 ? 'takes no query parameters' : `accepts only ${accepted.join(', ')}`);
    expect(error.details).toEqual([{ path: 'query.owner-typo', message: expect.stringContaining(`${spec.method.toUpperCase()} ${spec.path}`) }]);
  });

  test('the issue case: ?owner= on the listing is refused, not ignored; nothing is changed by a refused release', async () => {
    parsed(schemas.Allocation, await allocate(app, 'paged', { owner: 'tenant-3', value: 101 }), 201);
    const list = expectError(await call(app, 'GET', '/v1/pools/paged/allocations?owner=tenant-3'), 'INVALID_ARGUMENT');
    expect(list.message).toBe('query.owner: unknown query parameter; GET /v1/pools/{pool}/allocations accepts only limit, cursor, label');
    expectError(await call(app, 'DELETE', '/v1/pools/paged/allocations/101?owner=tenant-3&force=true'), 'INVALID_ARGUMENT');
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/paged/allocations/101'), 200).owner).toBe('tenant-3');
  });

  test('several unknown parameters are all named; names are shown clipped; accepted ones, empty or stray separators still work', async () => {
    const many = expectError(await call(app, 'GET', `/v1/pools?a=1&b=2&${'x'.repeat(5000)}=3`), 'INVALID_ARGUMENT');
    expect((many.details as { path: string }[]).map((d) => d.path)).toEqual(['query.a', 'query.b', `query."${'x'.repeat(48)}"…`]);
    expect(many.message.length).toBeLessThan(400);
    parsed(schemas.AllocationPage, await call(app, 'GET', '/v1/pools/paged/allocations?&limit=5&cursor='), 200);
    parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools?'), 200);
  });
});
