// Property tests of the HTTP application: whatever the method, path, query, body and content type,
// the answer is never a 5xx, every error is the contract's JSON, and a rejected request leaves the
// table as it was (a rejected POST /v1/config adds exactly its one rejected sync record, by design).
import type { Context } from 'aws-lambda';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { createApiHandler } from '../../functions/api.js';
import { createApp } from '../../functions/http/app.js';
import { STATUS_OF } from '../../functions/http/errors.js';
import { ErrorBody, encodeCursor } from '../../functions/http/schemas.js';
import type { ErrorCode } from '../../lib/errors.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freshStore, register, testClient } from '../support/store.js';

const POOLS = `
[pools.vni]
type = "integer"
ranges = [{ start = 2024500, end = 2024510 }, { start = 7000, end = 7003, auto_assign = false }]

[pools.lo]
type = "ipv4"
prefix = "10.0.0.0/29"

[pools.v6]
type = "ipv6"
prefix = "2001:db8::/125"
`;

const MIB = 1024 * 1024;

// ---------------------------------------------------------------- what a request can be

const segmentText = fc.oneof(
  fc.constantFrom('vni', 'lo', 'v6', 'nope', 'held-1', 'held-2', '', '.', '..', '%', '%zz', '%FF', '%00', '%2F', 'a%2Fb', '%25', '?', '#', ' ', 'x'.repeat(300)),
  fc.constantFrom('2024500', '2024503', '7000', '7001', '10.0.0.1', '10.0.0.2', '2001:db8::2', '2001%3Adb8%3A%3A3', '9007199254740992', '-1', '1e3', '0x10'),
  fc.integer({ min: -5, max: 2_100_000 }).map(String),
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: 'grapheme', maxLength: 6 }),
  fc.string({ unit: 'binary', maxLength: 6 }),
);

/** As it appears in the URL: raw (URL syntax and all), encoded, or encoded twice. */
const segment = fc.tuple(segmentText, fc.constantFrom('raw', 'encoded', 'encoded', 'twice')).map(([text, how]) => {
  if (how === 'raw') return text;
  try {
    const once = encodeURIComponent(text);
    return how === 'twice' ? encodeURIComponent(once) : once;
  } catch {
    return text; // lone surrogates cannot be encoded
  }
});

const poolSegment = fc.oneof({ weight: 6, arbitrary: fc.constantFrom('vni', 'lo', 'v6') }, { weight: 2, arbitrary: segment });
const valueSegment = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('2024500', '2024503', '7000', '7001', '10.0.0.1', '10.0.0.2', '2001:db8::3', '2001%3Adb8%3A%3A3', 'held-1', 'held-2') },
  { weight: 3, arbitrary: segment },
);
const fill = (template: string) =>
  fc.tuple(poolSegment, valueSegment).map(([pool, value]) => template.replace('{p}', pool).replace('{s}', value));

const anyPath = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('/v1/pools/{p}/allocations', '/v1/pools/{p}/allocations/{s}', '/v1/pools/{p}/owners/{s}', '/v1/pools/{p}'), segment, segment).map(([t, p, s]) => t.replace('{p}', p).replace('{s}', s)) },
  { weight: 2, arbitrary: fc.constantFrom('/v1/health', '/v1/pools', '/v1/config', '/v1/config/syncs', '/v1/openapi.json', '/v1/check', '/v1/pools/vni/allocations', '/v1/pools/lo/allocations/10.0.0.1') },
  { weight: 1, arbitrary: fc.webPath() },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }).map((s) => `/v1/${s}`) },
);
const path = anyPath;

