// The API as a whole (docs/API.md): GET /v1/health, unknown routes and methods, body limits,
// GET /v1/check, GET /v1/openapi.json, and the answers to failures that are not the caller's.
import { beforeAll, describe, expect, test } from 'vitest';
import { createApp, MAX_BODY_BYTES } from '../../functions/http/app.js';
import { routes } from '../../functions/http/routes.js';
import * as schemas from '../../functions/http/schemas.js';
import { PoolError } from '../../lib/errors.js';
import type { PoolStore } from '../../lib/store/index.js';
import { allocate, type App, call, capturingLogger, expectError, parsed, poolsApp } from '../support/http-api.js';

describe('HTTP API on DynamoDB Local', () => {
  let app: App;

  beforeAll(async () => {
    app = await poolsApp();
    // Allocations for GET /v1/check to recount: random and explicit values of each type, one released.
    for (const [pool, json] of [
      ['vni', { owner: 'seed-1' }],
      ['vni', { owner: 'seed-2', value: 0x2000000 }],
      ['lo', { owner: 'seed-3' }],
      ['v6', { owner: 'seed-4', value: '2001:db8::3' }],
      ['fixed', { owner: 'seed-5', value: '10.1.0.8' }],
      ['paged', { owner: 'seed-6' }],
    ] as const) {
      parsed(schemas.Allocation, await allocate(app, pool, json), 201);
    }
    expect((await call(app, 'DELETE', '/v1/pools/paged/owners/seed-6')).status).toBe(204);
  });

  test('GET /v1/health answers ok', async () => {
    expect(parsed(schemas.Health, await call(app, 'GET', '/v1/health'), 200)).toEqual({ status: 'ok' });
  });

  describe('routes and limits', () => {
    test('unknown routes answer 404 NOT_FOUND', async () => {
      for (const [method, path] of [
        ['GET', '/'],
        ['GET', '/v1'],
        ['GET', '/v2/pools'],
        ['GET', '/v1/pools/vni/allocations/5/extra'],
        ['POST', '/v1/pools/vni/grow'],
        ['GET', '/v1/pools/'],
        ['GET', '/v1/configs'],
        ['DELETE', '/v1/nothing'],
      ]) {
        expectError(await call(app, method, path), 'NOT_FOUND');
      }
    });

    test('known routes with another method answer 405 METHOD_NOT_ALLOWED with Allow', async () => {
      const cases: [string, string, string][] = [
        ['PUT', '/v1/pools', 'GET, HEAD'],
        ['POST', '/v1/health', 'GET, HEAD'],
        ['PUT', '/v1/pools/vni', 'GET, HEAD, PATCH, DELETE'],
        ['GET', '/v1/pools/vni/retire', 'POST'],
        ['GET', '/v1/check/repair', 'POST'],
        ['PATCH', '/v1/pools/vni/allocations', 'POST, GET, HEAD'],
        ['POST', '/v1/pools/vni/allocations/5', 'GET, HEAD, DELETE'],
        ['PUT', '/v1/pools/vni/owners/a', 'GET, HEAD, DELETE, PATCH'],
        ['GET', '/v1/config?dry_run=true', 'POST'],
        ['DELETE', '/v1/config/syncs', 'GET, HEAD'],
        ['OPTIONS', '/v1/openapi.json', 'GET, HEAD'],
      ];
      for (const [method, path, allow] of cases) {
        const answer = await call(app, method, path);
        expect(expectError(answer, 'METHOD_NOT_ALLOWED').message).toContain(method);
        expect(answer.headers.get('allow')?.split(', ').sort()).toEqual(allow.split(', ').sort());
      }
      // HEAD is GET without a body.
      expect((await app.request('/v1/pools/vni', { method: 'HEAD' })).status).toBe(200);
    });

    test('bodies over 1 MiB answer 413 PAYLOAD_TOO_LARGE and change nothing', async () => {
      const syncsBefore = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200);
      const padding = (n: number) => `# ${'x'.repeat(n - 3)}\n`;
      expectError(await call(app, 'POST', '/v1/config', { body: padding(MAX_BODY_BYTES + 1) }), 'PAYLOAD_TOO_LARGE');
      expectError(await call(app, 'POST', '/v1/pools/vni/allocations', { body: `{"owner":"big","x":"${'y'.repeat(MAX_BODY_BYTES)}"}` }), 'PAYLOAD_TOO_LARGE');
      const declared = await app.request('/v1/config', { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES + 1), headers: { 'content-length': String(MAX_BODY_BYTES + 1) } });
      expect(declared.status).toBe(413);
      // Exactly 1 MiB is read (and rejected as a file without pools).
      expectError(await call(app, 'POST', '/v1/config', { body: padding(MAX_BODY_BYTES) }), 'INVALID_CONFIG');
      const syncsAfter = parsed(schemas.SyncList, await call(app, 'GET', '/v1/config/syncs'), 200);
      expect(syncsAfter.syncs.slice(1)).toEqual(syncsBefore.syncs.slice(0, syncsAfter.syncs.length - 1));
      expect(syncsAfter.syncs[0]).toMatchObject({ source: 'http', status: 'rejected' });
    });
  });

  test('GET /v1/check recounts every pool', async () => {
    const report = parsed(schemas.CheckReport, await call(app, 'GET', '/v1/check'), 200);
    expect(report.ok).toBe(true);
    const { pools } = parsed(schemas.PoolList, await call(app, 'GET', '/v1/pools'), 200);
    expect(report.pools.map((p) => [p.name, p.size, p.used, p.allocations, p.problems]).sort()).toEqual(
      pools.map((p) => [p.name, p.size, p.used, p.used, []]).sort(),
    );
  });

  test('GET /v1/openapi.json is an OpenAPI 3.1 document of every route, from the same schemas', async () => {
    const answer = await call(app, 'GET', '/v1/openapi.json');
    expect(answer.status).toBe(200);
    const doc = answer.body as {
      openapi: string;
      info: { title: string; version: string };
      paths: Record<string, Record<string, { operationId: string; parameters: { name: string; in: string; required: boolean }[]; responses: Record<string, unknown>; requestBody?: { content: Record<string, unknown> }; 'x-spec-extension'?: boolean }>>;
      components: { schemas: Record<string, Record<string, unknown>> };
    };
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.info.title).toBe('resource-pools');
    const operations = Object.entries(doc.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(operations.sort()).toEqual(
      [
        'GET /v1/health',
        'GET /v1/pools',
        'GET /v1/pools/{pool}',
        'PATCH /v1/pools/{pool}',
        'DELETE /v1/pools/{pool}',
        'POST /v1/pools/{pool}/retire',
        'POST /v1/pools/{pool}/import',
        'POST /v1/check/repair',
        'POST /v1/pools/{pool}/allocations',
        'GET /v1/pools/{pool}/allocations',
        'GET /v1/pools/{pool}/allocations/{value}',
        'DELETE /v1/pools/{pool}/allocations/{value}',
        'GET /v1/pools/{pool}/owners/{owner}',
        'DELETE /v1/pools/{pool}/owners/{owner}',
        'PATCH /v1/pools/{pool}/owners/{owner}',
        'GET /v1/owners/{owner}',
        'POST /v1/allocations',
        'POST /v1/releases',
        'GET /v1/pools/{pool}/allocations/{value}/history',
        'GET /v1/pools/{pool}/owners/{owner}/history',
        'GET /v1/pools/{pool}/history',
        'POST /v1/config',
        'GET /v1/config/syncs',
        'GET /v1/openapi.json',
        'GET /v1/check',
      ].sort(),
    );
    expect(routes).toHaveLength(operations.length);

    const allocateOp = doc.paths['/v1/pools/{pool}/allocations'].post;
    expect(Object.keys(allocateOp.responses).sort()).toEqual(['200', '201', '400', '404', '409', '413', '503']);
    expect(allocateOp.requestBody?.content['application/json']).toEqual({ schema: { $ref: '#/components/schemas/AllocateRequest' } });
    expect(doc.paths['/v1/config'].post.requestBody?.content).toHaveProperty(['application/toml']);
    expect(doc.paths['/v1/pools/{pool}/allocations/{value}'].delete.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['pool', 'path', true],
      ['value', 'path', true],
      ['owner', 'query', true],
    ]);
    expect(doc.paths['/v1/pools/{pool}/allocations'].get.parameters.map((p) => [p.name, p.in, p.required])).toEqual([
      ['pool', 'path', true],
      ['limit', 'query', false],
      ['cursor', 'query', false],
      ['label', 'query', false],
    ]);

    // The component schemas are the ones requests are validated with.
    expect(doc.components.schemas.AllocateRequest).toMatchObject({ type: 'object', required: ['owner'], additionalProperties: false });
    // Every field is required but delegate_prefix_len, which only prefix pools have.
    expect(doc.components.schemas.Pool.required).toEqual(Object.keys(schemas.Pool.shape).filter((k) => k !== 'delegate_prefix_len'));
    for (const name of ['Pool', 'PoolList', 'Allocation', 'AllocationPage', 'ConfigResult', 'Sync', 'SyncList', 'CheckReport', 'Health', 'Error']) {
      expect(doc.components.schemas[name], name).toMatchObject({ type: 'object' });
      expect(doc.components.schemas[name]).not.toHaveProperty('$schema');
    }
    // Every reference resolves.
    const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]);
    expect(refs.length).toBeGreaterThan(20);
    for (const ref of refs) expect(doc.components.schemas, ref).toHaveProperty([ref]);
  });
});

