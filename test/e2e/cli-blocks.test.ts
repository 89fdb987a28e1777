/**
 * The CLI on blocks and prefix pools, and what `list`, `allocations` and `who` show: the package's bin
 * run as a child process against the HTTP application served in-process, on DynamoDB Local.
 */
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { blockText, styleFor, usedCell, useMarker } from '../../cli/format.js';
import { createApp } from '../../functions/http/app.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freePort } from '../../local/dynamodb-local.js';
import { type Run, runCli } from '../support/cli-process.js';
import { freshStore, register } from '../support/store.js';

const POOLS = `
[pools.tenant-v4]
type = "ipv4"
ranges = [{ start = "10.0.0.0", end = "10.1.0.0" }]

[pools.rack-vlan]
type = "integer"
ranges = [{ start = 1024, end = 2048 }]

[pools.dpu-v6]
type = "ipv6-prefix"
prefix = "2001:db8:100::/48"
delegate_prefix_len = 64

[pools.tiny]
type = "integer"
ranges = [{ start = 1, end = 6 }]

[pools.hot]
type = "integer"
ranges = [{ start = 100, end = 110 }]
`;

/** Rows of a borderless table, split on the two-space column gaps. */
function tableRows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));
}

/** Makes the CLI's stdout look like a terminal to it (the output still comes back through a pipe). */
const AS_TTY = ['--import', 'data:text/javascript,process.stdout.isTTY=true'];

