import { beforeAll, describe, expect, test } from 'vitest';
import { serviceMetrics } from '../../functions/emf.js';
import { reportPoolMetrics } from '../../functions/metrics.js';
import type { PoolStore } from '../../lib/store/index.js';
import { captureEmf, type EmfDocument } from '../support/emf.js';
import { freshStore, register } from '../support/store.js';

const POOLS = `
[pools.vpc-vni]
type = "integer"
ranges = [{ start = 1000, end = 1010 }]

[pools.lo-ip]
type = "ipv4"
prefix = "10.0.0.0/29"

[pools.idle]
type = "integer"
ranges = [{ start = 5000, end = 5100 }]
`;

function dimensionsOf(doc: EmfDocument): string[][] {
  return doc._aws.CloudWatchMetrics[0].Dimensions;
}

function metricNames(doc: EmfDocument): string[] {
  return doc._aws.CloudWatchMetrics[0].Metrics.map((m) => m.Name).sort();
}

describe('metrics reporter', () => {
  let store: PoolStore;

  beforeAll(async () => {
    store = await freshStore();
    await register(store, POOLS);
    for (const owner of ['a', 'b', 'c', 'd', 'e']) await store.allocate({ pool: 'vpc-vni', owner }); // 5 of 10
    await store.allocate({ pool: 'lo-ip', owner: 'x' }); // 1 of 6
  });

  test('one EMF document per pool with exactly the Pool dimension, then the highest utilization without dimension', async () => {
    const { result, documents } = await captureEmf(() => reportPoolMetrics({ store, metrics: serviceMetrics() }));

    expect(documents).toHaveLength(4);
    for (const doc of documents) {
      expect(doc._aws.CloudWatchMetrics[0].Namespace).toBe('ResourcePools');
      // Powertools' default `service` dimension would split every series away from the alarms.
      expect(doc).not.toHaveProperty('service');
    }

    const perPool = documents.filter((d) => 'Pool' in d);
    expect(perPool.map((d) => d.Pool).sort()).toEqual(['idle', 'lo-ip', 'vpc-vni']);
    for (const doc of perPool) {
      expect(dimensionsOf(doc)).toEqual([['Pool']]);
      expect(metricNames(doc)).toEqual(['PoolSize', 'PoolUsed', 'PoolUtilization']);
      expect(doc._aws.CloudWatchMetrics[0].Metrics.find((m) => m.Name === 'PoolUtilization')?.Unit).toBe('Percent');
    }
    const byPool = Object.fromEntries(perPool.map((d) => [d.Pool as string, d]));
    expect(byPool['vpc-vni']).toMatchObject({ PoolSize: 10, PoolUsed: 5, PoolUtilization: 50 });
    expect(byPool['lo-ip']).toMatchObject({ PoolSize: 6, PoolUsed: 1 });
    expect(byPool['lo-ip'].PoolUtilization).toBeCloseTo(100 / 6, 10);
    expect(byPool.idle).toMatchObject({ PoolSize: 100, PoolUsed: 0, PoolUtilization: 0 });

    const aggregate = documents.find((d) => !('Pool' in d))!;
    expect(dimensionsOf(aggregate)).toEqual([[]]);
    expect(metricNames(aggregate)).toEqual(['MaxPoolUtilization']);
    expect(aggregate.MaxPoolUtilization).toBe(50);

    expect(result.maxUtilization).toBe(50);
    expect(result.pools).toHaveLength(3);
  });

  test('without pools, MaxPoolUtilization is still reported (0) so the alarm has data', async () => {
    const empty = await freshStore();
    const { documents } = await captureEmf(() => reportPoolMetrics({ store: empty, metrics: serviceMetrics() }));
    expect(documents).toHaveLength(1);
    expect(dimensionsOf(documents[0])).toEqual([[]]);
    expect(documents[0].MaxPoolUtilization).toBe(0);
  });
});
