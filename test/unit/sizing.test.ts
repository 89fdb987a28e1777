import { describe, expect, test } from 'vitest';
import { MAX_POOL_SIZE_CEILING, planFile } from '../../lib/plan.js';
import { ipv4PrefixHolds, type PoolSizing, planSite, sizingAdvice, smallestIPv4Prefix } from '../../lib/sizing.js';

describe('site sizing', () => {
  test.each([
    [1, 32],
    [2, 31],
    [3, 29],
    [6, 29],
    [7, 28],
    [62, 26],
    [63, 25],
    [254, 24],
    [255, 23],
  ])('%i hosts fit in a /%i', (count, length) => {
    expect(smallestIPv4Prefix(count)).toBe(length);
    expect(ipv4PrefixHolds(length)).toBeGreaterThanOrEqual(count);
  });

  test('lo-ip = hosts × DPUs per host, vpc-dpu-lo = VPCs × DPUs, with 25% headroom by default', () => {
    const [loIp, vpcDpuLo, vni] = planSite({ hosts: 40, dpusPerHost: 2, vpcs: 100 });
    expect(loIp).toEqual({ pool: 'lo-ip', type: 'ipv4', formula: '40 hosts × 2 DPUs per host', need: 80, withHeadroom: 100, prefixLength: 25, prefixHolds: 126, fits: true });
    expect(vpcDpuLo).toMatchObject({ need: 8000, withHeadroom: 10000, prefixLength: 18, prefixHolds: 16382 });
    expect(vni).toMatchObject({ pool: 'vpc-vni', kind: 'vni', need: 100, withHeadroom: 125, fits: true });
  });

  test('headroom is configurable and rounds up', () => {
    const [loIp] = planSite({ hosts: 3, dpusPerHost: 1, vpcs: 1, headroomPercent: 10 });
    expect(loIp).toMatchObject({ need: 3, withHeadroom: 4, prefixLength: 29 });
    expect(() => planSite({ hosts: -1, dpusPerHost: 1, vpcs: 1 })).toThrow(/hosts must be a whole number/);
  });

  test('a pool over MAX_POOL_SIZE is proposed as several prefixes, each within it (issue: a /13 of 524,286 was proposed)', () => {
    const [, vpcDpuLo] = planSite({ hosts: 500, dpusPerHost: 2, vpcs: 300 });
    expect(vpcDpuLo).toMatchObject({ withHeadroom: 375_000, prefixLength: 13, prefixHolds: 524_286, fits: false, raiseTo: 524_286 });
    expect(vpcDpuLo.split).toEqual({ pools: 3, prefixLength: 15, valuesEach: 131_070, valuesTotal: 393_210 });
    expect(sizingAdvice(vpcDpuLo, 250_000, '--max-pool-size')).toBe(
      'vpc-dpu-lo: one pool of a /13 (524,286 values) is over --max-pool-size (250,000): use 3 pools of a /15 each (131,070 values), 393,210 in all (e.g. vpc-dpu-lo-1 … vpc-dpu-lo-3), or raise --max-pool-size to 524,286 (at most 16,777,216) and keep one pool',
    );
    // Raised far enough, one /14 per pool: the "two /14s" of the issue.
    const [, raised] = planSite({ hosts: 500, dpusPerHost: 2, vpcs: 300, maxPoolSize: 300_000 });
    expect(raised.split).toEqual({ pools: 2, prefixLength: 14, valuesEach: 262_142, valuesTotal: 524_284 });
  });

  const proposed = (s: PoolSizing): string[] => {
    if (s.limit !== undefined) return [];
    if (s.split?.prefixLength !== undefined) return Array.from({ length: s.split.pools }, () => `prefix = "10.0.0.0/${s.split?.prefixLength}"`);
    if (s.split) return Array.from({ length: s.split.pools }, () => `ranges = [{ start = 1, end = ${1 + (s.split?.valuesEach ?? 0)} }]`);
    return s.prefixLength === undefined ? [`ranges = [{ start = 1, end = ${1 + s.withHeadroom} }]`] : [`prefix = "10.0.0.0/${s.prefixLength}"`];
  };

  test.each([
    [{ hosts: 500, dpusPerHost: 2, vpcs: 300 }, 250_000],
    [{ hosts: 4000, dpusPerHost: 4, vpcs: 4000 }, 250_000],
    [{ hosts: 4000, dpusPerHost: 4, vpcs: 4000 }, MAX_POOL_SIZE_CEILING],
    [{ hosts: 100, dpusPerHost: 2, vpcs: 900_000 }, 100_000],
    [{ hosts: 7, dpusPerHost: 1, vpcs: 3 }, 1],
  ])('every proposal for %o under %i is a pool validate accepts', (shape, maxPoolSize) => {
    for (const s of planSite({ ...shape, maxPoolSize })) {
      const type = s.type === 'ipv4' ? 'ipv4' : 'integer';
      for (const definition of proposed(s)) {
        const toml = `[pools.p]\ntype = "${type}"\n${s.kind ? `kind = "${s.kind}"\n` : ''}${definition}\n`;
        expect(planFile(toml, [], { maxPoolSize }).ok, `${s.pool}: ${toml}`).toBe(true);
      }
      if (s.limit === undefined) expect(s.fits ? (s.prefixHolds ?? s.withHeadroom) : (s.split?.valuesTotal ?? 0)).toBeGreaterThanOrEqual(s.withHeadroom);
    }
  });

  test('a need no proposal can meet names the limit it hits: the VNI space, IPv4, the number of pools', () => {
    const [, vpcDpuLo, vni] = planSite({ hosts: 50, dpusPerHost: 2, vpcs: 30_000_000, maxPoolSize: 1 });
    expect(vni).toMatchObject({ fits: false, limit: '37,500,000 values do not fit in kind "vni" (VXLAN VNIs (24 bits): 1-16,777,215, 16,777,215 values)' });
    expect(vpcDpuLo.limit).toBe('it would take 3,750,000,000 pools of a /32, more than the 1,000 pools the service holds');
    const [, huge] = planSite({ hosts: 1000, dpusPerHost: 8, vpcs: 1_000_000 });
    expect(huge.limit).toMatch(/addresses do not fit in IPv4 \(4,294,967,296 addresses in all\)/);
    expect(sizingAdvice(huge, 250_000, 'MAX_POOL_SIZE')).toMatch(/^vpc-dpu-lo: no proposal: /);
  });

  test('raising MAX_POOL_SIZE is suggested only up to 2^24', () => {
    const [, big] = planSite({ hosts: 1000, dpusPerHost: 8, vpcs: 2000 }); // 20,000,000 addresses: a /7
    expect(big.raiseTo).toBeUndefined();
    expect(sizingAdvice(big, 250_000, 'MAX_POOL_SIZE')).not.toContain('raise');
    expect(() => planSite({ hosts: 1, dpusPerHost: 1, vpcs: 1, maxPoolSize: 2 ** 24 + 1 })).toThrow(/16,777,216/);
  });
});
