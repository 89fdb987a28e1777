// POST /v1/config and GET /v1/config/syncs (docs/API.md), through the application in-process
// against DynamoDB Local: additive application, dry runs, every problem of an invalid file, and what
// each sync records. The tests of this file share one table, in order.
import { beforeAll, describe, expect, test } from 'vitest';
import * as schemas from '../../functions/http/schemas.js';
import { type App, call, expectError, parsed, poolsApp } from '../support/http-api.js';

describe('HTTP API on DynamoDB Local', () => {
  let app: App;
  beforeAll(async () => { app = await poolsApp(); });

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
});