const queryValue = fc.oneof(
  fc.constantFrom('', '1', '3', '100', '1000', '1001', '0', '-1', 'true', 'false', 'held-1', 'held-2', 'nobody', encodeCursor('0000000001e3c54'), encodeCursor('0000000001e3c54').slice(0, 10), encodeCursor('0a000001')),
  fc.string({ maxLength: 10 }),
  segment,
);
const query = fc
  .array(fc.tuple(fc.constantFrom('limit', 'cursor', 'owner', 'dry_run', 'other', 'dry%5Frun', ''), queryValue), { maxLength: 4 })
  .map((pairs) => (pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`));

const jsonValue = fc.oneof(
  fc.constantFrom(2024500, 2024503, 7000, 7001, 2 ** 53, -0, 1.5, 1e308, '10.0.0.2', '2001:db8::3', '2001:DB8::4', '10.0.0.9', 'x', null, true),
  fc.integer(),
  fc.double(),
  fc.ipV4(),
  fc.ipV6(),
  fc.string({ maxLength: 20 }),
  fc.jsonValue({ maxDepth: 2 }),
);
const owner = fc.oneof(fc.constantFrom('held-1', 'held-2', 'fuzz-a', 'fuzz-b', '', ' ', 'a b', 'x'.repeat(257)), fc.string({ maxLength: 20 }), fc.string({ unit: 'binary', maxLength: 8 }));
const allocationBody = fc
  .record({ owner, value: jsonValue, extra: fc.jsonValue({ maxDepth: 1 }) }, { requiredKeys: [] })
  .map((o) => JSON.stringify(o));

const tomlBody = fc.oneof(
  fc.constantFrom(
    '',
    '[pools.vni]\ntype = "ipv4"\nprefix = "10.9.0.0/30"\n',
    '[pools.bad]\ntype = "integer"\nranges = [{ start = 5, end = 1 }]\n',
    '[pools.lo]\ntype = "ipv4"\nprefix = "10.0.0.0/28"\nbogus = 1\n',
    '[pools.x\n',
    '[api]\nport = 1\n',
    '[pools.big]\ntype = "integer"\nranges = [{ start = 0, end = 5000 }]\n',
    `[pools.a]\ntype = "ipv4"\nprefix = "${'x'.repeat(450_000)}"\n`,
    `[pools.${'p'.repeat(450_000)}]\ntype = "integer"\n`,
  ),
  fc.string({ maxLength: 200 }).map((s) => `[pools.${s}]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]\n`),
  fc.string({ maxLength: 200 }),
);

const body = fc.oneof(
  { weight: 2, arbitrary: fc.constant(undefined) },
  { weight: 4, arbitrary: allocationBody },
  { weight: 2, arbitrary: tomlBody },
  { weight: 2, arbitrary: fc.json({ maxDepth: 3 }) },
  { weight: 2, arbitrary: fc.string({ maxLength: 100 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 100 }) },
  { weight: 1, arbitrary: fc.constantFrom('x'.repeat(MIB + 1), `{"owner":"a","pad":"${'y'.repeat(MIB)}"}`, '['.repeat(100_000), '{"owner":"a"}'.padEnd(MIB, ' ')) },
);

const contentType = fc.oneof(
  fc.constantFrom(undefined, 'application/json', 'application/json; charset=utf-8', 'application/toml', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/vnd.api+json', 'application/octet-stream', ''),
  fc.string({ maxLength: 20 }),
);

const method = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('GET', 'POST', 'DELETE') },
  { weight: 2, arbitrary: fc.constantFrom('PUT', 'PATCH', 'HEAD', 'OPTIONS') },
  { weight: 1, arbitrary: fc.stringMatching(/^[A-Z]{1,8}$/) },
);

/** Mostly a route's own method and path, so that requests get past the router into the handlers. */
const routed = fc
  .constantFrom(
    ['POST', '/v1/pools/{p}/allocations', 'allocation'],
    ['POST', '/v1/pools/{p}/allocations', 'allocation'],
    ['GET', '/v1/pools/{p}/allocations', 'any'],
    ['GET', '/v1/pools/{p}/allocations/{s}', 'any'],
    ['DELETE', '/v1/pools/{p}/allocations/{s}', 'any'],
    ['GET', '/v1/pools/{p}/owners/{s}', 'any'],
    ['DELETE', '/v1/pools/{p}/owners/{s}', 'any'],
    ['GET', '/v1/pools/{p}', 'any'],
    ['POST', '/v1/config', 'toml'],
    ['POST', '/v1/config', 'toml'],
    ['GET', '/v1/config/syncs', 'any'],
    ['GET', '/v1/pools', 'any'],
  )
  .chain(([m, template, kind]) =>
    fc.record({
      method: fc.constant(m),
      path: fill(template),
      query,
      body: kind === 'allocation' ? fc.oneof({ weight: 3, arbitrary: allocationBody }, { weight: 1, arbitrary: body }) : kind === 'toml' ? fc.oneof({ weight: 3, arbitrary: tomlBody }, { weight: 1, arbitrary: body }) : body,
      contentType,
    }),
  );

const request = fc.oneof({ weight: 4, arbitrary: routed }, { weight: 1, arbitrary: fc.record({ method, path, query, body, contentType }) });
type Fuzzed = typeof request extends fc.Arbitrary<infer T> ? T : never;

// ---------------------------------------------------------------- the state a request may change

interface State {
  pools: unknown;
  allocations: unknown;
  syncs: Awaited<ReturnType<PoolStore['syncs']>>;
}

async function snapshot(store: PoolStore): Promise<State> {
  const pools = await store.pools();
  const allocations = await Promise.all(pools.map((p) => store.allocations(p.name, { limit: 1000 })));
  return { pools, allocations, syncs: await store.syncs(200) };
}

function isDryRun(url: string): boolean {
  const values = new URL(url, 'http://x').searchParams.getAll('dry_run');
  return values.length === 1 && ['true', '1', ''].includes(values[0]);
}

/**
 * What a rejected request may have changed: nothing, except that a rejected (not dry-run) pool file
 * is recorded as one rejected sync carrying exactly the errors the response listed.
 */
function expectUnchanged(before: State, after: State, url: string, error: { code: ErrorCode; details?: unknown }): void {
  expect(after.pools).toEqual(before.pools);
  expect(after.allocations).toEqual(before.allocations);
  if (error.code === 'INVALID_CONFIG' && !isDryRun(url)) {
    expect(after.syncs.length).toBe(Math.min(before.syncs.length + 1, 200));
    expect(after.syncs[0]).toMatchObject({ source: 'http', status: 'rejected', errors: error.details });
    expect(after.syncs.slice(1)).toEqual(before.syncs.slice(0, after.syncs.length - 1));
  } else {
    expect(after.syncs).toEqual(before.syncs);
  }
}

function capturingLogger() {
  const errors: unknown[] = [];
  return { errors, error: (message: string, ...extra: unknown[]) => errors.push({ message, extra }), warn: () => {} };
}

/** The Request a client could send, or undefined when fetch itself refuses to build it. */
function build(r: Fuzzed): Request | undefined {
  const bodyless = r.method === 'GET' || r.method === 'HEAD';
  try {
    return new Request(`http://localhost${r.path}${r.query}`, {
      method: r.method,
      body: bodyless ? undefined : r.body,
      headers: r.contentType === undefined ? {} : { 'content-type': r.contentType },
    });
  } catch {
    return undefined;
  }
}

