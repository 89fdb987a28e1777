// The path rule (functions/http/paths.ts) through both adapters: the Lambda handler, fed rawPaths
// decoded the way API Gateway HTTP APIs decode them, and the local Node server on a real port, fed
// raw request targets that nothing normalizes on the way. A path with an empty, "." or ".." segment
// (plain or percent-encoded) or a segment that decodes to text holding / ? # % or \ is answered 400
// INVALID_ARGUMENT before routing; any other path runs the route its segments name, and nothing else.
//
// "Which route ran" is read from a stub store that answers every call with an error naming the call,
// and from the answer of the same request sent to the application under its canonical path.
import { request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import type { Context } from 'aws-lambda';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, inject, test } from 'vitest';
import { lambdaAdapter } from '../../functions/api.js';
import { createApp } from '../../functions/http/app.js';
import { createApiServer } from '../../functions/http/node-server.js';
import { pathProblem, requestTargetPath } from '../../functions/http/paths.js';
import { routes } from '../../functions/http/routes.js';
import { ErrorBody } from '../../functions/http/schemas.js';
import { PoolError } from '../../lib/errors.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freePort } from '../../local/dynamodb-local.js';
import { startLocalStack } from '../../local/stack.js';

// ---------------------------------------------------------------- the application, on a stub store

const STUB = /^stub store: (\w+)\((.*)\)$/;

/** Every store call fails with NOT_ALLOCATED naming the method and its text arguments (pool, owner). */
function stubStore(): PoolStore {
  return new Proxy(
    {},
    {
      get: (_target, name) =>
        typeof name !== 'string' || name === 'then'
          ? undefined
          : name === 'deadline'
            ? // Not a call to DynamoDB: when the registration that follows must end.
              () => Date.now() + 8000
            : (...args: unknown[]) => {
              // Text arguments, and the pool and owner of a request object.
              const texts = args.flatMap((a) => (typeof a === 'string' ? [a] : typeof a === 'object' && a !== null ? requestTexts(a as Record<string, unknown>) : []));
              const shown = texts.map((a) => JSON.stringify(a));
              throw new PoolError('NOT_ALLOCATED', `stub store: ${name}(${shown.join(', ')})`);
            },
    },
  ) as PoolStore;
}

function requestTexts(request: Record<string, unknown>): string[] {
  return ['pool', 'owner'].flatMap((k) => (typeof request[k] === 'string' ? [request[k] as string] : []));
}

/** The store method each route calls first, by operation. */
const STORE_CALL: Record<string, string | undefined> = {
  health: 'health',
  listPools: 'pools',
  getPool: 'pool',
  allocate: 'allocate',
  listAllocations: 'allocations',
  getAllocationByValue: 'findByValue',
  releaseValue: 'release',
  getAllocationByOwner: 'findByOwner',
  releaseOwner: 'release',
  relabelOwner: 'relabel',
  getOwnerHoldings: 'ownerHoldings',
  allocateBatch: 'allocateBatch',
  releaseBatch: 'releaseBatch',
  getValueHistory: 'history',
  getOwnerHistory: 'history',
  getPoolHistory: 'history',
  applyConfig: 'registrationState',
  listSyncs: 'syncs',
  check: 'check',
  patchPool: 'setDisabled',
  deletePool: 'deletePool',
  retireValues: 'retire',
  importAllocations: 'importAllocations',
  repair: 'repair',
  openapi: undefined,
};

const logged: unknown[] = [];
const app = createApp({ store: stubStore(), maxPoolSize: 1000, logger: { error: (...a: unknown[]) => logged.push(a), warn: () => {} } });
const lambda = lambdaAdapter(app, { error: (...a: unknown[]) => logged.push(a) });
const context = { awsRequestId: 'paths', functionName: 'api' } as Context;

interface Answer {
  status: number;
  body: string;
}

