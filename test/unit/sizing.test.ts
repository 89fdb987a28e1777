import { describe, expect, test } from 'vitest';
import { ipv4PrefixHolds, planSite, smallestIPv4Prefix } from '../../lib/sizing.js';

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
    expect(loIp).toEqual({ pool: 'lo-ip', formula: '40 hosts × 2 DPUs per host', need: 80, withHeadroom: 100, prefixLength: 25, prefixHolds: 126 });
    expect(vpcDpuLo).toMatchObject({ need: 8000, withHeadroom: 10000, prefixLength: 18, prefixHolds: 16382 });
    expect(vni).toMatchObject({ pool: 'vpc-vni', need: 100, withHeadroom: 125 });
  });

  test('headroom is configurable and rounds up', () => {
    const [loIp] = planSite({ hosts: 3, dpusPerHost: 1, vpcs: 1, headroomPercent: 10 });
    expect(loIp).toMatchObject({ need: 3, withHeadroom: 4, prefixLength: 29 });
    expect(() => planSite({ hosts: -1, dpusPerHost: 1, vpcs: 1 })).toThrow(/hosts must be a whole number/);
  });
});