describe('failures that are not the caller\'s', () => {
  const failing = (e: unknown) => {
    const fail = async () => {
      throw e;
    };
    return { health: fail, pools: fail, pool: fail, allocate: fail, syncs: fail, check: fail } as unknown as PoolStore;
  };

  test('an unexpected error answers 500 INTERNAL with a request id, and is logged with it', async () => {
    const logger = capturingLogger();
    const app = createApp({ store: failing(new TypeError('a bug')), maxPoolSize: 1000, logger });
    const answer = await call(app, 'GET', '/v1/pools');
    const error = expectError(answer, 'INTERNAL');
    const requestId = answer.headers.get('x-request-id');
    expect(requestId).toBeTruthy();
    expect(error.message).toContain(requestId);
    expect(error.message).not.toContain('a bug');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toMatchObject({ level: 'error', extra: [{ requestId, method: 'GET', path: '/v1/pools', error: { name: 'TypeError', message: 'a bug' } }] });
  });

  test('UNAVAILABLE answers 503 with Retry-After; a table that does not answer fails the health check', async () => {
    const logger = capturingLogger();
    const busy = createApp({ store: failing(new PoolError('UNAVAILABLE', 'gave up after contention', { retryAfterSeconds: 2 })), maxPoolSize: 1000, logger });
    const answer = await allocate(busy, 'vni', { owner: 'a' });
    expectError(answer, 'UNAVAILABLE');
    expect(answer.headers.get('retry-after')).toBe('2');
    expect(logger.lines.map((l) => l.level)).toEqual(['warn']);

    const down = createApp({ store: failing(Object.assign(new Error('connect ECONNREFUSED'), { name: 'TimeoutError' })), maxPoolSize: 1000, logger });
    const health = await call(down, 'GET', '/v1/health');
    expectError(health, 'UNAVAILABLE');
    expect(Number(health.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
  });
});
