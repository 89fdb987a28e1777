/**
 * The OpenAPI 3.1 document, generated from the route table and its zod schemas. OpenAPI 3.1 schemas
 * are JSON Schema 2020-12, which zod writes natively, so no converter library is needed (and the
 * Lambda bundle stays small).
 */
import * as z from 'zod';
import { STATUS_OF } from './errors.js';
import type { Route } from './route.js';
import { CONFIG_EXAMPLE, components, documentedAs } from './schemas.js';

const REF_PREFIX = '#/components/schemas/';

type JsonSchema = Record<string, unknown>;

/** What zod writes for a document of its own, which an embedded schema must not carry. */
function embedded(schema: JsonSchema): JsonSchema {
  const { $schema: _schema, $id: _id, ...rest } = schema;
  return rest;
}

function schemaOf(schema: z.ZodType, io: 'input' | 'output'): JsonSchema {
  const id = components.get(schema)?.id;
  if (id) return { $ref: `${REF_PREFIX}${id}` };
  // Only parameters are not components, and they are plain strings: nothing here refers to a component.
  return embedded(z.toJSONSchema(schema, { target: 'draft-2020-12', io, unrepresentable: 'any' }) as JsonSchema);
}

function parameters(where: 'path' | 'query', shape: z.ZodObject | undefined): unknown[] {
  if (!shape) return [];
  return Object.entries(shape.shape).map(([name, field]) => {
    const inner = field instanceof z.ZodOptional ? (field.unwrap() as z.ZodType) : (field as z.ZodType);
    const documented = documentedAs.get(inner)?.schema;
    const generated = schemaOf(field as z.ZodType, 'input');
    // Documented as the value it stands for: the string form's type and pattern do not apply to it.
    const { description, ...schema }: JsonSchema = documented ? { description: generated.description, ...documented } : generated;
    const required = where === 'path' || !(field as z.ZodType).safeParse(undefined).success;
    return { name, in: where, required, ...(description ? { description } : {}), schema };
  });
}

function operation(route: Route): Record<string, unknown> {
  const s = route.spec;
  const responses: Record<string, unknown> = {};
  for (const [status, r] of Object.entries(s.responses)) {
    responses[status] = {
      description: r.description,
      ...(r.headers ? { headers: Object.fromEntries(Object.entries(r.headers).map(([name, description]) => [name, { description, schema: { type: 'string' } }])) } : {}),
      ...(r.schema ? { content: { 'application/json': { schema: schemaOf(r.schema, 'output') } } } : {}),
    };
  }
  const byStatus = new Map<number, string[]>();
  for (const code of s.errors) byStatus.set(STATUS_OF[code], [...(byStatus.get(STATUS_OF[code]) ?? []), code]);
  for (const [status, codes] of [...byStatus].sort(([a], [b]) => a - b)) {
    responses[String(status)] = {
      description: codes.join(', '),
      ...(status === 503 ? { headers: { 'Retry-After': { description: 'Seconds to wait before retrying.', schema: { type: 'string' } } } } : {}),
      content: { 'application/json': { schema: { $ref: `${REF_PREFIX}Error` } } },
    };
  }
  return {
    operationId: s.operationId,
    summary: s.summary,
    ...(s.description || s.extension ? { description: [s.extension, s.description].filter(Boolean).join(' ') } : {}),
    tags: s.extension ? [...s.tags, 'extensions'] : s.tags,
    ...(s.extension ? { 'x-spec-extension': true } : {}),
    parameters: [...parameters('path', s.params), ...parameters('query', s.query)],
    ...(s.body ? { requestBody: { required: true, description: s.body.description, content: bodyContent(s.body) } } : {}),
    responses,
    security: SIGNED,
  };
}

/**
 * A text body (the pool file) is also offered as text/plain with an example: the route reads TOML
 * whatever the Content-Type, and tools that cannot write application/toml (schemathesis, generators)
 * can then send one.
 */
function bodyContent(body: NonNullable<Route['spec']['body']>): Record<string, unknown> {
  const schema = schemaOf(body.schema, 'input');
  if (body.kind !== 'text') return { [body.mediaType]: { schema } };
  return { [body.mediaType]: { schema, example: CONFIG_EXAMPLE }, 'text/plain': { schema, example: CONFIG_EXAMPLE } };
}

/** Behind API Gateway every route takes IAM auth: requests are signed with AWS Signature Version 4. */
const SIGV4 = 'sigv4';
const SIGNED = [{ [SIGV4]: [] }];

const documents = new WeakMap<readonly Route[], unknown>();

export function openApiDocument(routes: readonly Route[]): unknown {
  let doc = documents.get(routes);
  if (doc) return doc;
  const paths: Record<string, Record<string, unknown>> = {};
  for (const route of routes) (paths[route.spec.path] ??= {})[route.spec.method] = operation(route);
  const { schemas } = z.toJSONSchema(components, { target: 'draft-2020-12', uri: (id) => `${REF_PREFIX}${id}`, unrepresentable: 'any' }) as {
    schemas: Record<string, JsonSchema>;
  };
  doc = {
    openapi: '3.1.0',
    info: {
      title: 'resource-pools',
      version: '1',
      description:
        'Allocator for infrastructure resource pools (IPv4 and IPv6 addresses, VXLAN VNIs, VLAN IDs, ASNs). ' +
        'Errors are {"error":{"code","message","details"?}}; unknown routes answer 404 NOT_FOUND, known routes with another method 405 METHOD_NOT_ALLOWED, bodies over 1 MiB 413 PAYLOAD_TOO_LARGE.',
    },
    servers: [
      { url: 'http://localhost:3000', description: 'The local stack (`npm start`): no authentication; PORT changes the port.' },
      {
        url: 'https://{apiId}.execute-api.{region}.amazonaws.com',
        description: 'The deployed API (the stack output ApiUrl): every request signed with SigV4 (service execute-api).',
        variables: { apiId: { default: 'abc123', description: 'The HTTP API id.' }, region: { default: 'eu-west-1', description: 'The AWS region of the stack.' } },
      },
    ],
    tags: [
      { name: 'pools' },
      { name: 'allocations' },
      { name: 'config' },
      { name: 'service' },
      { name: 'extensions', description: 'Routes beyond the core API.' },
    ],
    paths,
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, embedded(schema)])),
      securitySchemes: {
        [SIGV4]: {
          type: 'apiKey',
          name: 'Authorization',
          in: 'header',
          description: 'API Gateway IAM authorization: AWS Signature Version 4 (service execute-api) with the caller\'s IAM credentials. The local stack takes unsigned requests.',
          'x-amazon-apigateway-authtype': 'awsSigv4',
        },
      },
    },
  };
  documents.set(routes, doc);
  return doc;
}
