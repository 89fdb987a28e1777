/**
 * The `resource-pool` commands that talk to the API, run as child processes (the package's bin, as
 * users run it) against the HTTP application served in-process on a free port, on DynamoDB Local.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { DeleteItemCommand } from '@aws-sdk/client-dynamodb';
import { createAdaptorServer } from '@hono/node-server';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ApiClient, NodeSha256, signingTarget } from '../../cli/client.js';
import { hintFor, percent, valueArgument } from '../../cli/commands.js';
import { createApp } from '../../functions/http/app.js';
import { holdingKey, TABLE_KEYS } from '../../lib/store/keys.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freePort } from '../../local/dynamodb-local.js';
import { BIN, type Run, runCli } from '../support/cli-process.js';
import { freshStore, register, testClient } from '../support/store.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-cli-'));

function cli(endpoint: string, ...args: string[]): Promise<Run> {
  return runCli([...args, '--endpoint', endpoint], { RESOURCE_POOLS_ENDPOINT: '' });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Rows of a borderless table, split on the two-space column gaps. */
function tableRows(text: string): string[][] {
  return text
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s{2,}/));
}

const POOLS = `
[pools.vpc-vni]
type = "integer"
ranges = [{ start = 2024500, end = 2025500 }]

[pools.lo-ip]
type = "ipv4"
prefix = "10.180.62.0/29"

[pools.vtep-v6]
type = "ipv6"
prefix = "2001:db8:0:1::/120"
`;

