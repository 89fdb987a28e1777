/**
 * The config-sync core against a real local S3 (s3rver, through the local stack's own wrapper, which
 * hands on event records in the form AWS delivers them) and DynamoDB Local.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { S3Event, S3EventRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { ConfigSyncFailed, type ConfigSyncDeps, decodeEventKey, encodeEventKey, syncS3Event, type SyncLogger } from '../../functions/config-sync.js';
import { serviceMetrics, publishAggregate } from '../../functions/emf.js';
import { PoolStore } from '../../lib/store/index.js';
import { localS3Client } from '../../local/s3.js';
import { captureEmf } from '../support/emf.js';
import { BUCKET, startTestS3, type TestS3 } from '../support/local-s3.js';
import { freshStore, testClient } from '../support/store.js';


const VNI_1000 = `
[pools.vpc-vni]
type = "integer"
ranges = [{ start = 2024500, end = 2025500 }]
`;
const VNI_1500 = `
[pools.vpc-vni]
type = "integer"
ranges = [{ start = 2024500, end = 2026000 }]
`;

interface LogLine {
  level: 'info' | 'warn' | 'error';
  message: string;
  attributes: Record<string, unknown>;
}

function recordingLogger(lines: LogLine[]): SyncLogger {
  return {
    info: (message, attributes) => lines.push({ level: 'info', message, attributes }),
    warn: (message, attributes) => lines.push({ level: 'warn', message, attributes }),
    error: (message, attributes) => lines.push({ level: 'error', message, attributes }),
  };
}

describe('config sync from S3', () => {
  let s3: TestS3;
  let client: S3Client;
  let store: PoolStore;
  let logs: LogLine[];
  let deps: ConfigSyncDeps;
  const upload = (key: string, body: string) => s3.upload(key, body);

  beforeAll(async () => {
    s3 = await startTestS3();
    client = s3.client;
  });

  afterAll(async () => {
    await s3?.close();
  });

  beforeEach(async () => {
    store = await freshStore();
    logs = [];
    deps = { store, s3: client, maxPoolSize: 250_000, logger: recordingLogger(logs), metrics: serviceMetrics() };
  });

  test('an upload is applied, and recorded with its object', async () => {
    const event = await upload('pools/site.toml', VNI_1000);
    expect(event.Records[0].eventName).toBe('ObjectCreated:Put');

    const outcomes = await syncS3Event(deps, event);

    expect(outcomes).toHaveLength(1);
    expect(outcomes[0]).toMatchObject({ status: 'applied', result: { applied: true, pools: [{ name: 'vpc-vni', action: 'created', added: 1000, size: 1000 }] } });
    expect((await store.pool('vpc-vni')).size).toBe(1000);
    const [sync] = await store.syncs();
    expect(sync).toMatchObject({
      source: 's3',
      status: 'applied',
      object: { bucket: BUCKET, key: 'pools/site.toml', version_id: null },
      result: { pools: [{ name: 'vpc-vni', action: 'created' }] },
    });
    // The ETag S3 reports for a single-part upload is the MD5 of the body, without its quotes.
    expect(sync.object?.etag).toMatch(/^[0-9a-f]{32}$/);
    expect(logs.find((l) => l.message === 'pool file applied')?.attributes).toMatchObject({ object: { key: 'pools/site.toml' } });
  });

  test('a duplicate event changes nothing, and allocations stay as they are', async () => {
    const event = await upload('pools/site.toml', VNI_1000);
    await syncS3Event(deps, event);
    const { allocation } = await store.allocate({ pool: 'vpc-vni', owner: 'vpc-42' });

    const again = await syncS3Event(deps, event);

    expect(again[0]).toMatchObject({ status: 'applied', result: { pools: [{ name: 'vpc-vni', action: 'unchanged', added: 0, size: 1000 }] } });
    const pool = await store.pool('vpc-vni');
    expect(pool.size).toBe(1000);
    expect(pool.used).toBe(1);
    expect((await store.findByOwner('vpc-vni', 'vpc-42')).value).toBe(allocation.value);
  });

  test('out-of-order versions: each event reads its own version, and the older one cannot shrink the pool', async () => {
    // s3rver keeps no versions, so this client stores each version under a key of its own and serves
    // GetObject{VersionId} from there: enough to see which version each event made the handler read.
    const requestedVersions: (string | undefined)[] = [];
    const versioned = localS3Client(s3.endpoint);
    versioned.middlewareStack.add(
      (next) => async (args) => {
        // Only the handler's GetObject calls go through this client.
        const input = args.input as { Key?: string; VersionId?: string };
        requestedVersions.push(input.VersionId);
        if (input.VersionId) {
          input.Key = `.versions/${input.VersionId}/${input.Key}`;
          delete input.VersionId;
        }
        return next(args);
      },
      { step: 'initialize', name: 'emulateVersions' },
    );
    try {
      const v1 = versionedEvent(await upload('.versions/v1/pools/site.toml', VNI_1000), 'pools/site.toml', 'v1');
      const v2 = versionedEvent(await upload('.versions/v2/pools/site.toml', VNI_1500), 'pools/site.toml', 'v2');
      const ordered = { ...deps, s3: versioned };

      // The newer version's event arrives first.
      const second = await syncS3Event(ordered, v2);
      const first = await syncS3Event(ordered, v1);

      expect(requestedVersions).toEqual(['v2', 'v1']);
      expect(second[0]).toMatchObject({ status: 'applied', object: { version_id: 'v2' }, result: { pools: [{ action: 'created', size: 1500 }] } });
      expect(first[0]).toMatchObject({ status: 'applied', object: { version_id: 'v1' }, result: { pools: [{ action: 'unchanged', size: 1500 }] } });
      const pool = await store.pool('vpc-vni');
      expect(pool.size).toBe(1500);
      const syncs = await store.syncs();
      expect(syncs.map((s) => s.object?.version_id)).toEqual(['v1', 'v2']);
    } finally {
      versioned.destroy();
    }
  });

  test('a rejected file is recorded with every error, logged and counted, changes nothing, and does not throw', async () => {
    await syncS3Event(deps, await upload('pools/site.toml', VNI_1000));
    const before = await store.pools();
    const bad = `
[pools.vpc-vni]
type = "ipv4"
prefix = "10.0.0.0/24"

[pools.new-pool]
type = "integer"
ranges = [{ start = 10, end = 5 }]
`;
    const event = await upload('pools/site.toml', bad);

    const metrics = serviceMetrics();
    const { result: outcomes, documents } = await captureEmf(async () => {
      const result = await syncS3Event({ ...deps, metrics }, event);
      publishAggregate(metrics);
      return result;
    });

    expect(outcomes[0].status).toBe('rejected');
    const errors = outcomes[0].status === 'rejected' ? outcomes[0].errors : [];
    expect(errors.map((e) => e.path)).toEqual(expect.arrayContaining(['pools.vpc-vni.type', 'pools.new-pool.ranges[0].end']));
    expect(await store.pools()).toEqual(before);

    const [sync] = await store.syncs();
    expect(sync).toMatchObject({ source: 's3', status: 'rejected', object: { bucket: BUCKET, key: 'pools/site.toml' } });
    expect(sync.errors).toEqual(errors);
    expect(sync.result).toBeUndefined();

    expect(logs.find((l) => l.level === 'error')).toMatchObject({ message: expect.stringContaining('rejected'), attributes: { errors } });
    expect(documents).toHaveLength(1);
    expect(documents[0]._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'ResourcePools', Dimensions: [[]], Metrics: [{ Name: 'ConfigSyncFailures', Unit: 'Count' }] });
    expect(documents[0].ConfigSyncFailures).toBe(1);
  });

  test('a file over 1 MiB is rejected and recorded without being read or applied', async () => {
    const huge = `${VNI_1000}\n# ${'x'.repeat(1024 * 1024)}\n`;
    const outcomes = await syncS3Event(deps, await upload('pools/huge.toml', huge));
    expect(outcomes).toEqual([
      { status: 'rejected', object: expect.objectContaining({ key: 'pools/huge.toml' }), errors: [{ path: 'file', message: expect.stringContaining('at most 1048576 bytes (1 MiB)') }] },
    ]);
    expect(await store.pools()).toEqual([]);
    expect((await store.syncs())[0]).toMatchObject({ source: 's3', status: 'rejected', errors: [{ path: 'file' }] });
  });

  test('URL-encoded keys in the event are decoded before the object is read and recorded', async () => {
    const key = 'site configs/rack 1+2 (ü).toml';
    const event = await upload(key, VNI_1000);
    // As S3 delivers it: spaces as +, everything else percent-encoded.
    expect(event.Records[0].s3.object.key).toBe('site+configs/rack+1%2B2+(%C3%BC).toml');

    const outcomes = await syncS3Event(deps, event);

    expect(outcomes[0]).toMatchObject({ status: 'applied', object: { key } });
    expect((await store.syncs())[0].object?.key).toBe(key);
    expect(decodeEventKey(encodeEventKey(key))).toBe(key);
    expect(decodeEventKey('bad%E0%A4%A.toml')).toBeUndefined();
  });

  test('objects that are not .toml files are ignored and not recorded', async () => {
    const outcomes = await syncS3Event(deps, await upload('notes/readme.txt', VNI_1000));
    expect(outcomes).toEqual([{ status: 'skipped', key: 'notes/readme.txt', reason: expect.stringContaining('.toml') }]);
    expect(await store.syncs()).toEqual([]);
    expect(await store.pools()).toEqual([]);
  });

  test('counts applied files in ConfigSyncs', async () => {
    const event = await upload('pools/site.toml', VNI_1000);
    const { documents } = await captureEmf(async () => {
      await syncS3Event(deps, event);
      publishAggregate(deps.metrics!);
    });
    expect(documents).toHaveLength(1);
    expect(documents[0].ConfigSyncs).toBe(1);
    expect(documents[0]._aws.CloudWatchMetrics[0].Dimensions).toEqual([[]]);
  });

  test('transient failures (the table is not there) throw, so that Lambda retries; other records are still tried', async () => {
    const missingTable = new PoolStore({ client: testClient(), tableName: 'no-such-table' });
    const good = await upload('pools/site.toml', VNI_1000);
    const event: S3Event = { Records: [...good.Records, ...good.Records] };

    const failed = await syncS3Event({ ...deps, store: missingTable }, event).catch((e: unknown) => e);

    expect(failed).toBeInstanceOf(ConfigSyncFailed);
    expect((failed as ConfigSyncFailed).failures).toHaveLength(2);
    expect(logs.filter((l) => l.level === 'error' && l.message.includes('retried'))).toHaveLength(2);
  });
});

/** The event S3 sends for a given version of `key` in a versioned bucket. */
function versionedEvent(uploaded: S3Event, key: string, versionId: string): S3Event {
  const record: S3EventRecord = uploaded.Records[0];
  return { Records: [{ ...record, s3: { ...record.s3, object: { ...record.s3.object, key: encodeEventKey(key), versionId } } }] };
}
