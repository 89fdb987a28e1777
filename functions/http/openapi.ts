/**
 * The OpenAPI 3.1 document, generated from the route table and its zod schemas. OpenAPI 3.1 schemas
 * are JSON Schema 2020-12, which zod writes natively, so no converter library is needed (and the
 * Lambda bundle stays small).
 */
import * as z from 'zod';
import { STATUS_OF } from './errors.js';
import type { Route } from './route.js';
import { components } from './schemas.js';

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
    const { description, ...schema } = schemaOf(field as z.ZodType, 'input');
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
    ...(s.body
      ? { requestBody: { required: true, description: s.body.description, content: { [s.body.mediaType]: { schema: schemaOf(s.body.schema, 'input') } } } }
      : {}),
    responses,
  };
}

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
    tags: [
      { name: 'pools' },
      { name: 'allocations' },
      { name: 'config' },
      { name: 'service' },
      { name: 'extensions', description: 'Routes beyond SPEC section 2.' },
    ],
    paths,
    components: { schemas: Object.fromEntries(Object.entries(schemas).map(([id, schema]) => [id, embedded(schema)])) },
  };
  documents.set(routes, doc);
  return doc;
}
