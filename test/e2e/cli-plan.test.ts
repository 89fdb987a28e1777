// `resource-pool plan` as an operator runs it: offline, no server. Never proposes a pool the service
// would refuse, says how to split one over the limit, names the flag or variable the limit came from.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, test } from 'vitest';

const run = promisify(execFile);

async function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('node', ['bin/resource-pool.js', 'plan', ...args], { env: { ...process.env, MAX_POOL_SIZE: '', ...env } });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const ISSUE_SITE = ['--hosts', '500', '--dpus-per-host', '2', '--vpcs', '300'];

describe('resource-pool plan', () => {
  test('a pool over MAX_POOL_SIZE is proposed as several pools, with what to raise instead', async () => {
    const r = await cli(ISSUE_SITE);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/vpc-dpu-lo\s+300,000\s+375,000\s+3 pools × \/15\s+393,210/);
    expect(r.stdout).toContain('Largest pool accepted: 250,000 (MAX_POOL_SIZE)');
    expect(r.stdout).toContain('use 3 pools of a /15 each (131,070 values), 393,210 in all (e.g. vpc-dpu-lo-1 … vpc-dpu-lo-3), or raise MAX_POOL_SIZE to 524,286');
    expect(r.stdout).not.toMatch(/vpc-dpu-lo\s+[0-9,]+\s+[0-9,]+\s+\/13/);
  });

  test('--json: every pool with its proposal; the flag is named when the flag set the limit', async () => {
    const r = await cli([...ISSUE_SITE, '--max-pool-size', '300000', '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ headroom_percent: 25, max_pool_size: 300_000 });
    expect(out.pools.map((p: { pool: string }) => p.pool)).toEqual(['lo-ip', 'vpc-dpu-lo', 'vpc-vni']);
    expect(out.pools[1]).toMatchObject({
      pool: 'vpc-dpu-lo',
      type: 'ipv4',
      kind: null,
      need: 300_000,
      with_headroom: 375_000,
      prefix_length: 13,
      fits: false,
      split: { pools: 2, prefix_length: 14, values_each: 262_142, values_total: 524_284 },
      raise_max_pool_size_to: 524_286,
      limit: null,
      advice: expect.stringContaining('over --max-pool-size (300,000)'),
    });
    expect(out.pools[2]).toMatchObject({ pool: 'vpc-vni', type: 'integer', kind: 'vni', fits: true, split: null, advice: null });
  });

  test('a need past a limit exits 1 and prints the limit it hit', async () => {
    const r = await cli(['--hosts', '10', '--vpcs', '20000000', '--json'], { MAX_POOL_SIZE: '16777216' });
    expect(r.code).toBe(1);
    const vni = JSON.parse(r.stdout).pools[2];
    expect(vni).toMatchObject({ fits: false, split: null, limit: expect.stringContaining('do not fit in kind "vni"') });
  });

  test('a bad limit is a usage error naming the flag or the variable, with separators', async () => {
    const flag = await cli([...ISSUE_SITE, '--max-pool-size', '18446744073709551615']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toContain('--max-pool-size must be a whole number from 1 to 16,777,216');
    const env = await cli(ISSUE_SITE, { MAX_POOL_SIZE: '20000000' });
    expect(env.code).toBe(2);
    expect(env.stderr).toContain('MAX_POOL_SIZE must be a whole number from 1 to 16,777,216');
  });
});
