// docs/API.md against the OpenAPI document the app serves: its generated reference is what
// `npm run docs:api` writes today, its curl examples cover every served route, and no route it lists
// as not yet available is served.
import { readFileSync } from 'node:fs';
import { describe, expect, test } from 'vitest';
import { openApiDocument } from '../../functions/http/openapi.js';
import { routes } from '../../functions/http/routes.js';
import { API_DOC, BEGIN, expectedApiDoc, renderReference } from '../../scripts/docs-api.js';

const text = readFileSync(API_DOC, 'utf8');
const guide = text.slice(0, text.indexOf(BEGIN));
const doc = openApiDocument(routes) as { paths: Record<string, Record<string, unknown>> };
const served = Object.entries(doc.paths).flatMap(([path, item]) => Object.keys(item).map((method) => ({ method: method.toUpperCase(), path })));

/** `/v1/pools/{pool}` as a pattern that a concrete path of a curl line matches. */
function template(path: string): RegExp {
  return new RegExp(`^${path.replace(/[.]/g, '\\.').replace(/\{[^}]+\}/g, '[^/]+')}$`);
}

/** Method and path of every curl call in the guide, as written for the local stack. */
function curlCalls(markdown: string): { method: string; path: string }[] {
  const calls: { method: string; path: string }[] = [];
  for (const line of markdown.split('\n')) {
    if (!/^\s*(?:\|\s*)?curl /.test(line) && !line.includes('| curl ')) continue;
    const url = /localhost:3000(\/v1\/[^\s'"?]*)/.exec(line);
    if (!url) continue;
    const method = /-X ([A-Z]+)/.exec(line)?.[1] ?? (/ (-d|--data-binary) /.test(line) ? 'POST' : 'GET');
    calls.push({ method, path: url[1] });
  }
  return calls;
}

describe('docs/API.md', () => {
  test('its reference is what npm run docs:api generates from the OpenAPI document', () => {
    // On failure: run `npm run docs:api` and commit docs/API.md.
    expect(text, 'docs/API.md is out of date with GET /v1/openapi.json: run `npm run docs:api`').toBe(expectedApiDoc(text));
  });

  test('the guide has a curl example for every route the app serves', () => {
    const calls = curlCalls(guide);
    const missing = served.filter((r) => !calls.some((c) => c.method === r.method && template(r.path).test(c.path)));
    expect(missing).toEqual([]);
  });

  test('every curl example of the guide calls a route the app serves', () => {
    const unserved = curlCalls(guide).filter((c) => !served.some((r) => r.method === c.method && template(r.path).test(c.path)));
    expect(unserved).toEqual([]);
  });

  test('no route listed as not yet available is served: once built, it moves into the reference', () => {
    const start = guide.indexOf('## Not yet available');
    const section = start < 0 ? '' : guide.slice(start, guide.indexOf('## Reference'));
    const listed = [...section.matchAll(/^\| `(GET|POST|PATCH|PUT|DELETE) ([^`]+)`/gm)].map((m) => ({ method: m[1], path: m[2] }));
    expect(listed.filter((l) => served.some((r) => r.method === l.method && r.path === l.path))).toEqual([]);
  });

  test('the generator renders what a document may add: servers, security schemes, integer parameters', () => {
    const base = openApiDocument(routes) as Record<string, unknown>;
    const extended = {
      ...base,
      servers: [{ url: 'http://localhost:3000', description: 'the local stack' }, { url: 'https://{api-id}.execute-api.{region}.amazonaws.com' }],
      security: [{ sigv4: [] }],
      components: {
        ...(base.components as object),
        securitySchemes: { sigv4: { type: 'apiKey', name: 'Authorization', in: 'header', description: 'AWS SigV4' } },
      },
      paths: {
        '/v1/things': {
          get: {
            summary: 'Things',
            parameters: [{ name: 'limit', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } }],
            responses: { 200: { description: 'ok' } },
          },
        },
      },
    };
    const out = renderReference(extended);
    expect(out).toContain('| `http://localhost:3000` | the local stack |');
    expect(out).toContain('| `sigv4` | apiKey |');
    expect(out).toContain('security `sigv4`');
    expect(out).toContain('| `limit` | query | no | integer 1-1000 | Default `100`. |');
  });
});
