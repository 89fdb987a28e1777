// The Lambda adapter of the HTTP API (functions/api.ts): API Gateway HTTP API events (payload v2) in,
// the application's answers and EMF metrics out, against DynamoDB Local.
import type { Context } from 'aws-lambda';
import { describe, expect, test, vi } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { Metric } from '../../lib/telemetry.js';
import { freshStore, register, testClient } from '../support/store.js';

describe('the Lambda handler (API Gateway HTTP API, payload v2)', () => {
  const context = { awsRequestId: 'lambda-req-1', functionName: 'api', functionVersion: '$LATEST', memoryLimitInMB: '512' } as Context;

  function event(method: string, rawPath: string, init: { rawQueryString?: string; body?: string; isBase64Encoded?: boolean; headers?: Record<string, string> } = {}) {
    return {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString: init.rawQueryString ?? '',
      headers: { host: 'abc123.execute-api.eu-west-1.amazonaws.com', 'user-agent': 'curl/8.5.0', ...init.headers },
      requestContext: {
        accountId: '123456789012',
        apiId: 'abc123',
        domainName: 'abc123.execute-api.eu-west-1.amazonaws.com',
        domainPrefix: 'abc123',
        http: { method, path: rawPath, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'curl/8.5.0' },
        requestId: 'Jx1aQgTeoAMEVhw=',
        routeKey: '$default',
        stage: '$default',
        time: '22/Nov/2026:10:00:00 +0000',
        timeEpoch: 1795341600000,
      },
      body: init.body,
      isBase64Encoded: init.isBase64Encoded ?? false,
    };
  }

  test('serves the application: base64 bodies, decoded raw paths, JSON errors, and EMF metrics per invocation', async () => {
    const store = await freshStore();
    await register(store, '[pools.vni]\ntype = "integer"\nranges = [{ start = 7000, end = 7001 }]\n[pools.v6]\ntype = "ipv6"\nprefix = "2001:db8::/126"\n');
    const emf: { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }; [key: string]: unknown }[] = [];
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      const text = String(chunk);
      if (text.includes('"_aws"')) emf.push(JSON.parse(text));
      return true;
    });
    try {
      const handler = createApiHandler({ client: testClient(), tableName: store.tableName, maxPoolSize: 1000 });

      const body = Buffer.from(JSON.stringify({ owner: 'vpc-9' })).toString('base64');
      const created = await handler(event('POST', '/v1/pools/vni/allocations', { body, isBase64Encoded: true, headers: { 'content-type': 'application/json' } }), context);
      expect(created.statusCode).toBe(201);
      expect(created.headers?.['content-type']).toMatch(/^application\/json/);
      expect(created.headers?.['x-request-id']).toBe('Jx1aQgTeoAMEVhw=');
      expect(JSON.parse(created.body ?? '')).toMatchObject({ pool: 'vni', value: 7000, owner: 'vpc-9' });

      const exhausted = await handler(event('POST', '/v1/pools/vni/allocations', { body: '{"owner":"vpc-10"}' }), context);
      expect(exhausted.statusCode).toBe(409);
      expect(JSON.parse(exhausted.body ?? '')).toMatchObject({ error: { code: 'RESOURCE_EXHAUSTED' } });

      // HTTP APIs hand over rawPath decoded: IPv6 colons and an owner with URL syntax in it.
      const owner = "a&b=c+d:e;f@g!$'()*,";
      const v6 = await handler(event('POST', '/v1/pools/v6/allocations', { body: JSON.stringify({ owner, value: '2001:db8::2' }) }), context);
      expect(v6.statusCode).toBe(201);
      expect(JSON.parse((await handler(event('GET', '/v1/pools/v6/allocations/2001:db8::2'), context)).body ?? '')).toMatchObject({ owner });
      expect(JSON.parse((await handler(event('GET', `/v1/pools/v6/owners/${owner}`), context)).body ?? '')).toMatchObject({ value: '2001:db8::2' });
      const released = await handler(event('DELETE', '/v1/pools/v6/allocations/2001:db8::2', { rawQueryString: `owner=${encodeURIComponent(owner)}` }), context);
      expect(released.statusCode).toBe(204);

      const list = await handler(event('GET', '/v1/pools', { body: 'ignored', isBase64Encoded: false }), context);
      expect(list.statusCode).toBe(200);
      expect((JSON.parse(list.body ?? '') as { pools: unknown[] }).pools).toHaveLength(2);

      for (const bad of [
        event('POST', '/v1/pools/vni/allocations', { body: '%%%not base64', isBase64Encoded: true }),
        event('GE T', '/v1/pools'),
        event('GET', '/v1/pools', { headers: { 'x-bad': 'line\nbreak' } }),
        event('GET', '/v1/pools/\ud800'),
      ]) {
        const answer = await handler(bad as never, context);
        expect(answer.statusCode).toBe(400);
        expect(answer.headers?.['content-type']).toMatch(/^application\/json/);
        expect(JSON.parse(answer.body ?? '')).toMatchObject({ error: { code: 'INVALID_ARGUMENT' } });
      }
      expect(JSON.parse((await handler(event('PUT', '/v1/pools'), context)).body ?? '')).toMatchObject({ error: { code: 'METHOD_NOT_ALLOWED' } });

      // Dot segments are refused, not resolved: this once ran as POST /v1/config (an admin route).
      const climbed = await handler(event('POST', '/v1/pools/x/../../config', { body: '[pools.evil]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]\n' }), context);
      expect(climbed.statusCode).toBe(400);
      expect(climbed.headers?.['content-type']).toMatch(/^application\/json/);
      expect(JSON.parse(climbed.body ?? '')).toEqual({ error: { code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^path: segment 4 \("\.\."\) is a dot segment; /) } });
      expect((await store.pools()).map((p) => p.name).sort()).toEqual(['v6', 'vni']);
      // A decoded %2F makes two segments: "tenant/7" is not one owner but a path that names no route.
      expect(JSON.parse((await handler(event('GET', '/v1/pools/v6/owners/tenant/7'), context)).body ?? '')).toMatchObject({ error: { code: 'NOT_FOUND' } });
    } finally {
      write.mockRestore();
    }

    const documents = emf.map((doc) => ({
      dimensions: doc._aws.CloudWatchMetrics[0].Dimensions,
      pool: doc.Pool,
      metrics: Object.fromEntries(doc._aws.CloudWatchMetrics[0].Metrics.map((m) => [m.Name, doc[m.Name]])),
    }));
    expect(emf.every((doc) => doc._aws.CloudWatchMetrics[0].Namespace === 'ResourcePools')).toBe(true);
    expect(emf.every((doc) => !('service' in doc))).toBe(true);
    const perPool = documents.filter((d) => d.pool !== undefined);
    const aggregate = documents.filter((d) => d.pool === undefined);
    expect(perPool.every((d) => JSON.stringify(d.dimensions) === '[["Pool"]]')).toBe(true);
    expect(aggregate.every((d) => JSON.stringify(d.dimensions) === '[[]]')).toBe(true);
    const sum = (docs: typeof documents, metric: string) => docs.reduce((n, d) => n + (typeof d.metrics[metric] === 'number' ? (d.metrics[metric] as number) : 0), 0);
    expect(sum(aggregate, Metric.Allocations)).toBe(2);
    expect(sum(aggregate, Metric.AllocationsExhausted)).toBe(1);
    expect(sum(aggregate, Metric.Releases)).toBe(1);
    expect(sum(perPool.filter((d) => d.pool === 'vni'), Metric.AllocationsExhausted)).toBe(1);
    expect(sum(perPool.filter((d) => d.pool === 'vni'), Metric.Allocations)).toBe(1);
    expect(sum(perPool.filter((d) => d.pool === 'v6'), Metric.Releases)).toBe(1);
    // Two allocations succeeded; the exhausted one is counted, not timed.
    expect(aggregate.filter((d) => Metric.AllocationLatency in d.metrics)).toHaveLength(2);
  });
});