/** The route the segments name, by the route table alone: an operation, or 404/405. */
function namedRoute(method: string, segments: string[]): { operationId: string; params: Record<string, string> } | 404 | 405 {
  let pathKnown = false;
  for (const r of routes) {
    const template = r.spec.path.split('/').slice(1);
    if (template.length !== segments.length) continue;
    const params: Record<string, string> = {};
    if (!template.every((t, i) => (/^\{.+\}$/.test(t) ? ((params[t.slice(1, -1)] = segments[i]), true) : t === segments[i]))) continue;
    pathKnown = true;
    if (r.spec.method.toUpperCase() === method || (method === 'HEAD' && r.spec.method === 'get')) return { operationId: r.spec.operationId, params };
  }
  return pathKnown ? 405 : 404;
}

/** What the rule says of a path, written independently of paths.ts: the first bad segment, 1-based. */
function firstBadSegment(path: string, decodeEach: boolean): number | undefined {
  if (path === '/') return undefined;
  const segments = path.slice(1).split('/');
  for (let i = 0; i < segments.length; i++) {
    let text: string;
    try {
      text = decodeEach ? decodeURIComponent(segments[i]) : segments[i];
    } catch {
      return i + 1;
    }
    if (text === '' || text === '.' || text === '..' || /[/?#%\\]/.test(text)) return i + 1;
  }
  return undefined;
}

/**
 * What API Gateway HTTP APIs hand the function as rawPath for a client's path: percent-decoded once,
 * and cut at a `?` that decoding produced. Undefined for text that is not valid percent-encoding
 * (what API Gateway does with it is not known here).
 */
function apiGatewayRawPath(clientPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(clientPath);
  } catch {
    return undefined;
  }
  const q = decoded.indexOf('?');
  return q < 0 ? decoded : decoded.slice(0, q);
}

async function viaCanonicalPath(method: string, segments: string[], query: string, body: string | undefined): Promise<Answer> {
  const path = `/${segments.map(encodeURIComponent).join('/')}`;
  const res = await app.fetch(new Request(`http://localhost${path}${query}`, { method, body: method === 'GET' || method === 'HEAD' ? undefined : body }));
  return { status: res.status, body: await res.text() };
}

async function viaLambda(method: string, rawPath: string, query: string, body: string | undefined): Promise<Answer> {
  const result = await lambda(
    {
      version: '2.0',
      routeKey: '$default',
      rawPath,
      rawQueryString: query.replace(/^\?/, ''),
      headers: { host: 'abc123.execute-api.eu-west-1.amazonaws.com', 'content-type': 'application/json' },
      requestContext: { domainName: 'abc123.execute-api.eu-west-1.amazonaws.com', http: { method, path: rawPath }, requestId: 'paths-req', stage: '$default' },
      body,
      isBase64Encoded: false,
    } as never,
    context,
  );
  return { status: result.statusCode ?? 0, body: result.body ?? '' };
}

/** One request with its target sent exactly as given (node:http does not normalize it). */
function viaServer(port: number, agent: Agent, method: string, target: string, body: string | undefined): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Content-Length given: node:http frames a DELETE body with nothing otherwise.
    const headers = { 'content-type': 'application/json', ...(body === undefined ? {} : { 'content-length': String(Buffer.byteLength(body)) }) };
    const req = httpRequest({ host: '127.0.0.1', port, method, path: target, agent, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function errorOf(answer: Answer): { code: string; message: string } {
  return ErrorBody.parse(JSON.parse(answer.body)).error;
}

/**
 * The adapter's answer for a path whose segments passed the rule: the answer the application gives
 * under the canonical path, and, whenever a store call was made, the call of the route the segments
 * name, with the pool (and owner) the path names.
 */
async function expectRoute(answer: Answer, method: string, segments: string[], query: string, body: string | undefined, where: string): Promise<string> {
  const canonical = await viaCanonicalPath(method, segments, query, body);
  expect(answer.status, where).toBe(canonical.status);
  if (answer.status >= 400) {
    const [got, want] = [errorOf(answer), errorOf(canonical)];
    expect(got.code, where).toBe(want.code);
    // 404 and 405 quote the URL path, which is spelled differently; everything else must agree.
    if (got.code !== 'NOT_FOUND' && got.code !== 'METHOD_NOT_ALLOWED') expect(got.message, where).toBe(want.message);
  } else {
    expect(answer.body, where).toBe(canonical.body);
  }
  const named = namedRoute(method, segments);
  if (named === 404 || named === 405) {
    expect(answer.status, where).toBe(named);
    return String(named);
  }
  const call = answer.status === 404 ? STUB.exec(errorOf(answer).message) : null;
  if (!call) return `${named.operationId} answered ${answer.status} without the store`;
  expect(call[1], where).toBe(STORE_CALL[named.operationId]);
  const args = JSON.parse(`[${call[2]}]`) as string[];
  if (named.params.pool !== undefined) expect(args[0], where).toBe(named.params.pool);
  if (named.params.owner !== undefined) expect(args, where).toContain(named.params.owner);
  return `ran ${named.operationId}`;
}

// ---------------------------------------------------------------- what a path can be

const OWNER_CHARS = [...'!"$&\'()*+,-.0123456789:;<=>@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~'];
const owner = fc.oneof(
  fc.constantFrom('o-1', 'vpc-42:dpu-7', '...', '.a', 'a.', "a&b=c+d;e@f!$'()*,", '~'),
  fc.string({ unit: fc.constantFrom(...OWNER_CHARS), minLength: 1, maxLength: 10 }).filter((o) => o !== '.' && o !== '..'),
);
const pool = fc.constantFrom('vni', 'lo', 'tenant-vlan', 'a.b_c-1', 'A1');
const value = fc.constantFrom('2024500', '7', '10.0.0.1', '2001:db8::3', '2001:DB8:0::3');
/** Text that the path rule lets through but no route param accepts. */
const oddText = fc.oneof(
  fc.constantFrom('ü', '😀', 'a b', ' ', '\t', 'x'.repeat(300), '0x10', '-1'),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }).filter((s) => firstBadSegment(`/${encodeURIComponent(s)}`, true) === undefined),
);

/** A segment's text as a client writes it: as it is (when the wire takes it), encoded, or every byte encoded. */
function written(text: string, how: 'plain' | 'encoded' | 'every'): string {
  if (how === 'plain' && /^[\x21-\x7e]*$/.test(text)) return text;
  if (how === 'every') {
    return [...Buffer.from(text, 'utf8')].map((b, i) => `%${b.toString(16).padStart(2, '0')[i % 2 ? 'toUpperCase' : 'toLowerCase']()}`).join('');
  }
  return encodeURIComponent(text);
}
const how = fc.constantFrom('plain' as const, 'plain' as const, 'encoded' as const, 'every' as const);

/** Segments no path may have, in the forms a client may write them. */
const badSegment = fc.constantFrom(
  '', '.', '..', '%2e', '%2E', '.%2e', '%2e.', '%2E%2e', '%2e%2E', '%252e', // dot segments, plain and encoded (and %25: a "%")
  '%2F', 'a%2Fb', '%2f..', '%3F', 'a%3Fb', '%23', 'a%23', '%25', '100%25', '%5C', 'a%5cb', '\\', 'a\\b', '#', 'a#b', // delimiters
  '%zz', '%', '%F', '%FF', '%C3', '%ED%A0%80', // not percent-encoding of UTF-8 text
);

const templates = fc.constantFrom(...routes.map((r) => [r.spec.method.toUpperCase(), r.spec.path] as const), ['GET', '/v1/pools/{pool}/nope'] as const, ['PUT', '/v1/pools/{pool}/owners/{owner}'] as const);

interface Case {
  method: string;
  /** The path as the client writes it (no query). */
  path: string;
  query: string;
}

const mutation = fc.oneof(
  { weight: 5, arbitrary: fc.constant({ kind: 'none' as const }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), segment: badSegment }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('replace' as const), at: fc.nat(), segment: badSegment }) },
  // The classic: climb out of a pool's routes to another route (`x/../../config`), plainly or encoded.
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('climb' as const), at: fc.nat(), dots: fc.constantFrom('..', '%2e%2e', '.%2E'), depth: fc.integer({ min: 1, max: 3 }), to: fc.constantFrom('config', 'check', 'pools/other/owners/o-1') }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('odd' as const), at: fc.nat(), text: oddText, how }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'trailing-slash' as const }) },
);