describe('HTTP application under arbitrary requests', () => {
  let store: PoolStore;
  let app: ReturnType<typeof createApp>;
  const logger = capturingLogger();

  beforeAll(async () => {
    store = await freshStore();
    await register(store, POOLS);
    app = createApp({ store, maxPoolSize: 10_000, logger });
    for (const [pool, json] of [
      ['vni', { owner: 'held-1', value: 7000 }],
      ['lo', { owner: 'held-2', value: '10.0.0.2' }],
      ['v6', { owner: 'held-1', value: '2001:db8::3' }],
      ['vni', { owner: 'held-3' }],
    ] as const) {
      const res = await app.request(`/v1/pools/${pool}/allocations`, { method: 'POST', body: JSON.stringify(json) });
      expect(res.status).toBe(201);
    }
  });

  test('never a 5xx; errors are contract JSON; rejected requests change nothing', async () => {
    let state = await snapshot(store);
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(request, async (r) => {
        const req = build(r);
        fc.pre(req !== undefined);
        if (!req) return;
        logger.errors.length = 0;
        const url = req.url;
        const res = await app.fetch(req);
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        const text = await res.text();
        expect(res.status, `${r.method} ${url} → ${text.slice(0, 300)}`).toBeLessThan(500);
        expect(logger.errors).toEqual([]);
        const after = await snapshot(store);
        if (res.status >= 400) {
          if (r.method !== 'HEAD') {
            expect(res.headers.get('content-type')).toMatch(/^application\/json/);
            const { error } = ErrorBody.parse(JSON.parse(text));
            expect(STATUS_OF[error.code]).toBe(res.status);
            expectUnchanged(state, after, url, error);
          } else {
            expect(after).toEqual(state);
          }
        }
        state = after;
      }),
      { numRuns: 400, interruptAfterTimeLimit: 45_000 },
    );
    // The run reached the handlers, not only the router.
    for (const status of [200, 400, 404]) expect(seen.get(status) ?? 0, `status ${status} in ${JSON.stringify([...seen])}`).toBeGreaterThan(0);
  }, 60_000);
});

