// Prefix pools and blocks (docs/CONFIG.md "Prefix pools", docs/API.md "Blocks") through the application
// in-process against DynamoDB Local: what a prefix pool holds, blocks asked by prefix_length or size,
// explicit blocks, their errors, lookups and releases by any value inside, and check. The tests of
// this file share one table, in order.
import { beforeAll, describe, expect, test } from 'vitest';
import * as schemas from '../../functions/http/schemas.js';
import { allocate, type App, call, expectError, parsed, poolsApp } from '../support/http-api.js';

const POOLS = `
[pools.dpu-v6]
type = "ipv6-prefix"
prefix = "2001:db8:100::/48"
delegate_prefix_len = 64

[pools.node-blocks]
type = "ipv4-prefix"
prefix = "10.244.0.0/16"
delegate_prefix_len = 26
exclude = ["10.244.255.0/24"]

[pools.pair]
type = "ipv6-prefix"
prefix = "2001:db8:ffff::/127"
delegate_prefix_len = 128

[pools.whole]
type = "ipv6-prefix"
prefix = "2001:db8:eeee::/56"
delegate_prefix_len = 56

[pools.net24]
type = "ipv4"
prefix = "10.9.0.0/24"

[pools.tenant]
type = "ipv4"
ranges = [{ start = "10.0.0.0", end = "10.1.0.0" }]

[pools.vlans]
type = "integer"
ranges = [{ start = 0, end = 4096 }]
`;

const pool = async (app: App, name: string) => parsed(schemas.Pool, await call(app, 'GET', `/v1/pools/${name}`), 200);
const made = async (app: App, name: string, json: unknown, status = 201) => parsed(schemas.Allocation, await allocate(app, name, json), status);

