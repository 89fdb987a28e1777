// Integer kinds through the HTTP API against DynamoDB Local: a pool's kind is stored with it and shown
// in the Pool, its bounds hold for every file that creates or grows it, and it cannot change.
import { beforeAll, describe, expect, test } from 'vitest';
import * as schemas from '../../functions/http/schemas.js';
import { type App, allocate, call, expectError, parsed, poolsApp } from '../support/http-api.js';

const toml = (body: string) => ({ body, headers: { 'content-type': 'application/toml' } });

describe('integer kinds on DynamoDB Local', () => {
  let app: App;
  beforeAll(async () => { app = await poolsApp(); });

  test('the kind is registered and shown; pools without one show null', async () => {
    const file = '[pools.k-vlan]\ntype = "integer"\nkind = "vlan"\nranges = [{ start = 3000, end = 3010 }]\n';
    parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config', toml(file)), 200);
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/k-vlan'), 200)).toMatchObject({ kind: 'vlan', size: 10 });
    const { pools } = parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200);
    expect(pools.find((p) => p.name === 'vni')?.kind).toBeNull();
    expect(pools.find((p) => p.name === 'lo')?.kind).toBeNull();
  });

  test('a file past the bound is INVALID_CONFIG at its place, also when it grows the pool without naming the kind', async () => {
    const created = expectError(await call(app, 'POST', '/v1/config', toml('[pools.k-big]\ntype = "integer"\nkind = "vlan"\nranges = [{ start = 1, end = 5001 }]\n')), 'INVALID_CONFIG');
    expect(created.details).toEqual([{ path: 'pools.k-big.ranges[0].end', message: expect.stringContaining('highest vlan value 4,094') }]);
    expectError(await call(app, 'GET', '/v1/pools/k-big'), 'POOL_NOT_FOUND');

    const grow = expectError(await call(app, 'POST', '/v1/config', toml('[pools.k-vlan]\ntype = "integer"\nranges = [{ start = 4000, end = 4100 }]\n')), 'INVALID_CONFIG');
    expect(grow.details).toEqual([{ path: 'pools.k-vlan.ranges[0].end', message: expect.stringContaining('at most 4,095') }]);
    const grown = parsed(schemas.ConfigResult, await call(app, 'POST', '/v1/config', toml('[pools.k-vlan]\ntype = "integer"\nranges = [{ start = 4000, end = 4095 }]\n')), 200);
    expect(grown.pools).toEqual([{ name: 'k-vlan', action: 'grown', added: 95, size: 105 }]);
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/k-vlan'), 200)).toMatchObject({ kind: 'vlan', max: 4094 });
  });

  test('changing the kind is INVALID_CONFIG and changes nothing', async () => {
    const changed = expectError(await call(app, 'POST', '/v1/config', toml('[pools.k-vlan]\ntype = "integer"\nkind = "vni"\nranges = [{ start = 3000, end = 3020 }]\n')), 'INVALID_CONFIG');
    expect(changed.details).toEqual([{ path: 'pools.k-vlan.kind', message: expect.stringContaining('registered with kind "vlan"; its kind cannot change') }]);
    const added = expectError(await call(app, 'POST', '/v1/config', toml('[pools.tiny]\ntype = "integer"\nkind = "vni"\n')), 'INVALID_CONFIG');
    expect(added.details).toEqual([{ path: 'pools.tiny.kind', message: expect.stringContaining('registered without a kind') }]);
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/k-vlan'), 200)).toMatchObject({ kind: 'vlan', size: 105 });
    expect(parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/tiny'), 200).kind).toBeNull();
  });

  test('an explicit value outside the kind is outside the pool', async () => {
    expectError(await allocate(app, 'k-vlan', { owner: 'o-1', value: 4095 }), 'VALUE_NOT_IN_POOL');
    expect(parsed(schemas.Allocation, await allocate(app, 'k-vlan', { owner: 'o-1', value: 4094 }), 201).value).toBe(4094);
  });
});