const aCase: fc.Arbitrary<Case> = fc
  .record({ template: templates, pool, value, owner, hows: fc.array(how, { minLength: 6, maxLength: 6 }), mutation, withOwnerQuery: fc.boolean() })
  .map(({ template: [method, template], pool: p, value: v, owner: o, hows, mutation: m, withOwnerQuery }) => {
    const texts = template
      .split('/')
      .slice(1)
      .map((t) => (t === '{pool}' ? p : t === '{value}' ? v : t === '{owner}' ? o : t));
    let segments = texts.map((t, i) => written(t, hows[i]));
    const at = 'at' in m ? m.at % (segments.length + 1) : 0;
    if (m.kind === 'insert') segments.splice(at, 0, m.segment);
    if (m.kind === 'replace') segments[Math.min(at, segments.length - 1)] = m.segment;
    if (m.kind === 'climb') segments = [...segments.slice(0, Math.max(at, 1)), ...Array(m.depth).fill(m.dots), ...m.to.split('/')];
    if (m.kind === 'odd') segments[Math.min(at, segments.length - 1)] = written(m.text, m.how);
    if (m.kind === 'trailing-slash') segments.push('');
    const query = withOwnerQuery ? `?owner=${encodeURIComponent(o)}` : '';
    return { method, path: `/${segments.join('/')}`, query };
  });