async function serve(store: PoolStore): Promise<{ url: string; server: Server }> {
  const port = await freePort();
  const server = createAdaptorServer({ fetch: createApp({ store, maxPoolSize: 250_000 }).fetch }) as Server;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${port}`, server };
}

describe('resource-pool against the API', () => {
  let store: PoolStore;
  let url: string;
  let server: Server;

  beforeAll(async () => {
    store = await freshStore();
    await register(store, POOLS);
    ({ url, server } = await serve(store));
    for (const owner of ['a', 'b', 'c']) await store.allocate({ pool: 'vpc-vni', owner }); // 3 of 1,000
    await store.allocate({ pool: 'lo-ip', owner: 'x' }); // 1 of 6
  });

  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
    rmSync(dir, { recursive: true, force: true });
  });

  test('list: the columns, Used as "N (P%)", and --json with the API\'s shape', async () => {
    const [table, json] = await Promise.all([cli(url, 'list'), cli(url, 'list', '--json')]);
    expect(table.code).toBe(0);
    const rows = tableRows(table.stdout);
    expect(rows[0]).toEqual(['NAME', 'TYPE', 'MIN', 'MAX', 'SIZE', 'USED', 'FREE']);
    expect(rows).toContainEqual(['vpc-vni', 'integer', '2024500', '2025499', '1,000', '3 (0.3%)', '997']);
    expect(rows).toContainEqual(['lo-ip', 'ipv4', '10.180.62.1', '10.180.62.6', '6', '1 (16.6%)', '5']);
    expect(rows).toContainEqual(['vtep-v6', 'ipv6', '2001:db8:0:1::1', '2001:db8:0:1::ff', '255', '0 (0%)', '255']);

    expect(json.code).toBe(0);
    const body = JSON.parse(json.stdout);
    expect(body.pools.map((p: { name: string }) => p.name)).toEqual(['lo-ip', 'vpc-vni', 'vtep-v6']);
    expect(body.pools[1]).toMatchObject({ name: 'vpc-vni', type: 'integer', size: 1000, used: 3, free: 997, min: 2024500, max: 2025499 });
    expect(Object.keys(body.pools[1]).sort()).toEqual(
      ['allocation_order', 'auto_assign_free', 'created_at', 'disabled', 'free', 'kind', 'max', 'max_block_size', 'min', 'name', 'ranges', 'scope', 'size', 'type', 'updated_at', 'used', 'utilization'].sort(),
    );
  });

  test('percentages: one decimal, never rounded up to 100%, and a tiny share is not shown as 0%', () => {
    expect(percent(0, 10)).toBe('0%');
    expect(percent(1, 4)).toBe('25%');
    expect(percent(57, 100)).toBe('57%');
    expect(percent(1, 3)).toBe('33.3%');
    expect(percent(9999, 10000)).toBe('99.9%');
    expect(percent(10, 10)).toBe('100%');
    expect(percent(1, 250_000)).toBe('<0.1%');
  });

  test('show: --json is the Pool; an unknown pool exits 3 with the code and message', async () => {
    const [shown, json, unknown, unknownJson] = await Promise.all([
      cli(url, 'show', 'vtep-v6'),
      cli(url, 'show', 'vpc-vni', '--json'),
      cli(url, 'show', 'no-such-pool'),
      cli(url, 'show', 'no-such-pool', '--json'),
    ]);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/Size:\s+255/);
    expect(shown.stdout).toMatch(/^Order:\s+random$/m);
    expect(shown.stdout).not.toMatch(/^Scope:/m);
    expect(shown.stdout).toContain('2001:db8:0:1::100');
    expect(JSON.parse(json.stdout)).toMatchObject({ name: 'vpc-vni', size: 1000, ranges: [{ start: 2024500, end: 2025500, auto_assign: true, size: 1000 }] });

    expect(unknown.code).toBe(3);
    expect(unknown.stderr).toContain('POOL_NOT_FOUND');
    expect(unknown.stderr).toContain('no-such-pool');
    expect(unknownJson.code).toBe(3);
    expect(JSON.parse(unknownJson.stdout)).toEqual({ error: { code: 'POOL_NOT_FOUND', message: expect.stringContaining('no-such-pool') } });
  });

  test('allocate and release: integer values as numbers, IPs as strings, the owner as idempotency key', async () => {
    const first = await cli(url, 'allocate', 'vpc-vni', '--owner', 'vpc-42', '--json');
    expect(first.code).toBe(0);
    const allocation = JSON.parse(first.stdout);
    expect(Object.keys(allocation).sort()).toEqual(['allocated_at', 'allocated_by', 'expires_at', 'labels', 'owner', 'pool', 'size', 'value']);
    expect(allocation).toMatchObject({ pool: 'vpc-vni', owner: 'vpc-42' });
    expect(typeof allocation.value).toBe('number');

    const again = await cli(url, 'allocate', 'vpc-vni', '--owner', 'vpc-42');
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`already holds ${allocation.value}`);

    const explicit = await cli(url, 'allocate', 'vpc-vni', '--owner', 'vpc-43', '--value', '0x1EE4C0', '--json'); // 2024640
    expect(JSON.parse(explicit.stdout)).toMatchObject({ value: 2024640, owner: 'vpc-43' });
    const v6 = await cli(url, 'allocate', 'vtep-v6', '--owner', 'vtep-1', '--value', '2001:db8:0:1::42', '--json');
    expect(JSON.parse(v6.stdout)).toMatchObject({ value: '2001:db8:0:1::42' });

    const taken = await cli(url, 'allocate', 'vtep-v6', '--owner', 'vtep-2', '--value', '2001:db8:0:1::42');
    expect(taken.code).toBe(3);
    expect(taken.stderr).toContain('VALUE_IN_USE');

    const byValue = await cli(url, 'release', 'vtep-v6', '--value', '2001:db8:0:1::42', '--owner', 'vtep-1', '--json');
    expect(byValue.code).toBe(0);
    expect(JSON.parse(byValue.stdout)).toEqual({ released: true, pool: 'vtep-v6', owner: 'vtep-1', value: '2001:db8:0:1::42', size: 1, allocated_at: expect.any(String), labels: {}, allocated_by: 'local', expires_at: null });
    // By owner, it still says what was freed: the value it held, looked up before the release.
    const byOwner = await cli(url, 'release', 'vpc-vni', '--owner', 'vpc-42', '--json');
    expect(JSON.parse(byOwner.stdout)).toEqual({ released: true, ...allocation });
    await expect(store.findByOwner('vpc-vni', 'vpc-42')).rejects.toMatchObject({ code: 'NOT_ALLOCATED' });

    const nothing = await cli(url, 'release', 'vpc-vni', '--owner', 'vpc-42', '--json');
    expect(nothing.code).toBe(3);
    expect(JSON.parse(nothing.stdout).error.code).toBe('NOT_ALLOCATED');
    const text = await cli(url, 'release', 'vpc-vni', '--owner', 'vpc-43');
    expect(text.stdout.trim()).toBe('released 2024640 held by vpc-43 in vpc-vni');
  });

  test('grow --dry-run changes nothing; grow applies; syncs lists it; a rejected file exits 1 with every error', async () => {
    const growth = file('grow.toml', '[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 2024500, end = 2026000 }]\n\n[pools.new-pool]\ntype = "integer"\nranges = [{ start = 1, end = 11 }]\n');
    const poolsBefore = await store.pools();
    const syncsBefore = await store.syncs();

    const dry = await cli(url, 'grow', '-f', growth, '--dry-run', '--json');
    expect(dry.code).toBe(0);
    expect(JSON.parse(dry.stdout)).toEqual({
      applied: false,
      dry_run: true,
      pools: [
        { name: 'vpc-vni', action: 'grown', added: 500, size: 1500 },
        { name: 'new-pool', action: 'created', added: 10, size: 10 },
      ],
      ignored: [],
      warnings: [],
    });
    const dryTable = await cli(url, 'grow', '-f', growth, '--dry-run');
    expect(dryTable.stdout).toContain('dry run, nothing was changed');
    expect(await store.pools()).toEqual(poolsBefore);
    expect(await store.syncs()).toEqual(syncsBefore);

    const applied = await cli(url, 'grow', '-f', growth, '--json');
    expect(JSON.parse(applied.stdout)).toMatchObject({ applied: true, dry_run: false });
    expect((await store.pool('vpc-vni')).size).toBe(1500);

    const syncs = await cli(url, 'syncs', '--json', '--limit', '1');
    expect(JSON.parse(syncs.stdout)).toEqual({
      syncs: [expect.objectContaining({ source: 'http', status: 'applied', result: expect.objectContaining({ applied: true }) })],
    });
    const syncsTable = await cli(url, 'syncs');
    expect(tableRows(syncsTable.stdout)[0]).toEqual(['AT', 'SOURCE', 'STATUS', 'OBJECT', 'DETAIL']);
    expect(syncsTable.stdout).toContain('vpc-vni grown +500');

    const bad = file('bad.toml', '[pools.vpc-vni]\ntype = "ipv4"\n\n[pools.x]\ntype = "integer"\nranges = [{ start = 9, end = 3 }]\n');
    const rejected = await cli(url, 'grow', '-f', bad);
    expect(rejected.code).toBe(1);
    expect(rejected.stderr).toContain('pools.vpc-vni.type');
    expect(rejected.stderr).toContain('pools.x.ranges[0].end');
    const rejectedJson = await cli(url, 'grow', '-f', bad, '--json');
    expect(rejectedJson.code).toBe(1);
    const error = JSON.parse(rejectedJson.stdout).error;
    expect(error.code).toBe('INVALID_CONFIG');
    expect(error.details.map((d: { path: string }) => d.path)).toEqual(expect.arrayContaining(['pools.vpc-vni.type', 'pools.x.ranges[0].end']));

    const missing = await cli(url, 'grow', '-f', join(dir, 'nope.toml'));
    expect(missing.code).toBe(2);
  });

  test('check: exit 0 and {ok, pools} when consistent; exit 1 with the problem when an allocation record is lost', async () => {
    const own = await freshStore();
    await register(own, POOLS);
    await own.allocate({ pool: 'lo-ip', owner: 'dpu-1' });
    const { url: ownUrl, server: ownServer } = await serve(own);
    try {
      const ok = await cli(ownUrl, 'check', '--json');
      expect(ok.code).toBe(0);
      const report = JSON.parse(ok.stdout);
      expect(report.ok).toBe(true);
      expect(report.pools).toContainEqual({ name: 'lo-ip', ok: true, size: 6, used: 1, allocations: 1, problems: [] });

      // The record goes, the bit stays: the value is leaked.
      await testClient().send(
        new DeleteItemCommand({
          TableName: own.tableName,
          Key: { [TABLE_KEYS.partitionKey]: { S: holdingKey('lo-ip', 'dpu-1').pk }, [TABLE_KEYS.sortKey]: { S: holdingKey('lo-ip', 'dpu-1').sk } },
        }),
      );
      const [broken, brokenTable] = await Promise.all([cli(ownUrl, 'check', '--json'), cli(ownUrl, 'check')]);
      expect(broken.code).toBe(1);
      const brokenReport = JSON.parse(broken.stdout);
      expect(brokenReport.ok).toBe(false);
      expect(brokenReport.pools.find((p: { name: string }) => p.name === 'lo-ip').problems.length).toBeGreaterThan(0);
      expect(brokenTable.code).toBe(1);
      expect(brokenTable.stdout).toMatch(/lo-ip: .*leaked/);
    } finally {
      ownServer.closeAllConnections();
      await new Promise((r) => ownServer.close(r));
    }
  });

  test('an unreachable endpoint: exit 4, naming the endpoint and how to start the local stack', async () => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const [text, json] = await Promise.all([cli(nobody, 'list'), cli(nobody, 'list', '--json')]);
    expect(text.code).toBe(4);
    expect(text.stderr).toContain(nobody);
    expect(text.stderr).toContain('npm start');
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toEqual({ error: { code: 'UNREACHABLE', message: expect.stringContaining(nobody) } });
  });

  test('usage errors exit 2', async () => {
    const run = await cli(url, 'allocate', 'vpc-vni');
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('--owner');
    expect(() => valueArgument('9007199254740993')).toThrow(/2\^53/);
    expect(valueArgument('0x10')).toBe(16);
    expect(valueArgument('10.0.0.1')).toBe('10.0.0.1');
  });

  test('release --if-held: releasing nothing exits 0 with "released": false; a value someone else holds still fails', async () => {
    const none = await cli(url, 'release', 'vpc-vni', '--owner', 'nobody', '--if-held', '--json');
    expect(none.code).toBe(0);
    expect(JSON.parse(none.stdout)).toEqual({ released: false, pool: 'vpc-vni', owner: 'nobody', value: null, size: 0 });
    const noneText = await cli(url, 'release', 'vtep-v6', '--owner', 'nobody', '--value', '2001:db8:0:1::77', '--if-held');
    expect(noneText.code).toBe(0);
    expect(noneText.stdout).toContain('nothing was released');

    // Without the flag the same call is exit 3, and the hint names the flag.
    const strict = await cli(url, 'release', 'vpc-vni', '--owner', 'nobody');
    expect(strict.code).toBe(3);
    expect(strict.stderr).toContain('NOT_ALLOCATED');
    expect(strict.stderr).toContain('--if-held');

    // 'x' holds a value of lo-ip: another owner naming it is OWNER_MISMATCH, --if-held or not, and it stays held.
    const held = JSON.parse((await cli(url, 'allocate', 'lo-ip', '--owner', 'x', '--json')).stdout) as { value: string };
    const mismatch = await cli(url, 'release', 'lo-ip', '--owner', 'intruder', '--value', held.value, '--if-held');
    expect(mismatch.code).toBe(3);
    expect(mismatch.stderr).toContain('OWNER_MISMATCH');
    expect(mismatch.stderr).toContain('`resource-pool who lo-ip <value>`');
    expect(JSON.parse((await cli(url, 'who', 'lo-ip', held.value, '--json')).stdout)).toMatchObject({ owner: 'x', value: held.value });
  });

  test('--version prints the version of package.json', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
    const [long, short] = await Promise.all([runCli(['--version']), runCli(['-V'])]);
    expect(long).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' });
    expect(short.stdout).toBe(`${pkg.version}\n`);
  });

  test('an endpoint without a scheme (localhost:3000) is a usage error, exit 2, saying what to write', async () => {
    const [flag, env, json] = await Promise.all([
      runCli(['list', '--endpoint', 'localhost:3000']),
      runCli(['list'], { RESOURCE_POOLS_ENDPOINT: '127.0.0.1:3000' }),
      runCli(['list', '--json', '--endpoint', 'localhost:3000']),
    ]);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('did you mean http://localhost:3000?');
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('http://127.0.0.1:3000');
    expect(json.code).toBe(2);
    expect(JSON.parse(json.stdout).error.code).toBe('INVALID_ENDPOINT');
  });

  test('API errors point at CLI commands, not routes; --json keeps the API\'s error as it is', async () => {
    // A value nobody holds: the earlier tests allocated random ones, and any could be 2024501.
    const held = new Set((await store.allocations('vpc-vni', { limit: 1000 })).allocations.map((a) => a.value));
    let free = 2_024_501n;
    while (held.has(free)) free++;
    const [text, json, exhausted] = await Promise.all([
      cli(url, 'allocate', 'no-such-pool', '--owner', 'o'),
      cli(url, 'show', 'no-such-pool', '--json'),
      cli(url, 'who', 'vpc-vni', String(free)),
    ]);
    expect(text.code).toBe(3);
    expect(text.stderr).toContain("POOL_NOT_FOUND: no pool named 'no-such-pool'; `resource-pool list` lists them");
    expect(text.stderr).not.toMatch(/\/v1\//);
    expect(JSON.parse(json.stdout).error.message).not.toContain('resource-pool list');
    expect(exhausted.code).toBe(3);
    expect(exhausted.stderr).toContain('`resource-pool allocations vpc-vni` lists what is held');
    expect(hintFor('RESOURCE_EXHAUSTED', { command: 'allocate', pool: 'lo-ip' })).toContain('resource-pool grow -f');
    expect(hintFor('NOT_FOUND', { command: 'list' })).toContain('resource-pool --version');
  });

  test('syncs: a rejected file shows its first error and (+N more); --all-errors lists every one', async () => {
    const bad = file('three-errors.toml', '[pools.e1]\ntype = "ipv5"\n\n[pools.e2]\ntype = "integer"\nranges = [{ start = 9, end = 3 }]\n\n[pools.e3]\ntype = "integer"\n');
    expect((await cli(url, 'grow', '-f', bad)).code).toBe(1);
    const [cut, all, json] = await Promise.all([
      cli(url, 'syncs', '--limit', '1'),
      cli(url, 'syncs', '--limit', '1', '--all-errors'),
      cli(url, 'syncs', '--limit', '1', '--json'),
    ]);
    const errors = JSON.parse(json.stdout).syncs[0].errors as { path: string; message: string }[];
    expect(errors.length).toBeGreaterThanOrEqual(3);
    expect(cut.stdout).toContain(`(+${errors.length - 1} more; --all-errors shows them)`);
    expect(cut.stdout).not.toContain(errors[errors.length - 1].message);
    expect(all.code).toBe(0);
    for (const e of errors) expect(all.stdout).toContain(`  ${e.path}: ${e.message}`);
  });

  test('the AWS SDK is loaded only when a request is signed', async () => {
    const recorded = (name: string) => join(dir, name);
    const hook = ['--import', pathToFileURL('test/support/record-imports.mjs').href];
    const local = await runCli(['list', '--endpoint', url], { RP_RECORD_IMPORTS: recorded('local.txt'), RESOURCE_POOLS_ENDPOINT: '' }, hook);
    expect(local.code).toBe(0);
    const localImports = readFileSync(recorded('local.txt'), 'utf8');
    expect(localImports).toContain('/dist/cli/main.js');
    expect(localImports).not.toMatch(/@aws-sdk|@smithy/);

    // --sign with credentials from the environment: the local API ignores the signature and answers.
    const signed = await runCli(
      ['list', '--sign', '--endpoint', url],
      { RP_RECORD_IMPORTS: recorded('signed.txt'), AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE', AWS_SECRET_ACCESS_KEY: 'secret', AWS_REGION: 'eu-west-1', AWS_PROFILE: '' },
      hook,
    );
    expect(signed.code).toBe(0);
    const signedImports = readFileSync(recorded('signed.txt'), 'utf8');
    expect(signedImports).toContain('@smithy/signature-v4');
    expect(signedImports).toContain('@aws-sdk/credential-providers');
  });

  test('the bin runs compiled JavaScript: built by prepare into a git-ignored folder, no tsx, no TypeScript', async () => {
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string>; bin: Record<string, string> };
    expect(pkg.scripts.prepare).toContain('build:cli');
    expect(pkg.scripts['build:cli']).toContain('--outdir=dist/cli');
    expect(execFileSync('git', ['check-ignore', 'dist/cli/main.js'], { encoding: 'utf8' }).trim()).toBe('dist/cli/main.js');
    const record = join(dir, 'bin.txt');
    const run = await runCli(['list', '--endpoint', url], { RP_RECORD_IMPORTS: record }, ['--import', pathToFileURL('test/support/record-imports.mjs').href]);
    expect(run.code).toBe(0);
    const loaded = readFileSync(record, 'utf8').trim().split('\n');
    expect(loaded).toContain(pathToFileURL(BIN).href);
    expect(loaded.filter((u) => /\/tsx\/|\.ts$/.test(u))).toEqual([]);
  });
});

describe('SigV4 signing', () => {
  const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };

  test('the node:crypto hash gives the signature of the AWS SigV4 test suite (get-vanilla)', async () => {
    const signer = new SignatureV4({ service: 'service', region: 'us-east-1', credentials, sha256: NodeSha256, applyChecksum: false });
    const signed = await signer.sign(
      { method: 'GET', protocol: 'https:', hostname: 'example.amazonaws.com', path: '/', query: {}, headers: { host: 'example.amazonaws.com' } },
      { signingDate: new Date('2015-08-30T12:36:00Z') },
    );
    expect(signed.headers.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31',
    );
  });

  test('requests to an execute-api endpoint carry Authorization and X-Amz-Date for the region in its name', async () => {
    const seen: { url: string; headers: Record<string, string> }[] = [];
    const fakeFetch = (async (input: string | URL | Request, init?: RequestInit) => {
      seen.push({ url: String(input), headers: init?.headers as Record<string, string> });
      return new Response(JSON.stringify({ pools: [] }), { status: 200, headers: { 'content-type': 'application/json' } });
    }) as typeof fetch;
    const api = new ApiClient({ endpoint: 'https://abc123.execute-api.eu-west-1.amazonaws.com/', credentials, fetch: fakeFetch });
    expect(api.signs).toBe(true);

    await api.request({ method: 'GET', path: '/v1/pools/vtep-v6/allocations', query: { limit: '10' } });

    expect(seen[0].url).toBe('https://abc123.execute-api.eu-west-1.amazonaws.com/v1/pools/vtep-v6/allocations?limit=10');
    const headers = seen[0].headers;
    expect(headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE\/\d{8}\/eu-west-1\/execute-api\/aws4_request, SignedHeaders=[a-z0-9;-]*host[a-z0-9;-]*, Signature=[0-9a-f]{64}$/);
    expect(headers['x-amz-date']).toMatch(/^\d{8}T\d{6}Z$/);
  });

  test('local endpoints are not signed; --sign elsewhere needs a region', () => {
    expect(new ApiClient({ endpoint: 'http://localhost:3000', credentials }).signs).toBe(false);
    expect(signingTarget('https://pools.example.com', { sign: true, env: { AWS_REGION: 'us-west-2' } })).toEqual({ region: 'us-west-2', service: 'execute-api' });
    expect(() => signingTarget('https://pools.example.com', { sign: true, env: {} })).toThrow(/AWS_REGION/);
    expect(signingTarget('https://x.execute-api.cn-north-1.amazonaws.com.cn')).toEqual({ region: 'cn-north-1', service: 'execute-api' });
  });
});

describe('resource-pool list and show with scopes', () => {
  let server: Server | undefined;
  afterAll(async () => {
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  test('list gets a Scope column once a pool has a scope; show names the scope and the order', async () => {
    const store = await freshStore();
    await register(
      store,
      '[pools.fabric-a-vlans]\ntype = "integer"\nkind = "vlan"\nscope = "fabric-a"\nallocation_order = "lowest"\nranges = [{ start = 100, end = 200 }]\n[pools.plain]\ntype = "integer"\nranges = [{ start = 100, end = 200 }]\n',
    );
    let url: string;
    ({ url, server } = await serve(store));
    const [table, shown] = await Promise.all([cli(url, 'list'), cli(url, 'show', 'fabric-a-vlans')]);
    expect(table.code).toBe(0);
    const rows = tableRows(table.stdout);
    expect(rows[0]).toEqual(['NAME', 'TYPE', 'SCOPE', 'MIN', 'MAX', 'SIZE', 'USED', 'FREE']);
    expect(rows).toContainEqual(['fabric-a-vlans', 'integer', 'fabric-a', '100', '199', '100', '0 (0%)', '100']);
    expect(rows).toContainEqual(['plain', 'integer', '(default)', '100', '199', '100', '0 (0%)', '100']);
    expect(shown.code).toBe(0);
    expect(shown.stdout).toMatch(/^Scope:\s+fabric-a$/m);
    expect(shown.stdout).toMatch(/^Order:\s+lowest free value first$/m);
  });
});