describe('prefix pools and blocks on DynamoDB Local', () => {
  let app: App;
  beforeAll(async () => {
    app = await poolsApp(POOLS);
  });

  test('a /48 delegated as /64s holds 65,536 values, shown as CIDRs', async () => {
    const p = await pool(app, 'dpu-v6');
    expect(p).toMatchObject({ type: 'ipv6-prefix', size: 65_536, used: 0, min: '2001:db8:100::/64', max: '2001:db8:100:ffff::/64', delegate_prefix_len: 64 });
    expect(p.ranges).toEqual([{ start: '2001:db8:100::/64', end: '2001:db8:101::/64', auto_assign: true, size: 65_536 }]);
    const one = await made(app, 'dpu-v6', { owner: 'dpu-1' });
    expect(one.size).toBe(1);
    expect(one.value).toMatch(/^2001:db8:100:[0-9a-f:]*\/64$/);
    // In a path, a prefix is named by its first address.
    const first = (one.value as string).split('/')[0];
    expect(parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/dpu-v6/allocations/${encodeURIComponent(first)}`), 200)).toEqual(one);
  });

  test('a prefix pool excludes every value an excluded prefix overlaps; a /127 as /128s is 2 values, a /56 as /56 is 1', async () => {
    // 1,024 /26s, of which the 4 inside 10.244.255.0/24 are excluded.
    expect(await pool(app, 'node-blocks')).toMatchObject({ size: 1020, min: '10.244.0.0/26', max: '10.244.254.192/26', delegate_prefix_len: 26 });
    expect(await pool(app, 'pair')).toMatchObject({ size: 2, min: '2001:db8:ffff::/128', max: '2001:db8:ffff::1/128' });
    expect(await pool(app, 'whole')).toMatchObject({ size: 1, min: '2001:db8:eeee::/56', max: '2001:db8:eeee::/56' });
    expect(await made(app, 'whole', { owner: 'only' })).toMatchObject({ value: '2001:db8:eeee::/56', size: 1 });
    expectError(await allocate(app, 'whole', { owner: 'second' }), 'RESOURCE_EXHAUSTED');
    expect(await made(app, 'pair', { owner: 'both', prefix_length: 127 })).toMatchObject({ value: '2001:db8:ffff::/127', size: 2 });
  });

  test('a block of a prefix pool: a /60 is sixteen /64s, found by any of them, released whole', async () => {
    const block = await made(app, 'dpu-v6', { owner: 'rack-1', prefix_length: 60 });
    expect(block.size).toBe(16);
    expect(block.value).toMatch(/\/60$/);
    expect(await pool(app, 'dpu-v6')).toMatchObject({ used: 17, free: 65_536 - 17 });
    // The last /64 of the block answers the block.
    const [address] = (block.value as string).split('/');
    const groups = address.replace(/::$/, '').split(':');
    const last = `${[...groups.slice(0, 3), (parseInt(groups[3] ?? '0', 16) + 15).toString(16)].join(':')}::`;
    expect(parsed(schemas.Allocation, await call(app, 'GET', `/v1/pools/dpu-v6/allocations/${encodeURIComponent(last)}`), 200)).toEqual(block);
    expect((await call(app, 'DELETE', `/v1/pools/dpu-v6/allocations/${encodeURIComponent(last)}?owner=rack-1`)).status).toBe(204);
    expect((await pool(app, 'dpu-v6')).used).toBe(1);
    expectError(await call(app, 'GET', `/v1/pools/dpu-v6/allocations/${encodeURIComponent(address)}`), 'NOT_ALLOCATED');
  });

  test('a prefix-defined /24 serves fourteen /28s (never one with the network or broadcast address), then names the largest free block', async () => {
    const blocks = await Promise.all(Array.from({ length: 14 }, (_, i) => made(app, 'net24', { owner: `node-${i}`, prefix_length: 28 })));
    const starts = blocks.map((b) => Number((b.value as string).split('/')[0].split('.')[3])).sort((a, b) => a - b);
    expect(starts).toEqual(Array.from({ length: 14 }, (_, i) => 16 * (i + 1)));
    expect(blocks.every((b) => b.size === 16 && (b.value as string).endsWith('/28'))).toBe(true);
    expect((await pool(app, 'net24')).used).toBe(14 * 16);
    const full = expectError(await allocate(app, 'net24', { owner: 'node-late', prefix_length: 28 }), 'RESOURCE_EXHAUSTED');
    expect(full.message).toContain('no free /28 in net24; the largest free block is a /29');
    expect(full.details).toMatchObject({ largest_free_block: 8 });
    // Single values remain: .1-.15 and .240-.254.
    expect(await made(app, 'net24', { owner: 'node-late' })).toMatchObject({ size: 1 });
  });

  test('explicit blocks: a CIDR value, or a first value with prefix_length; misaligned, partly taken and conflicting requests change nothing', async () => {
    const block = await made(app, 'tenant', { owner: 'vpc-1', value: '10.0.16.0/24' });
    expect(block).toMatchObject({ value: '10.0.16.0/24', size: 256 });
    expect(await made(app, 'tenant', { owner: 'vpc-1', value: '10.0.16.0', prefix_length: 24 }, 200)).toEqual(block);
    expect(await made(app, 'tenant', { owner: 'vpc-1', prefix_length: 24 }, 200)).toEqual(block);

    const owner = expectError(await allocate(app, 'tenant', { owner: 'vpc-1', prefix_length: 25 }), 'OWNER_CONFLICT');
    expect(owner.message).toContain('10.0.16.0/24');
    expectError(await allocate(app, 'tenant', { owner: 'vpc-1' }), 'OWNER_CONFLICT');

    const misaligned = expectError(await allocate(app, 'tenant', { owner: 'vpc-2', value: '10.0.17.8', prefix_length: 24 }), 'INVALID_ARGUMENT');
    expect(misaligned.message).toContain('10.0.17.0/24');
    expectError(await allocate(app, 'tenant', { owner: 'vpc-2', value: '10.0.17.0/16' }), 'INVALID_ARGUMENT');
    expectError(await allocate(app, 'tenant', { owner: 'vpc-2', value: '10.0.17.0/24', prefix_length: 25 }), 'INVALID_ARGUMENT');

    await made(app, 'tenant', { owner: 'host-5', value: '10.0.17.5' });
    const taken = expectError(await allocate(app, 'tenant', { owner: 'vpc-2', value: '10.0.17.0/24' }), 'VALUE_IN_USE');
    expect(taken.message).toContain('10.0.17.5');
    expectError(await allocate(app, 'tenant', { owner: 'vpc-2', value: '10.0.16.128/25' }), 'VALUE_IN_USE');
    expectError(await allocate(app, 'tenant', { owner: 'vpc-2', value: '10.1.0.0/24' }), 'VALUE_NOT_IN_POOL');
    expect((await pool(app, 'tenant')).used).toBe(257);
    expectError(await call(app, 'GET', '/v1/pools/tenant/owners/vpc-2'), 'NOT_ALLOCATED');
  });

  test('a block is looked up by any value inside and released whole, by value or by owner', async () => {
    const block = await made(app, 'tenant', { owner: 'vpc-1', prefix_length: 24 }, 200);
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/tenant/allocations/10.0.16.77'), 200)).toEqual(block);
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/tenant/owners/vpc-1'), 200)).toEqual(block);
    const listed = parsed(schemas.AllocationPage, await call(app, 'GET', '/v1/pools/tenant/allocations'), 200).allocations;
    expect(listed.map((a) => [a.value, a.size])).toEqual([['10.0.16.0/24', 256], ['10.0.17.5', 1]]);
    // Someone else naming a value inside it releases nothing.
    expectError(await call(app, 'DELETE', '/v1/pools/tenant/allocations/10.0.16.200?owner=host-5'), 'OWNER_MISMATCH');
    expect((await call(app, 'DELETE', '/v1/pools/tenant/allocations/10.0.16.200?owner=vpc-1')).status).toBe(204);
    expect((await pool(app, 'tenant')).used).toBe(1);
    const again = await made(app, 'tenant', { owner: 'vpc-1', value: '10.0.16.0/24' });
    expect((await call(app, 'DELETE', '/v1/pools/tenant/owners/vpc-1')).status).toBe(204);
    expect((await pool(app, 'tenant')).used).toBe(1);
    expect(again.size).toBe(256);
  });

  test('max_block_size: at least 1/16 of the range; a block of that size is served, a larger one (/0 included) is INVALID_ARGUMENT naming it', async () => {
    const max = (await pool(app, 'tenant')).max_block_size;
    expect(max).toBeGreaterThanOrEqual(65_536 / 16);
    expect(Number.isInteger(Math.log2(max))).toBe(true);
    expect((await pool(app, 'vlans')).max_block_size).toBeGreaterThanOrEqual(4096 / 16);
    const longest = 32 - Math.log2(max);
    expect(await made(app, 'tenant', { owner: 'big', prefix_length: longest })).toMatchObject({ size: max });
    for (const prefix_length of [longest - 1, 0]) {
      const e = expectError(await allocate(app, 'tenant', { owner: 'bigger', prefix_length }), 'INVALID_ARGUMENT');
      expect(e.message).toContain(`/${longest}`);
      expect(e.details).toMatchObject({ max_block_size: max });
    }
    expect((await call(app, 'DELETE', '/v1/pools/tenant/owners/big')).status).toBe(204);
  });

  test('integer blocks: size, a power of two, aligned on itself', async () => {
    const block = await made(app, 'vlans', { owner: 'fabric-1', size: 16 });
    expect(block.size).toBe(16);
    expect((block.value as number) % 16).toBe(0);
    expect(await made(app, 'vlans', { owner: 'fabric-2', value: 96, size: 32 })).toMatchObject({ value: 96, size: 32 });
    const misaligned = expectError(await allocate(app, 'vlans', { owner: 'fabric-3', value: 100, size: 16 }), 'INVALID_ARGUMENT');
    expect(misaligned.message).toContain('96');
    expect(parsed(schemas.Allocation, await call(app, 'GET', '/v1/pools/vlans/allocations/127'), 200).owner).toBe('fabric-2');
  });

  test.each([
    ['prefix_length in an integer pool', 'vlans', { owner: 'x', prefix_length: 28 }, /prefix_length applies to IP and prefix pools/],
    ['size in an IP pool', 'tenant', { owner: 'x', size: 16 }, /size applies to integer pools/],
    ['a size that is not a power of two', 'vlans', { owner: 'x', size: 12 }, /size must be a power of two/],
    ['a prefix longer than an address', 'tenant', { owner: 'x', prefix_length: 33 }, /prefix_length must be a whole number 0-32/],
    ['a prefix longer than the delegated length', 'dpu-v6', { owner: 'x', prefix_length: 65 }, /prefix_length must be a whole number 0-64/],
    ['prefix_length as a string', 'tenant', { owner: 'x', prefix_length: '24' }, /prefix_length/],
    ['size as a fraction', 'vlans', { owner: 'x', size: 1.5 }, /size/],
  ])('%s is INVALID_ARGUMENT naming the field', async (_name, name, json, message) => {
    expect(expectError(await allocate(app, name, json), 'INVALID_ARGUMENT').message).toMatch(message);
    expectError(await call(app, 'GET', `/v1/pools/${name}/owners/x`), 'NOT_ALLOCATED');
  });

  test('check agrees with every block', async () => {
    const report = parsed(schemas.CheckReport, await call(app, 'GET', '/v1/check'), 200);
    expect(report.pools.filter((p) => !p.ok)).toEqual([]);
    const used = Object.fromEntries(report.pools.map((p) => [p.name, p.used]));
    expect(used).toMatchObject({ 'dpu-v6': 1, pair: 2, whole: 1, net24: 14 * 16 + 1, tenant: 1, vlans: 48 });
  });
});
