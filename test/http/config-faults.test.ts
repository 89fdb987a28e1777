/**
 * Config faults through the real S3 path (s3rver events → config-sync core → the one registration
 * path) on DynamoDB Local: duplicate, out-of-order and concurrent events, a burst of 20 grow files at
 * once, and every kind of rejected file. A rejected file must leave the table byte-for-byte as it was
 * (apart from its own sync record) and be visible in GET /v1/config/syncs.
 */
import { type AttributeValue, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type ConfigSyncDeps, syncS3Event } from '../../functions/config-sync.js';
import { createApp } from '../../functions/http/app.js';
import { PoolStore } from '../../lib/store/index.js';
import { startTestS3, type TestS3 } from '../support/local-s3.js';
import { freshStore, register, storeOn, testClient } from '../support/store.js';

const quiet = { info: () => {}, warn: () => {}, error: () => {} };

/** Every item but the sync records, sorted and serialized with binaries as base64: the state. */
async function dump(store: PoolStore): Promise<string> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  const client = testClient();
  do {
    const page = await client.send(new ScanCommand({ TableName: store.tableName, ConsistentRead: true, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  const state = items
    .filter((i) => !i.pk.S?.startsWith('SYNC#'))
    .map((i) => JSON.stringify(i, (_k, v) => (v instanceof Uint8Array ? Buffer.from(v).toString('base64') : v)))
    .sort();
  return state.join('\n');
}

describe('config faults through S3', () => {
  let s3: TestS3;
  let client: S3Client;
  const upload = (key: string, body: string) => s3.upload(key, body);

  beforeAll(async () => {
    s3 = await startTestS3();
    client = s3.client;
  });

  afterAll(async () => {
    await s3?.close();
  });

  function depsFor(store: PoolStore): ConfigSyncDeps {
    return { store, s3: client, maxPoolSize: 250_000, logger: quiet };
  }

  const vni = (start: number, end: number, name = 'vpc-vni') => `[pools.${name}]\ntype = "integer"\nranges = [{ start = ${start}, end = ${end} }]\n`;

  test('duplicate, out-of-order and concurrent events for the same and different files end where one ordered pass ends', async () => {
    const store = await freshStore();
    const files = {
      'site/a.toml': vni(1000, 2000),
      'site/b.toml': vni(1000, 2500),
      'site/c.toml': `${vni(1000, 3000)}[pools.lo]\ntype = "ipv4"\nprefix = "10.1.0.0/24"\n`,
      'site/d.toml': '[pools.lo]\ntype = "ipv4"\nprefix = "10.1.0.0/23"\n',
      'rack/e.toml': vni(7000, 7100, 'rack-vlan'),
    };
    const events: S3Event[] = [];
    for (const [key, body] of Object.entries(files)) events.push(await upload(key, body));

    // Every event three times, shuffled, all at once, through independent stores (separate Lambdas).
    const storm = [...events, ...events, ...events].sort(() => Math.random() - 0.5);
    await Promise.all(storm.map((e) => syncS3Event(depsFor(storeOn(store.tableName)), e)));

    const reference = await freshStore();
    for (const body of Object.values(files)) await register(reference, body);
    const shape = (s: PoolStore) => s.pools().then((ps) => ps.map(({ name, type, size, used, runs }) => ({ name, type, size, used, runs })));
    expect(await shape(store)).toEqual(await shape(reference));
    expect(await shape(store)).toMatchObject([
      { name: 'lo', size: 510 },
      { name: 'rack-vlan', size: 100 },
      { name: 'vpc-vni', size: 2000 },
    ]);
    const syncs = await store.syncs(100);
    expect(syncs).toHaveLength(15);
    expect(syncs.every((s) => s.status === 'applied' && s.source === 's3')).toBe(true);
    expect((await store.check()).ok).toBe(true);
  });

  test('a burst of 20 grow files applied concurrently: every one lands, nothing is lost', async () => {
    const store = await freshStore();
    await register(store, vni(0, 100));
    const events: S3Event[] = [];
    for (let i = 1; i <= 20; i++) {
      // Ten grow the same pool with their own range; ten create or grow pools of their own.
      const body = i <= 10 ? vni(i * 1000, i * 1000 + 50) : vni(100_000 + i * 100, 100_000 + i * 100 + 10, `burst-${i % 5}`);
      events.push(await upload(`burst/${i}.toml`, body));
    }
    const allocating = (async () => {
      const s = storeOn(store.tableName);
      for (let i = 0; i < 30; i++) await s.allocate({ pool: 'vpc-vni', owner: `during-burst-${i}` });
    })();
    const outcomes = await Promise.all(events.map((e) => syncS3Event(depsFor(storeOn(store.tableName)), e)));
    await allocating;

    expect(outcomes.flat().map((o) => o.status)).toEqual(Array(20).fill('applied'));
    const pools = await store.pools();
    expect(pools.find((p) => p.name === 'vpc-vni')).toMatchObject({ size: 100 + 10 * 50, used: 30 });
    expect(pools.filter((p) => p.name.startsWith('burst-')).map((p) => p.size)).toEqual([20, 20, 20, 20, 20]);
    expect((await store.syncs(100)).filter((s) => s.status === 'applied')).toHaveLength(21);
    expect((await store.check()).ok).toBe(true);
  });

  test('every kind of rejected file leaves the table byte-for-byte as it was, and is listed in GET /v1/config/syncs', async () => {
    const store = await freshStore();
    await register(
      store,
      `${vni(2024500, 2025500)}[pools.lo-ip]\ntype = "ipv4"\nprefix = "10.180.62.0/26"\n[pools.vtep]\ntype = "ipv6"\nprefix = "2001:db8::/120"\n`,
    );
    await store.allocate({ pool: 'vpc-vni', owner: 'vpc-1' });
    await store.allocate({ pool: 'lo-ip', owner: 'dpu-1' });
    const app = createApp({ store, maxPoolSize: 250_000 });
    const manyRanges = Array.from({ length: 257 }, (_, i) => `{ start = ${i * 10}, end = ${i * 10 + 5} }`).join(', ');
    const cases: [string, string, string][] = [
      ['invalid TOML', '[pools.a\ntype = "integer"', 'line 1, column 9'],
      ['no [pools] table', '[api]\nport = 3000\n', 'pools'],
      ['an empty file', '', 'pools'],
      ['invalid pool name', '[pools."-x"]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]\n', 'pools.-x'],
      ['missing type', '[pools.a]\nranges = [{ start = 1, end = 2 }]\n', 'pools.a.type'],
      ['unknown type', '[pools.a]\ntype = "vlan"\nranges = [{ start = 1, end = 2 }]\n', 'pools.a.type'],
      ['unknown key (a typo)', '[pools.a]\ntype = "integer"\nrange = [{ start = 1, end = 2 }]\n', 'pools.a.range'],
      ['unknown range key', '[pools.a]\ntype = "integer"\nranges = [{ start = 1, end = 2, auto = true }]\n', 'pools.a.ranges[0].auto'],
      ['neither prefix nor ranges', '[pools.a]\ntype = "ipv4"\n', 'pools.a'],
      ['both prefix and ranges for a new pool', '[pools.a]\ntype = "ipv4"\nprefix = "10.9.0.0/30"\nranges = [{ start = "10.9.1.1", end = "10.9.1.5" }]\n', 'pools.a'],
      ['end not after start', '[pools.a]\ntype = "integer"\nranges = [{ start = 5, end = 5 }]\n', 'pools.a.ranges[0].end'],
      ['prefix with host bits', '[pools.a]\ntype = "ipv4"\nprefix = "10.9.0.1/24"\n', 'pools.a.prefix'],
      ['prefix on an integer pool', '[pools.a]\ntype = "integer"\nprefix = "10.9.0.0/24"\n', 'pools.a.prefix'],
      ['integer past 2^53', '[pools.a]\ntype = "integer"\nranges = [{ start = 1, end = "0x20000000000001" }]\n', 'pools.a.ranges[0].end'],
      ['negative integer', '[pools.a]\ntype = "integer"\nranges = [{ start = -1, end = 5 }]\n', 'pools.a.ranges[0].start'],
      ['address of the wrong family', '[pools.a]\ntype = "ipv4"\nranges = [{ start = "2001:db8::1", end = "10.9.0.9" }]\n', 'pools.a.ranges[0].start'],
      ['overlap inside a pool', '[pools.a]\ntype = "integer"\nranges = [{ start = 10, end = 20 }, { start = 15, end = 30 }]\n', 'pools.a.ranges[1]'],
      ['overlap across pools of the file', `${vni(50, 60, 'a')}${vni(55, 65, 'b')}`, 'pools.b.ranges[0]'],
      ['overlap with a registered pool', vni(2025000, 2025010, 'a'), 'pools.a.ranges[0]'],
      ['type change', '[pools.vpc-vni]\ntype = "ipv4"\nprefix = "10.9.0.0/30"\n', 'pools.vpc-vni.type'],
      ['everything excluded', '[pools.a]\ntype = "integer"\nranges = [{ start = 10, end = 12 }]\nexclude = [10, 11]\n', 'pools.a'],
      ['MAX_POOL_SIZE on a new pool', vni(300_000, 550_001, 'a'), 'pools.a'],
      ['MAX_POOL_SIZE after growth', vni(2024500, 2274501), 'pools.vpc-vni'],
      ['more than 256 ranges in a pool', `[pools.a]\ntype = "integer"\nranges = [${manyRanges}]\n`, 'pools.a'],
      ['a valid pool next to an invalid one', `${vni(9000, 9100, 'fine')}[pools.bad]\ntype = "integer"\n`, 'pools.bad'],
      ['a file over 1 MiB', `${vni(9000, 9100, 'fine')}# ${'x'.repeat(1024 * 1024)}\n`, 'file'],
    ];
    for (const [what, body, path] of cases) {
      const before = await dump(store);
      const [outcome] = await syncS3Event(depsFor(store), await upload(`bad/${what.replaceAll(' ', '-')}.toml`, body));
      expect(outcome.status, what).toBe('rejected');
      expect(await dump(store), `${what}: the table changed`).toBe(before);

      const { syncs } = (await (await app.request('/v1/config/syncs')).json()) as { syncs: { status: string; object?: { key: string }; errors?: { path: string }[] }[] };
      expect(syncs[0], what).toMatchObject({ status: 'rejected', object: { key: `bad/${what.replaceAll(' ', '-')}.toml` } });
      expect(syncs[0].errors?.map((e) => e.path), what).toContain(path);
    }
    expect((await store.check()).ok).toBe(true);
  });
});