describe('the Lambda handler under arbitrary API Gateway events', () => {
  const context = { awsRequestId: 'fuzz', functionName: 'api' } as Context;

  test('never a 5xx, always a JSON error body for >= 400, and rejected events change nothing', async () => {
    const store = await freshStore();
    await register(store, POOLS);
    const handler = createApiHandler({ client: testClient(), tableName: store.tableName, maxPoolSize: 10_000 });
    // Powertools Logger and Metrics write to stdout; keep the test output readable.
    const write = process.stdout.write;
    process.stdout.write = (() => true) as typeof process.stdout.write;
    try {
      let state = await snapshot(store);
      const event = fc.record({
        method,
        // HTTP APIs hand rawPath over decoded: any text at all.
        rawPath: fc.oneof(path, fc.string({ maxLength: 30 }).map((s) => `/v1/pools/vni/owners/${s}`), fc.string({ unit: 'binary', maxLength: 20 }).map((s) => `/${s}`)),
        rawQueryString: query.map((q) => q.slice(1)),
        body: fc.option(fc.oneof(body.map((b) => b ?? ''), fc.base64String({ maxLength: 40 })), { nil: undefined }),
        isBase64Encoded: fc.boolean(),
        headers: fc.dictionary(fc.constantFrom('content-type', 'x-any', 'accept'), fc.oneof(contentType.map((c) => c ?? ''), fc.string({ maxLength: 10 })), { maxKeys: 2 }),
      });
      await fc.assert(
        fc.asyncProperty(event, async (e) => {
          const result = await handler(
            {
              version: '2.0',
              routeKey: '$default',
              rawPath: e.rawPath,
              rawQueryString: e.rawQueryString,
              headers: { host: 'api.example.com', ...e.headers },
              requestContext: { domainName: 'api.example.com', http: { method: e.method, path: e.rawPath }, requestId: 'fuzz-req', stage: '$default' },
              body: e.body,
              isBase64Encoded: e.isBase64Encoded,
            } as never,
            context,
          );
          const status = result.statusCode ?? 0;
          expect(status, JSON.stringify(e).slice(0, 300)).toBeLessThan(500);
          const after = await snapshot(store);
          if (status >= 400 && e.method !== 'HEAD') {
            expect(result.headers?.['content-type']).toMatch(/^application\/json/);
            const { error } = ErrorBody.parse(JSON.parse(result.body ?? ''));
            expect(STATUS_OF[error.code]).toBe(status);
            expectUnchanged(state, after, `/?${e.rawQueryString}`, error);
          }
          state = after;
        }),
        { numRuns: 150, interruptAfterTimeLimit: 25_000 },
      );
    } finally {
      process.stdout.write = write;
    }
  }, 60_000);
});
