import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { runCli } from '../support/cli-process.js';

const dir = mkdtempSync(join(tmpdir(), 'rp-validate-'));

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return runCli(args, { MAX_POOL_SIZE: '' });
}

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('resource-pool validate', () => {
  test('a valid file: exit 0, each pool with its size and ranges', async () => {
    const r = await cli('validate', 'config/pools.toml', '--json');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.valid).toBe(true);
    expect(out.warnings).toEqual([]);
    expect(out.pools[0]).toEqual({
      name: 'lo-ip',
      type: 'ipv4',
      size: 62,
      ranges: [{ start: '10.180.62.1', end: '10.180.62.63', auto_assign: true, size: 62 }],
    });
    expect(out.pools.find((p: { name: string }) => p.name === 'external-vpc-vni')).toEqual({
      name: 'external-vpc-vni',
      type: 'integer',
      size: 1016,
      ranges: [
        { start: 2025500, end: 2026500, auto_assign: true, size: 1000 },
        { start: 33554432, end: 33554448, auto_assign: false, size: 16 },
      ],
    });
  });

  test('an invalid file: exit 1 and every error with its path', async () => {
    const path = file('bad.toml', '[server]\nport = 1\n[pools.vpc-vni]\ntype = "integer"\nranges = [{ start = 1, end = 5 }, { start = 10, end = 10 }]\n[pools.x]\ntype = "ipv4"\nprefix = "10.0.0.1/24"\n');
    const r = await cli('validate', path, '--json');
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toEqual({
      valid: false,
      errors: [
        { path: 'pools.vpc-vni.ranges[1].end', message: 'end 10 must be greater than start 10 (end is exclusive)' },
        { path: 'pools.x.prefix', message: '"10.0.0.1/24" has host bits set; the canonical prefix is "10.0.0.0/24"' },
      ],
    });
  });

  test('warnings are reported with a valid file', async () => {
    const path = file('warn.toml', '[server]\nport = 1\n[pools.v]\ntype = "integer"\nranges = [{ start = 1, end = 5 }]\n');
    const r = await cli('validate', path, '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).warnings).toEqual(["top-level table 'server' ignored"]);
  });

  test('human output lists pools or errors', async () => {
    const ok = await cli('validate', 'config/pools.toml');
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/config\/pools.toml: valid, 7 pools/);
    expect(ok.stdout).toMatch(/vpc-vni\s+integer\s+1,000\s+\[2024500, 2025500\)/);
    const bad = await cli('validate', file('bad2.toml', '[pools.x]\ntype = "ipv5"\n'));
    expect(bad.code).toBe(1);
    expect(bad.stdout).toContain('pools.x.type: must be one of "ipv4", "ipv6", "integer", "ipv4-prefix", "ipv6-prefix"; got the string "ipv5" (line 2)');
  });

  test('MAX_POOL_SIZE is honoured', async () => {
    const path = file('big.toml', '[pools.vni]\ntype = "integer"\nranges = [{ start = 0, end = 16777216 }]\n');
    expect((await cli('validate', path, '--json')).code).toBe(1);
    expect((await cli('validate', path, '--json', '--max-pool-size', '16777216')).code).toBe(0);
  });

  test('a missing file is a usage error (exit 2), not an invalid file', async () => {
    const r = await cli('validate', join(dir, 'nope.toml'));
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('cannot read');
  });
});
