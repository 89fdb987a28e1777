/**
 * The CLI on batches, against the application served on a free port over DynamoDB Local:
 * `batch -f <file.json>` and `release-batch -f <file.json>`, as tables and with --json, and an error
 * that lists the items that failed.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Run, runCli } from '../support/cli-process.js';
import { type ServedApp, serveApp } from '../support/served-app.js';

const POOLS = '[pools.vni]\ntype = "integer"\nranges = [{ start = 7000, end = 7100 }]\n[pools.vlan]\ntype = "integer"\nranges = [{ start = 100, end = 104 }]\n[pools.lo]\ntype = "ipv4"\nprefix = "10.8.0.0/24"';

describe('resource-pool batch and release-batch', () => {
  let app: ServedApp;
  const dir = mkdtempSync(join(tmpdir(), 'cli-batch-'));
  const cli = (...args: string[]): Promise<Run> => runCli([...args, '--endpoint', app.url], { RESOURCE_POOLS_ENDPOINT: '', NO_COLOR: '' });
  const file = (name: string, json: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, typeof json === 'string' ? json : JSON.stringify(json));
    return path;
  };

  beforeAll(async () => {
    app = await serveApp(POOLS);
  });

  afterAll(async () => {
    await app?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const VPC = {
    allocations: [
      { pool: 'vni', owner: 'vpc-42', labels: { vpc: 'vpc-42' } },
      { pool: 'vlan', owner: 'vpc-42' },
      { pool: 'lo', owner: 'vpc-42:gw', value: '10.8.0.9' },
      { pool: 'lo', owner: 'vpc-42:dpu-1' },
    ],
  };

  test('batch --json answers the API\'s allocations; again, the same; as a table, every item', async () => {
    const path = file('vpc.json', VPC);
    const made = await cli('batch', '-f', path, '--json');
    expect(made.code, made.stderr).toBe(0);
    const body = JSON.parse(made.stdout) as { allocations: { pool: string; owner: string; value: number | string; labels: Record<string, string> }[] };
    expect(body.allocations.map((a) => [a.pool, a.owner])).toEqual(VPC.allocations.map((a) => [a.pool, a.owner]));
    expect(body.allocations[2].value).toBe('10.8.0.9');
    expect(body.allocations[0].labels).toEqual({ vpc: 'vpc-42' });
    expect(JSON.parse((await cli('batch', '-f', path, '--json')).stdout)).toEqual(body);

    const text = await cli('batch', '-f', path);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('every item was already held as asked; nothing new was allocated');
    expect(text.stdout).toMatch(/^POOL\s+VALUE\s+SIZE\s+OWNER\s+LABELS/m);
    expect(text.stdout).toMatch(/^lo\s+10\.8\.0\.9\s+1 value\s+vpc-42:gw/m);
    expect(text.stdout).toMatch(/^vni\s+70\d\d\s+1 value\s+vpc-42\s+vpc=vpc-42/m);
  });

  test('a failing batch allocates nothing and lists the items that failed; exit 3', async () => {
    const path = file('bad.json', { allocations: [{ pool: 'vlan', owner: 'a' }, { pool: 'lo', owner: 'b', value: '10.8.0.9' }, { pool: 'nope', owner: 'c' }] });
    const text = await cli('batch', '-f', path);
    expect(text.code).toBe(3);
    expect(text.stderr).toMatch(/^resource-pool: VALUE_IN_USE: item 1 of the batch: .*nothing was allocated/m);
    expect(text.stderr).toContain("  item 1: VALUE_IN_USE: 10.8.0.9 in pool 'lo' is held by another owner");
    expect(text.stderr).toContain("  item 2: POOL_NOT_FOUND: no pool named 'nope'");
    const json = await cli('batch', '-f', path, '--json');
    expect(json.code).toBe(3);
    expect(JSON.parse(json.stdout).error.details.map((d: { index: number }) => d.index)).toEqual([1, 2]);
    const who = await cli('who', 'vlan', '100', '--json');
    expect(who.code === 0 ? JSON.parse(who.stdout).owner : 'nobody').not.toBe('a');

    expect((await cli('batch', '-f', file('not.json', '{"allocations": ['))).stderr).toContain('is not JSON');
    expect((await cli('batch', '-f', join(dir, 'missing.json'))).code).toBe(2);
  });

  test('release-batch releases in one step and says what held nothing; --json is the API\'s answer', async () => {
    const path = file('release.json', { releases: [{ pool: 'vni', owner: 'vpc-42' }, { pool: 'lo', owner: 'vpc-42:gw' }, { pool: 'vlan', owner: 'nobody' }] });
    const text = await cli('release-batch', '-f', path);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain('released 2 of 3 (the others held nothing there)');
    expect(text.stdout).toMatch(/^vlan\s+nobody\s+no \(held nothing\)/m);
    const again = await cli('release-batch', '-f', path, '--json');
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toEqual({
      releases: [
        { pool: 'vni', owner: 'vpc-42', released: false },
        { pool: 'lo', owner: 'vpc-42:gw', released: false },
        { pool: 'vlan', owner: 'nobody', released: false },
      ],
    });
    expect((await cli('owner', 'vpc-42', '--json')).stdout).toContain('"pool": "vlan"');
  });
});