/** A body each route with one takes: an allocation's, or a labels patch (which must not name an owner). */
/** A body the route the path names accepts, so that generated requests reach the store. */
function bodyFor(method: string, path: string): string | undefined {
  if (method === 'GET' || method === 'HEAD') return undefined;
  const last = path.split('?')[0].split('/').pop();
  if (method === 'PATCH') return JSON.stringify(path.split('/').length === 4 ? { disabled: true } : { labels: { a: 'b' } });
  if (last === 'retire') return JSON.stringify({ values: [7] });
  if (last === 'import') return JSON.stringify({ allocations: [{ value: 7, owner: 'o-1' }] });
  return JSON.stringify({ owner: 'o-1' });
}

// ---------------------------------------------------------------- tests

describe('the path rule', () => {
  test('accepts paths whose segments each name one segment, and names the first one it refuses', () => {
    for (const ok of ['/', '', '/v1/pools', '/v1/pools/vni/owners/...', '/v1/pools/vni/owners/.a', '/v1/pools/v6/allocations/2001%3Adb8%3A%3A3', '/v1/pools/x/owners/a%20b']) {
      expect(pathProblem(ok, 'raw'), ok).toBeUndefined();
    }
    const cases: [string, 'raw' | 'decoded', RegExp][] = [
      ['/v1/pools/x/../../config', 'raw', /^path: segment 4 \("\.\."\) is a dot segment; /],
      ['/v1/pools/x/%2e%2E/%2E%2e/config', 'raw', /^path: segment 4 \("%2e%2E", decoded "\.\."\) is a dot segment/],
      ['/v1/./pools', 'raw', /segment 2 \("\."\) is a dot segment/],
      ['/v1/pools/', 'raw', /segment 3 is empty \(the path ends in "\/"; leave the slash out\)/],
      ['/v1//pools', 'raw', /segment 2 is empty \("\/\/" in the path\)/],
      ['/v1/pools/x/owners/tenant%2F7', 'raw', /segment 5 \("tenant%2F7", decoded "tenant\/7"\) contains "\/"/],
      ['/v1/pools/x/owners/a%3Fb', 'raw', /segment 5 .* contains "\?"/],
      ['/v1/pools/x/owners/a#b', 'raw', /segment 5 \("a#b"\) contains "#"/],
      ['/v1/pools/x/owners/a%25b', 'raw', /contains "%"/],
      ['/v1/pools/x/owners/a\\b', 'raw', /contains "\\\\"/],
      ['/v1/pools/x/owners/%zz', 'raw', /segment 5 \("%zz"\) is not valid percent-encoding of UTF-8 text/],
      ['/v1/pools/x/owners/%2e%2e', 'decoded', /segment 5 \("%2e%2e"\) contains "%"/],
      ['/v1/pools/x/owners/a?b', 'decoded', /segment 5 \("a\?b"\) contains "\?"/],
      ['/v1/pools/x/..', 'decoded', /segment 4 \("\.\."\) is a dot segment/],
    ];
    for (const [path, form, message] of cases) {
      const e = pathProblem(path, form);
      expect(e?.code, path).toBe('INVALID_ARGUMENT');
      expect(e?.message, path).toMatch(message);
      expect(e?.message, path).toMatch(/path segments must not be empty, "\." or "\.\." \(plainly or percent-encoded\), nor contain \/ \? # % or \\ once decoded/);
    }
    expect(pathProblem('v1/pools', 'raw')?.message).toMatch(/does not start with "\/"/);
  });

  test('reads the path of a request target in origin and absolute form', () => {
    expect(requestTargetPath('/v1/pools?limit=5')).toBe('/v1/pools');
    expect(requestTargetPath('/v1/pools/x/..?a=/../b')).toBe('/v1/pools/x/..');
    expect(requestTargetPath('http://localhost:3000/v1/pools/../config?x')).toBe('/v1/pools/../config');
    expect(requestTargetPath('http://localhost:3000')).toBe('/');
    expect(requestTargetPath('*')).toBe('*');
  });
});

describe('the route that runs is the route the path names', () => {
  let server: Server;
  let port: number;
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });

  beforeAll(async () => {
    server = createApiServer(app.fetch);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    agent.destroy();
    await new Promise((resolve) => server.close(resolve));
  });

  test('regressions: dot segments do not climb to admin routes, and owners "." and ".." are refused', async () => {
    for (const target of ['/v1/pools/x/../../config', '/v1/pools/x/%2e%2e/%2E%2E/config', '/v1/pools/x/.%2e/..%2f..%2Fconfig']) {
      const answer = await viaServer(port, agent, 'POST', target, '[pools.evil]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]\n');
      expect(answer.status, target).toBe(400);
      expect(errorOf(answer), target).toEqual({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(/^path: segment 4 .* is a dot segment; /) });
    }
    const climbed = await viaLambda('POST', '/v1/pools/x/../../config', '', 'whatever');
    expect(climbed.status).toBe(400);
    expect(errorOf(climbed).message).toMatch(/^path: segment 4 \("\.\."\) is a dot segment; /);
    // An owner "." or ".." would be a dot segment in …/owners/{owner}: it is refused when allocating.
    for (const o of ['.', '..']) {
      for (const answer of [
        await viaServer(port, agent, 'POST', '/v1/pools/vni/allocations', JSON.stringify({ owner: o })),
        await viaLambda('POST', '/v1/pools/vni/allocations', '', JSON.stringify({ owner: o })),
      ]) {
        expect(answer.status, o).toBe(400);
        expect(errorOf(answer).message, o).toMatch(/^body\.owner: must be 1-256 characters .* and not "\." or "\.\."/);
      }
    }
    // A trailing slash is an empty last segment; the root alone is routed (and is no route).
    expect(errorOf(await viaServer(port, agent, 'GET', '/v1/pools/', undefined)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await viaLambda('GET', '/v1/pools/', '', undefined)).code).toBe('INVALID_ARGUMENT');
    expect(errorOf(await viaServer(port, agent, 'GET', '/', undefined)).code).toBe('NOT_FOUND');
    expect(errorOf(await viaLambda('GET', '/', '', undefined)).code).toBe('NOT_FOUND');
    // HEAD is refused the same way, without a body.
    expect(await viaServer(port, agent, 'HEAD', '/v1/pools/../pools', undefined)).toEqual({ status: 400, body: '' });
  });

  test('through the local server and the Lambda handler, for generated paths', async () => {
    const outcomes = new Map<string, number>();
    const count = (what: string) => outcomes.set(what, (outcomes.get(what) ?? 0) + 1);
    await fc.assert(
      fc.asyncProperty(aCase, async ({ method, path, query }) => {
        const requestBody = bodyFor(method, path);

        // The local server: the raw path, each segment decoded once.
        const local = await viaServer(port, agent, method, `${path}${query}`, requestBody);
        const where = `local ${method} ${path}${query} → ${local.status} ${local.body.slice(0, 200)}`;
        const bad = firstBadSegment(path, true);
        if (bad !== undefined) {
          expect(local.status, where).toBe(400);
          expect(errorOf(local), where).toEqual({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(new RegExp(`^path: segment ${bad} `)) });
          count('local: refused');
        } else {
          const segments = path === '/' ? [] : path.slice(1).split('/').map((s) => decodeURIComponent(s));
          count(`local: ${await expectRoute(local, method, segments, query, requestBody, where)}`);
        }

        // The Lambda: the path as API Gateway hands it over.
        const rawPath = apiGatewayRawPath(path);
        if (rawPath === undefined) return;
        const viaApiGateway = await viaLambda(method, rawPath, query, requestBody);
        const whereLambda = `lambda ${method} rawPath ${JSON.stringify(rawPath)} (client ${path}) → ${viaApiGateway.status} ${viaApiGateway.body.slice(0, 200)}`;
        const badDecoded = firstBadSegment(rawPath || '/', false);
        if (badDecoded !== undefined) {
          expect(viaApiGateway.status, whereLambda).toBe(400);
          expect(errorOf(viaApiGateway), whereLambda).toEqual({ code: 'INVALID_ARGUMENT', message: expect.stringMatching(new RegExp(`^path: segment ${badDecoded} `)) });
          count('lambda: refused');
        } else {
          const segments = rawPath === '/' || rawPath === '' ? [] : rawPath.slice(1).split('/');
          count(`lambda: ${await expectRoute(viaApiGateway, method, segments, query, requestBody, whereLambda)}`);
        }
      }),
      // No time limit: the counts below must not depend on how busy the machine is (a run takes ~2 s); 800 runs give about 100 routes run per adapter, twice the floor below.
      { numRuns: 800 },
    );
    expect(logged).toEqual([]);
    // The run refused paths and ran routes through both adapters.
    const seen = JSON.stringify([...outcomes].sort());
    for (const what of ['local: refused', 'lambda: refused']) expect(outcomes.get(what) ?? 0, seen).toBeGreaterThan(20);
    for (const side of ['local', 'lambda']) {
      const ran = [...outcomes].filter(([k]) => k.startsWith(`${side}: ran `)).reduce((n, [, v]) => n + v, 0);
      expect(ran, seen).toBeGreaterThan(50);
    }
  }, 120_000);
});

