/**
 * The CLI on labels and owners, against the application served on a free port over DynamoDB Local:
 * `allocate --label`, `label` (key=value sets, key- removes), `allocations --label`, and `owner`.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Run, runCli } from '../support/cli-process.js';
import { type ServedApp, serveApp } from '../support/served-app.js';

const POOLS = '[pools.vni]\ntype = "integer"\nranges = [{ start = 7000, end = 7100 }]\n[pools.lo]\ntype = "ipv4"\nprefix = "10.8.0.0/24"';

describe('resource-pool on labels and owners', () => {
  let app: ServedApp;
  const cli = (...args: string[]): Promise<Run> => runCli([...args, '--endpoint', app.url], { RESOURCE_POOLS_ENDPOINT: '', NO_COLOR: '' });

  beforeAll(async () => {
    app = await serveApp(POOLS);
  });

  afterAll(async () => {
    await app?.close();
  });

  test('allocate --label, label key=value / key-, allocations --label, owner', async () => {
    const made = await cli('allocate', 'vni', '--owner', 'vpc-42', '--label', 'vpc=vpc-42', '--label', 'site=dc1', '--json');
    expect(made.code, made.stderr).toBe(0);
    expect(JSON.parse(made.stdout)).toMatchObject({ labels: { vpc: 'vpc-42', site: 'dc1' }, allocated_by: 'local' });
    expect((await cli('allocate', 'vni', '--owner', 'vpc-43', '--label', 'vpc=vpc-43')).code).toBe(0);
    expect((await cli('allocate', 'lo', '--owner', 'vpc-42')).code).toBe(0);

    const relabelled = await cli('label', 'vni', '--owner', 'vpc-42', 'tier=gold', 'site-');
    expect(relabelled.code, relabelled.stderr).toBe(0);
    expect(relabelled.stdout).toContain('now carries: vpc=vpc-42 tier=gold');

    const filtered = JSON.parse((await cli('allocations', 'vni', '--label', 'tier=gold', '--json')).stdout);
    expect(filtered.allocations.map((a: { owner: string }) => a.owner)).toEqual(['vpc-42']);
    const text = await cli('allocations', 'vni', '--label', 'vpc=vpc-43');
    expect(text.stdout).toContain('vpc=vpc-43');
    expect(text.stdout).not.toContain('vpc-42');

    const owner = await cli('owner', 'vpc-42');
    expect(owner.code).toBe(0);
    expect(owner.stdout).toMatch(/^POOL\s+VALUE/m);
    expect(owner.stdout).toMatch(/^lo\s+10\.8\.0\.\d+/m);
    expect(owner.stdout).toMatch(/^vni\s+70\d\d\s.*tier=gold/m);
    expect(JSON.parse((await cli('owner', 'nobody', '--json')).stdout)).toEqual({ allocations: [] });
  });

  test('a label change that is neither key=value nor key- is a usage error; a patch of nothing held is NOT_ALLOCATED', async () => {
    const bad = await cli('label', 'vni', '--owner', 'vpc-42', 'justakey');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('key=value (set) or key- (remove)');
    const none = await cli('label', 'vni', '--owner', 'nobody', 'a=b');
    expect(none.code).toBe(3);
    expect(none.stderr).toContain('NOT_ALLOCATED');
  });
});
