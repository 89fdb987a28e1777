// GET /v1/pools and GET /v1/pools/{pool} (docs/API.md), through the application in-process
// against DynamoDB Local.
import { beforeAll, describe, expect, test } from 'vitest';
import * as schemas from '../../functions/http/schemas.js';
import { type App, call, expectError, parsed, poolsApp } from '../support/http-api.js';

describe('HTTP API on DynamoDB Local', () => {
  let app: App;
  beforeAll(async () => { app = await poolsApp(); });

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

  test('a Pool shows its scope (null for the default) and its allocation_order (random unless set)', async () => {
    const lo = parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/lo'), 200);
    expect(lo).toMatchObject({ scope: null, allocation_order: 'random' });
    const registered = await call(app, 'POST', '/v1/config', {
      body: '[pools.fabric-a-vlans]\ntype = "integer"\nkind = "vlan"\nscope = "fabric-a"\nallocation_order = "lowest"\nranges = [{ start = 100, end = 200 }]\n[pools.fabric-b-vlans]\ntype = "integer"\nkind = "vlan"\nscope = "fabric-b"\nranges = [{ start = 100, end = 200 }]\n',
      headers: { 'content-type': 'application/toml' },
    });
    expect(registered.status, JSON.stringify(registered.body)).toBe(200);
    const a = parsed(schemas.Pool, await call(app, 'GET', '/v1/pools/fabric-a-vlans'), 200);
    expect(a).toMatchObject({ scope: 'fabric-a', allocation_order: 'lowest', kind: 'vlan', size: 100, min: 100 });
    const { pools } = parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200);
    expect(pools.find((p) => p.name === 'fabric-b-vlans')).toMatchObject({ scope: 'fabric-b', allocation_order: 'random' });
    // Lowest first, through the API as through the store.
    const first = await call(app, 'POST', '/v1/pools/fabric-a-vlans/allocations', { json: { owner: 'leaf-1' } });
    expect([first.status, (first.body as { value: number }).value]).toEqual([201, 100]);
  });
});
