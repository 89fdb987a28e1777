// The dashboard of the CDK app.
import { afterAll, describe, expect, it } from 'vitest';
import { base, removeOutdirs, site, SITE_POOLS, text } from '../support/infra-app.js';

afterAll(removeOutdirs);

describe('dashboard', () => {
  it('shows utilization, allocations and releases, latency, errors and config syncs', () => {
    base().template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = text(Object.values(site().resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!.Properties!.DashboardBody);
    for (const metric of [
      'PoolUtilization', 'MaxPoolUtilization', 'Allocations', 'Releases', 'AllocationLatency', 'Latency',
      'Errors', '4xx', '5xx', 'AllocationsExhausted', 'ThrottledRequests', 'ConfigSyncs', 'ConfigSyncFailures',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      expect(body, metric).toContain(`"${metric}"`);
    }
    expect(body).toContain('"p99"');
    expect(body).toContain('SEARCH(');
    for (const pool of SITE_POOLS) expect(body, pool).toContain(`"Pool","${pool}"`);
  });
});