describe('resource-pool on blocks and prefix pools', () => {
  let store: PoolStore;
  let url: string;
  let server: Server;
  const cli = (...args: string[]): Promise<Run> => runCli([...args, '--endpoint', url], { RESOURCE_POOLS_ENDPOINT: '', NO_COLOR: '' });

  beforeAll(async () => {
    store = await freshStore();
    await register(store, POOLS);
    const port = await freePort();
    server = createAdaptorServer({ fetch: createApp({ store, maxPoolSize: 250_000 }).fetch }) as Server;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 5; i++) await store.allocate({ pool: 'tiny', owner: `t-${i}` }); // full
    for (let i = 0; i < 8; i++) await store.allocate({ pool: 'hot', owner: `h-${i}` }); // 80%
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  test('allocate --prefix-length: a /24 printed as its CIDR and 256 values; --json is the Allocation', async () => {
    const text = await cli('allocate', 'tenant-v4', '--owner', 'tenant-1', '--prefix-length', '24');
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/^allocated 10\.0\.\d+\.0\/24 \(256 values\) to tenant-1 from tenant-v4\n$/);
    const again = await cli('allocate', 'tenant-v4', '--owner', 'tenant-1', '--prefix-length', '24', '--json');
    const block = JSON.parse(again.stdout);
    expect(Object.keys(block).sort()).toEqual(['allocated_at', 'allocated_by', 'expires_at', 'labels', 'owner', 'pool', 'size', 'value']);
    expect(block).toMatchObject({ pool: 'tenant-v4', owner: 'tenant-1', size: 256 });
    expect(text.stdout).toContain(block.value);

    const explicit = await cli('allocate', 'tenant-v4', '--owner', 'tenant-2', '--prefix-length', '28', '--value', '10.0.255.16', '--json');
    expect(JSON.parse(explicit.stdout)).toMatchObject({ value: '10.0.255.16/28', size: 16 });
  });

  test('allocate --size: an integer block printed as first-last and its count', async () => {
    const text = await cli('allocate', 'rack-vlan', '--owner', 'rack-1', '--size', '16', '--value', '1056');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('allocated 1056-1071 (16 values) to rack-1 from rack-vlan\n');
    const again = await cli('allocate', 'rack-vlan', '--owner', 'rack-1', '--size', '16');
    expect(again.stdout).toContain('rack-1 already holds 1056-1071 (16 values) in rack-vlan');
    const json = await cli('allocate', 'rack-vlan', '--owner', 'rack-1', '--size', '16', '--json');
    expect(JSON.parse(json.stdout)).toMatchObject({ value: 1056, size: 16 });
  });

  test('prefix pools: a value is a CIDR, a block of them says how many prefixes of which length', async () => {
    const one = await cli('allocate', 'dpu-v6', '--owner', 'dpu-1', '--json');
    expect(JSON.parse(one.stdout)).toMatchObject({ value: expect.stringMatching(/^2001:db8:100:[0-9a-f:]*\/64$/), size: 1 });
    const block = await cli('allocate', 'dpu-v6', '--owner', 'dpu-2', '--prefix-length', '60', '--value', '2001:db8:100:10::/60');
    expect(block.stdout).toBe('allocated 2001:db8:100:10::/60 (16 × /64) to dpu-2 from dpu-v6\n');
    expect(blockText({ value: '2001:db8:100:5::/64', size: 1 })).toBe('2001:db8:100:5::/64');
  });

  test('show of a prefix pool names its delegated length and the largest block', async () => {
    const shown = await cli('show', 'dpu-v6');
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Delegates:\s+\/64 prefixes/m);
    const pool = JSON.parse((await cli('show', 'dpu-v6', '--json')).stdout);
    expect(pool).toMatchObject({ type: 'ipv6-prefix', delegate_prefix_len: 64 });
    const bits = Math.log2(pool.max_block_size);
    expect(shown.stdout).toMatch(new RegExp(`^Max block:\\s+${pool.max_block_size.toLocaleString('en-US')} values \\(a /${64 - bits}\\)$`, 'm'));
    const v4 = await cli('show', 'tenant-v4');
    expect(v4.stdout).not.toContain('Delegates:');
    expect(v4.stdout).toMatch(/^Max block:\s+[\d,]+ values \(a \/\d+\)$/m);
  });

  test('--prefix-length and --size take whole numbers, one of them: anything else is a usage error', async () => {
    const runs = await Promise.all([
      cli('allocate', 'tenant-v4', '--owner', 'u', '--prefix-length', '24.5'),
      cli('allocate', 'tenant-v4', '--owner', 'u', '--prefix-length', 'abc'),
      cli('allocate', 'tenant-v4', '--owner', 'u', '--prefix-length', '129'),
      cli('allocate', 'rack-vlan', '--owner', 'u', '--size', '0'),
      cli('allocate', 'rack-vlan', '--owner', 'u', '--size', '16', '--prefix-length', '24'),
    ]);
    for (const run of runs) expect(run.code).toBe(2);
    expect(runs[0].stderr).toContain('--prefix-length');
    expect(runs[3].stderr).toContain('power of two');
    expect(runs[4].stderr).toContain('cannot be used with');
    // A size the API refuses (not a power of two) is the API's answer, exit 3.
    const three = await cli('allocate', 'rack-vlan', '--owner', 'u', '--size', '3');
    expect(three.code).toBe(3);
    expect(three.stderr).toContain('INVALID_ARGUMENT');
  });

  test('allocations follows next_cursor to the end; --json is every allocation in the listing shape', async () => {
    const [text, json, paged] = await Promise.all([
      cli('allocations', 'hot'),
      cli('allocations', 'hot', '--json'),
      cli('allocations', 'hot', '--json', '--page-size', '3'),
    ]);
    expect(text.code).toBe(0);
    const rows = tableRows(text.stdout);
    expect(rows[0]).toEqual(['VALUE', 'SIZE', 'OWNER', 'LABELS', 'ALLOCATED']);
    expect(rows).toHaveLength(9);
    const body = JSON.parse(json.stdout);
    expect(body.next_cursor).toBeNull();
    expect(body.allocations).toHaveLength(8);
    expect(body.allocations.map((a: { value: number }) => a.value)).toEqual([...body.allocations.map((a: { value: number }) => a.value)].sort((a, b) => a - b));
    // Three pages of at most three: the same allocations.
    expect(JSON.parse(paged.stdout)).toEqual(body);
    const blocks = tableRows((await cli('allocations', 'rack-vlan')).stdout);
    expect(blocks).toContainEqual(['1056-1071', '16 values', 'rack-1', expect.any(String)]);
    const tooBig = await cli('allocations', 'dpu-v6', '--page-size', '1001');
    expect(tooBig.code).toBe(2);
  });

  test('who: any value inside a block answers the block; a free value is NOT_ALLOCATED', async () => {
    const inside = await cli('who', 'rack-vlan', '1060');
    expect(inside.stdout).toMatch(/^1060 in rack-vlan is held by rack-1: 1056-1071 \(16 values\), since \S+\n$/);
    const cidr = await cli('who', 'tenant-v4', '10.0.255.16/28', '--json');
    expect(JSON.parse(cidr.stdout)).toMatchObject({ owner: 'tenant-2', value: '10.0.255.16/28', size: 16 });
    const first = JSON.parse((await cli('allocations', 'hot', '--json')).stdout).allocations[0] as { value: number; owner: string };
    const single = await cli('who', 'hot', String(first.value));
    expect(single.stdout).toMatch(new RegExp(`^${first.value} in hot is held by ${first.owner}, since \\S+\n$`));
    const free = await cli('who', 'rack-vlan', '2000');
    expect(free.code).toBe(3);
    expect(free.stderr).toContain('NOT_ALLOCATED');
  });

  test('release of a block by any value inside says what was freed, and frees all of it', async () => {
    await cli('allocate', 'rack-vlan', '--owner', 'rack-9', '--size', '4', '--value', '1200');
    const text = await cli('release', 'rack-vlan', '--owner', 'rack-9', '--value', '1202');
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('released 1200-1203 (4 values) held by rack-9 in rack-vlan\n');
    await cli('allocate', 'tenant-v4', '--owner', 'tenant-9', '--prefix-length', '26', '--value', '10.0.254.0');
    const json = await cli('release', 'tenant-v4', '--owner', 'tenant-9', '--json');
    expect(JSON.parse(json.stdout)).toEqual({ released: true, pool: 'tenant-v4', owner: 'tenant-9', value: '10.0.254.0/26', size: 64, allocated_at: expect.any(String), labels: {}, allocated_by: 'local', expires_at: null });
    expect((await cli('who', 'tenant-v4', '10.0.254.63')).code).toBe(3);
  });

  test('list flags FULL and HIGH (80% or more) pools; piped output is plain, --json unchanged', async () => {
    const [text, json] = await Promise.all([cli('list'), cli('list', '--json')]);
    expect(text.code).toBe(0);
    expect(text.stdout).not.toContain('\u001b[');
    expect(text.stdout).not.toContain('█');
    const rows = tableRows(text.stdout);
    expect(rows).toContainEqual(['tiny', 'integer', '1', '5', '5', '5 (100%) FULL', '0']);
    expect(rows).toContainEqual(['hot', 'integer', '100', '109', '10', '8 (80%) HIGH', '2']);
    expect(rows.find((r) => r[0] === 'rack-vlan')?.[5]).toMatch(/^\d+ \([\d.<]+%\)$/);
    const pools = JSON.parse(json.stdout).pools as Record<string, unknown>[];
    expect(pools.find((p) => p.name === 'tiny')).toMatchObject({ used: 5, free: 0, utilization: 1 });
    expect(JSON.stringify(pools)).not.toMatch(/FULL|HIGH/);
  });

  test('list on a terminal: a bar, and colours unless NO_COLOR is set', async () => {
    const colour = await runCli(['list', '--endpoint', url], { NO_COLOR: '' }, AS_TTY);
    const tinyRow = colour.stdout.split('\n').find((l) => l.startsWith('tiny'))!;
    expect(tinyRow).toContain('\u001b[31m██████████\u001b[0m 5 (100%) \u001b[31mFULL\u001b[0m');
    const hotRow = colour.stdout.split('\n').find((l) => l.startsWith('hot'))!;
    expect(hotRow).toContain('\u001b[33m████████░░\u001b[0m 8 (80%) \u001b[33mHIGH\u001b[0m');

    const plain = await runCli(['list', '--endpoint', url], { NO_COLOR: '1' }, AS_TTY);
    expect(plain.stdout).not.toContain('\u001b[');
    expect(plain.stdout.split('\n').find((l) => l.startsWith('tiny'))).toContain('██████████ 5 (100%) FULL');
    expect((await runCli(['list', '--json', '--endpoint', url], {}, AS_TTY)).stdout).not.toContain('█');
  });

  test('the markers on counts: 80% is HIGH, 79.9% is not, full is FULL; styles follow the stream and NO_COLOR', () => {
    expect(useMarker({ size: 1000, used: 800, free: 200 })).toBe('HIGH');
    expect(useMarker({ size: 1000, used: 799, free: 201 })).toBeUndefined();
    expect(useMarker({ size: 6, used: 6, free: 0 })).toBe('FULL');
    expect(styleFor({ isTTY: true }, {})).toEqual({ bar: true, color: true });
    expect(styleFor({ isTTY: true }, { NO_COLOR: '1' })).toEqual({ bar: true, color: false });
    expect(styleFor({}, {})).toEqual({ bar: false, color: false });
    // A pool one value short of full never shows a full bar.
    expect(usedCell({ size: 1000, used: 999, free: 1 }, { bar: true, color: false })).toBe('█████████░ 999 (99.9%) HIGH');
  });
});
