/**
 * `npm start` end to end, as a child process on free ports: S3 uploads grow pools through the real
 * config-sync code, SIGTERM to npm alone stops everything, and data survives a SIGKILL.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, test } from 'vitest';
import { freePort } from '../../local/dynamodb-local.js';
import { SettingsError, settingsFromEnv } from '../../local/settings.js';
import {
  killStack,
  parentPid,
  processesMatching,
  sleep,
  STACK_TEST_TIMEOUT_MS,
  type StackProcess,
  startStackProcess,
  waitForHealth,
  waitUntilClosed,
} from '../support/stack-process.js';

const started: StackProcess[] = [];
const tempDirs: string[] = [];

afterAll(() => {
  for (const s of started) killStack(s);
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});

async function ports() {
  return { api: await freePort(), ddb: await freePort(), s3: await freePort() };
}

function launch(p: { api: number; ddb: number; s3: number }, env: Record<string, string> = {}): StackProcess {
  const stack = startStackProcess({ PORT: String(p.api), DDB_PORT: String(p.ddb), S3_PORT: String(p.s3), ...env });
  started.push(stack);
  return stack;
}

interface PoolBody {
  name: string;
  size: number;
  used: number;
  ranges: unknown[];
}
interface AllocationBody {
  pool: string;
  owner: string;
  value: number | string;
}
interface SyncBody {
  source: string;
  status: string;
  object?: { key: string };
  errors?: { path: string; message: string }[];
}
interface SyncsBody {
  syncs: SyncBody[];
}

async function getJson<T>(url: string): Promise<{ status: number; body: T }> {
  const res = await fetch(url);
  return { status: res.status, body: (await res.json()) as T };
}

async function eventually<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const found = await probe();
    if (found !== undefined) return found;
    await sleep(200);
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe('npm start', { timeout: STACK_TEST_TIMEOUT_MS }, () => {
  test('S3 uploads grow pools through config-sync, rejected files change nothing, and SIGTERM to npm stops every part', async () => {
    const p = await ports();
    const stack = launch(p, { IN_MEMORY: 'true' });
    const api = `http://127.0.0.1:${p.api}`;
    await waitForHealth(stack, api);
    await eventually('the banner', async () => (stack.output().includes('Stop with Ctrl-C') ? true : undefined));

    expect(stack.output()).toContain(`http://localhost:${p.api}`);
    expect(stack.output()).toContain(`http://localhost:${p.s3}`);
    expect(stack.output()).toContain('curl -s');
    expect((await getJson<PoolBody>(`${api}/v1/pools/vpc-vni`)).body.size).toBe(1000); // config/pools.toml at startup

    const s3 = new S3Client({
      endpoint: `http://127.0.0.1:${p.s3}`,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    try {
      await s3.send(
        new PutObjectCommand({
          Bucket: 'pool-config',
          Key: 'site/grow vni.toml',
          Body: '[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 2024500, end = 2025500 }, { start = 2030000, end = 2030500 }]\n',
        }),
      );
      const grown = await eventually('vpc-vni to grow', async () => {
        const { body } = await getJson<PoolBody>(`${api}/v1/pools/vpc-vni`);
        return body.size === 1500 ? body : undefined;
      });
      expect(grown.ranges).toContainEqual({ start: 2030000, end: 2030500, auto_assign: true, size: 500 });
      const { body: afterGrow } = await getJson<SyncsBody>(`${api}/v1/config/syncs`);
      expect(afterGrow.syncs[0]).toMatchObject({
        source: 's3',
        status: 'applied',
        object: { bucket: 'pool-config', key: 'site/grow vni.toml', version_id: null },
        result: { pools: [{ name: 'vpc-vni', action: 'grown', added: 500, size: 1500 }] },
      });

      const poolsBefore = (await getJson<{ pools: PoolBody[] }>(`${api}/v1/pools`)).body;
      // Uploads are applied in order: once the invalid file's rejection shows, the text file has been seen too.
      await s3.send(new PutObjectCommand({ Bucket: 'pool-config', Key: 'site/notes.txt', Body: 'not a pool file' }));
      await s3.send(
        new PutObjectCommand({
          Bucket: 'pool-config',
          Key: 'site/bad.toml',
          Body: '[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 2040000, end = 2039000 }]\n\n[pools.typo]\ntype = "ipv4"\nprefx = "10.1.0.0/24"\n',
        }),
      );
      const rejected = await eventually('the rejection to be recorded', async () => {
        const { body } = await getJson<SyncsBody>(`${api}/v1/config/syncs`);
        return body.syncs.find((s) => s.status === 'rejected');
      });
      expect(rejected).toMatchObject({ source: 's3', object: { key: 'site/bad.toml' } });
      expect(rejected.errors?.map((e) => e.path)).toEqual(expect.arrayContaining(['pools.vpc-vni.ranges[0].end', 'pools.typo.prefx']));
      const { body: syncsAfter } = await getJson<SyncsBody>(`${api}/v1/config/syncs`);
      expect(syncsAfter.syncs.some((s) => s.object?.key === 'site/notes.txt')).toBe(false);
      expect((await getJson<{ pools: PoolBody[] }>(`${api}/v1/pools`)).body).toEqual(poolsBefore);
      expect(stack.output()).toContain('pools.typo.prefx');
    } finally {
      s3.destroy();
    }

    // As a container runtime or supervisor does it: SIGTERM to the npm process alone.
    stack.npm.kill('SIGTERM');
    await stack.exited;
    expect(await waitUntilClosed([p.api, p.ddb, p.s3])).toEqual([]);
    expect(processesMatching('DynamoDBLocal', `-port ${p.ddb}`)).toEqual([]);
    expect(stack.output()).toContain('stopped');
  });

  test('allocations and their history survive a SIGKILL of the server and a restart on the same DATA_DIR; EVENTS_LOG prints events', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'rp-stack-data-'));
    tempDirs.push(dataDir);
    const p = await ports();
    const api = `http://127.0.0.1:${p.api}`;
    const first = launch(p, { DATA_DIR: dataDir, EVENTS_LOG: 'true' });
    await waitForHealth(first, api);

    const requests: [string, Record<string, unknown>][] = [
      ['vpc-vni', { owner: 'vpc-1' }],
      ['vpc-vni', { owner: 'vpc-2' }],
      ['vpc-vni', { owner: 'vpc-3', value: 2025000 }],
      ['lo-ip', { owner: 'dpu-1' }],
      ['vtep-v6', { owner: 'vtep-1', value: '2001:db8:0:1::42' }],
      ['external-vpc-vni', { owner: 'ext-1', value: 0x2000001 }],
    ];
    const allocations: AllocationBody[] = [];
    for (const [pool, body] of requests) {
      const res = await fetch(`${api}/v1/pools/${pool}/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
      expect(res.status).toBe(201);
      allocations.push((await res.json()) as AllocationBody);
    }

    // A crash: the server process dies at once, without running any shutdown code.
    await eventually('the banner', async () => (first.output().includes('Stop with Ctrl-C') ? true : undefined));
    expect(first.output()).toMatch(/^ {2}history {3}read from the table's change stream, kept 400 days; events are printed here/m);
    // One JSON line per event; the SIGKILL may come before every one is printed (they are not lost: see below).
    await eventually('an event line', async () => (/^\{"source":"resource-pools","detail-type":"Allocation Allocated"/m.test(first.output()) ? true : undefined));
    process.kill(first.serverPid(), 'SIGKILL');
    await first.exited;
    // Java runs under a guard that stops it when the server's pipe closes: no orphan keeps the port.
    expect(await waitUntilClosed([p.api, p.ddb, p.s3])).toEqual([]);
    expect(processesMatching('DynamoDBLocal', `-port ${p.ddb}`)).toEqual([]);

    const second = launch(p, { DATA_DIR: dataDir });
    await waitForHealth(second, api);
    for (const a of allocations) {
      const { status, body } = await getJson<AllocationBody>(`${api}/v1/pools/${a.pool}/owners/${encodeURIComponent(a.owner)}`);
      expect(status).toBe(200);
      expect(body).toEqual(a);
    }
    expect((await getJson<PoolBody>(`${api}/v1/pools/vpc-vni`)).body.used).toBe(3);
    // Every allocation has exactly one history entry, whether the killed stack recorded it or the restarted one did.
    for (const a of allocations) {
      const entries = await eventually(`the history of ${a.owner}`, async () => {
        const { body } = await getJson<{ history: { event: string; value: unknown; by: string }[] }>(`${api}/v1/pools/${a.pool}/owners/${encodeURIComponent(a.owner)}/history`);
        return body.history.length > 0 ? body.history : undefined;
      });
      expect(entries).toEqual([expect.objectContaining({ event: 'allocated', value: a.value, by: 'local' })]);
    }
    // The restart registered config/pools.toml again: additive, so nothing changed.
    expect((await getJson<SyncsBody>(`${api}/v1/config/syncs`)).body.syncs[0]).toMatchObject({
      source: 'startup',
      status: 'applied',
      result: { pools: expect.arrayContaining([expect.objectContaining({ name: 'vpc-vni', action: 'unchanged' })]) },
    });

    second.npm.kill('SIGTERM');
    await second.exited;
    expect(await waitUntilClosed([p.api, p.ddb, p.s3])).toEqual([]);
  });

  test('Ctrl-C (SIGINT to the whole process group) stops cleanly, although the server hears it twice', async () => {
    const p = await ports();
    const stack = launch(p, { IN_MEMORY: 'true', LISTEN_ONLY: 'true' });
    await waitForHealth(stack, `http://127.0.0.1:${p.api}`);
    await eventually('the banner', async () => (stack.output().includes('Stop with Ctrl-C') ? true : undefined));
    // No process between npm and the server relays signals to it: the `tsx` command does, and SIGKILLs
    // its child when a relayed signal is not acknowledged within 30 ms, which a busy stop can miss.
    expect(parentPid(stack.serverPid())).toBe(stack.npm.pid);

    // What a terminal does: every process of the foreground group (npm, node, the guard, Java) gets it.
    process.kill(-stack.npm.pid!, 'SIGINT');
    await stack.exited;

    expect(stack.output()).toContain('stopped: nothing is listening any more');
    expect(stack.output()).not.toContain('exiting without waiting');
    expect(await waitUntilClosed([p.api, p.ddb, p.s3])).toEqual([]);
  });

  test('a rejected POOLS_FILE: every error with its path, a non-zero exit, and nothing left running', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-stack-bad-'));
    tempDirs.push(dir);
    const file = join(dir, 'pools.toml');
    writeFileSync(file, '[pools.a]\ntype = "integer"\nranges = [{ start = 5, end = 1 }]\n\n[pools.b]\ntype = "ipv5"\nprefix = "10.0.0.0/24"\n');
    const p = await ports();
    const stack = launch(p, { IN_MEMORY: 'true', POOLS_FILE: file });

    expect(await stack.exited).not.toBe(0);
    expect(stack.output()).toContain('pools.a.ranges[0].end');
    expect(stack.output()).toContain('pools.b.type');
    expect(stack.output()).toContain('LISTEN_ONLY=true');
    expect(await waitUntilClosed([p.api, p.ddb, p.s3])).toEqual([]);
  });
});

describe('local stack settings', () => {
  test('the documented defaults, paths resolved from the working directory', () => {
    expect(settingsFromEnv({}, '/work')).toEqual({
      port: 3000,
      ddbPort: 8000,
      dynamodbEndpoint: undefined,
      dataDir: '/work/.data',
      inMemory: false,
      poolsFile: '/work/config/pools.toml',
      listenOnly: false,
      s3Port: 4569,
      maxPoolSize: 250_000,
      tableName: 'resource-pools',
      host: '0.0.0.0',
      historyDays: 400,
      eventsLog: false,
    });
    expect(settingsFromEnv({ IN_MEMORY: 'true', LISTEN_ONLY: 'TRUE', DATA_DIR: '/d', MAX_POOL_SIZE: '16_777_216' }, '/work')).toMatchObject({
      inMemory: true,
      listenOnly: true,
      dataDir: '/d',
      maxPoolSize: 16_777_216,
    });
  });

  test('every problem is reported at once', () => {
    let error: unknown;
    try {
      settingsFromEnv({ PORT: '70000', IN_MEMORY: 'yes please', S3_PORT: '8000', MAX_POOL_SIZE: 'lots', HISTORY_DAYS: '0' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SettingsError);
    const problems = (error as SettingsError).problems;
    expect(problems).toHaveLength(5);
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^HISTORY_DAYS must be a whole number of days from 1 to 3650; got "0"/),
        expect.stringMatching(/^PORT="70000"/),
        expect.stringMatching(/^IN_MEMORY="yes please"/),
        expect.stringContaining('MAX_POOL_SIZE'),
        expect.stringMatching(/^DDB_PORT and S3_PORT are both 8000/),
      ]),
    );
    // With DYNAMODB_ENDPOINT, DDB_PORT is not used, so it cannot clash.
    expect(settingsFromEnv({ S3_PORT: '8000', DYNAMODB_ENDPOINT: 'http://localhost:8000' }).s3Port).toBe(8000);
  });
});
