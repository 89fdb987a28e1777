// The OpenAPI document checked by a validator nobody here wrote (@readme/openapi-parser, OpenAPI 3.1
// schema and its own rules: duplicate operation ids, parameters, unresolved refs), and the findings of
// third-party tools: servers, SigV4 on every operation, typed and bounded parameters, examples that
// are values, a pool-name pattern, no negative values, a config body a tool can send.
import { validate } from '@readme/openapi-parser';
import { describe, expect, test } from 'vitest';
import { openApiDocument } from '../../functions/http/openapi.js';
import { routes } from '../../functions/http/routes.js';
import { CONFIG_EXAMPLE } from '../../functions/http/schemas.js';
import { parsePoolsFile } from '../../lib/config.js';

type Doc = {
  servers: { url: string; variables?: Record<string, { default: string }> }[];
  paths: Record<string, Record<string, { security?: unknown; parameters: { name: string; in: string; schema: Record<string, unknown> }[]; requestBody?: { content: Record<string, { example?: string }> } }>>;
  components: { schemas: Record<string, { properties: Record<string, unknown> }>; securitySchemes: Record<string, Record<string, unknown>> };
};

const doc = () => structuredClone(openApiDocument(routes)) as Doc;
const operations = (d: Doc) => Object.entries(d.paths).flatMap(([path, methods]) => Object.entries(methods).map(([m, op]) => ({ name: `${m.toUpperCase()} ${path}`, op })));

describe('OpenAPI document', () => {
  test('is valid OpenAPI 3.1 for @readme/openapi-parser, with no warnings', async () => {
    const result = await validate(doc() as never);
    expect(result.valid ? [] : result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    expect(result.specification).toBe('OpenAPI');
  });

  test('an invalid document is caught by the validator (the check is not vacuous)', async () => {
    const broken = doc() as unknown as Record<string, unknown>;
    (broken.servers as unknown[]).push({ urll: 'http://x' });
    expect((await validate(broken as never)).valid).toBe(false);
  });

  test('servers: the local stack by default, and the deployed URL as a template', () => {
    const { servers } = doc();
    expect(servers[0].url).toBe('http://localhost:3000');
    expect(servers[1].url).toBe('https://{apiId}.execute-api.{region}.amazonaws.com');
    expect(Object.keys(servers[1].variables ?? {})).toEqual(['apiId', 'region']);
  });

  test('every operation requires the SigV4 scheme of API Gateway IAM auth', () => {
    const d = doc();
    expect(d.components.securitySchemes.sigv4).toMatchObject({ type: 'apiKey', name: 'Authorization', in: 'header', 'x-amazon-apigateway-authtype': 'awsSigv4' });
    for (const { name, op } of operations(d)) expect(op.security, name).toEqual([{ sigv4: [] }]);
  });

  test('limit is an integer 1-1000; pool has the name pattern; value examples are values, not encoded segments', () => {
    const d = doc();
    const param = (path: string, method: string, name: string) => d.paths[path][method].parameters.find((p) => p.name === name)?.schema;
    expect(param('/v1/pools/{pool}/allocations', 'get', 'limit')).toEqual({ type: 'integer', minimum: 1, maximum: 1000, default: 100, examples: [100] });
    for (const { name, op } of operations(d)) {
      for (const p of op.parameters) {
        if (p.name === 'pool') expect(p.schema.pattern, name).toBe('^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$');
        if (p.name === 'value') for (const ex of p.schema.examples as string[]) expect(decodeURIComponent(ex), `${name} ${ex}`).toBe(ex);
      }
    }
    expect(param('/v1/pools/{pool}/allocations/{value}', 'get', 'value')?.examples).toContain('2001:db8::5');
  });

  test('values are never negative in Allocation, Pool and Range', () => {
    const { schemas } = doc().components;
    const numberOf = (s: unknown) => (s as { anyOf: Record<string, unknown>[] }).anyOf.find((x) => x.type === 'integer');
    expect(numberOf(schemas.Allocation.properties.value)).toMatchObject({ minimum: 0 });
    for (const f of ['start', 'end']) expect(numberOf(schemas.Range.properties[f])).toMatchObject({ minimum: 0 });
    for (const f of ['min', 'max']) expect(numberOf(schemas.Pool.properties[f])).toMatchObject({ minimum: 0 });
  });

  test('POST /v1/config documents application/toml and text/plain with a valid example file', () => {
    const content = doc().paths['/v1/config'].post.requestBody?.content ?? {};
    expect(Object.keys(content)).toEqual(['application/toml', 'text/plain']);
    for (const media of Object.values(content)) expect(media.example).toBe(CONFIG_EXAMPLE);
    expect(parsePoolsFile(CONFIG_EXAMPLE).errors).toEqual([]);
  });
});