describe('the local stack', () => {
  test('serves its API with the path rule', async () => {
    const [api, s3] = [await freePort(), await freePort()];
    const lines: string[] = [];
    const stack = await startLocalStack(
      {
        port: api,
        ddbPort: 0,
        dynamodbEndpoint: inject('ddbEndpoint'),
        dataDir: join(tmpdir(), 'rp-paths-unused'),
        inMemory: true,
        poolsFile: 'config/pools.toml',
        listenOnly: true,
        s3Port: s3,
        maxPoolSize: 1000,
        tableName: `paths-${process.pid}-${Date.now()}`,
        host: '127.0.0.1',
        historyDays: 400,
        eventsLog: false,
      },
      { info: (l) => lines.push(l), error: (l) => lines.push(l) },
    );
    const agent = new Agent();
    try {
      const climbed = await viaServer(api, agent, 'POST', '/v1/pools/x/../../config?dry_run=true', '[pools.p]\ntype = "integer"\nranges = [{ start = 1, end = 2 }]\n');
      expect(climbed.status).toBe(400);
      expect(errorOf(climbed).message).toMatch(/^path: segment 4 \("\.\."\) is a dot segment/);
      expect((await viaServer(api, agent, 'GET', '/v1/pools', undefined)).status).toBe(200);
    } finally {
      agent.destroy();
      await stack.stop();
    }
    expect(lines.filter((l) => l.startsWith('api:'))).toEqual([]);
  });
});
