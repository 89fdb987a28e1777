/**
 * A route is declared once, with the zod schemas of its request parts and its responses: the app
 * validates requests with those schemas before the handler runs, and the OpenAPI document is
 * generated from the same declaration.
 */
import type { Context } from 'hono';
import * as z from 'zod';
import { type ErrorCode, PoolError } from '../../lib/errors.js';
import type { PoolStore } from '../../lib/store/index.js';
import { invalidArgument } from './errors.js';

/** What the application needs from its host (local server or Lambda). */
export interface AppLogger {
  error(message: string, ...extra: Record<string, unknown>[]): void;
  warn?(message: string, ...extra: Record<string, unknown>[]): void;
}

export interface AppDeps {
  store: PoolStore;
  maxPoolSize: number;
  /** Where unexpected errors are reported, with the request id; console when absent. */
  logger?: AppLogger;
}

export interface AppEnv {
  /** requestId: API Gateway's, or a fresh one; caller: who asks (see callerOf in app.ts). */
  Variables: { requestId: string; caller: string };
}

type Shape = z.ZodObject;

const NO_QUERY: Shape = z.object({});

interface BodySpec<B extends z.ZodType> {
  /**
   * `json`: the body is parsed as JSON whatever its Content-Type (curl's -d sends form encoding by
   * default, and the contract's error table has no 415); `text`: handed over as it is.
   */
  kind: 'json' | 'text';
  /** What the OpenAPI document declares. */
  mediaType: string;
  schema: B;
  description: string;
  /** The error a body the schema rejects answers; INVALID_ARGUMENT naming each field by default. */
  invalid?: (error: z.core.$ZodError) => PoolError;
}

export interface Input<P, Q, B> {
  params: P;
  query: Q;
  body: B;
}

export interface RouteSpec<P extends Shape, Q extends Shape, B extends z.ZodType> {
  method: 'get' | 'post' | 'patch' | 'delete';
  /** In OpenAPI form: `/v1/pools/{pool}`. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tags: string[];
  /** Documented as an extension of the contract (docs/API.md). */
  extension?: string;
  params?: P;
  query?: Q;
  body?: BodySpec<B>;
  responses: Record<number, { description: string; schema?: z.ZodType; headers?: Record<string, string> }>;
  /** The error codes this route may answer, documented by status. */
  errors: ErrorCode[];
  handle(input: Input<z.output<P>, z.output<Q>, z.output<B>>, c: Context<AppEnv>, deps: AppDeps): Promise<Response> | Response;
}

/** A route with its types erased, for the table. */
export interface Route {
  spec: RouteSpec<Shape, Shape, z.ZodType>;
  /** Validates the request, then runs the handler. */
  run(c: Context<AppEnv>, deps: AppDeps): Promise<Response>;
}

export function defineRoute<P extends Shape = Shape, Q extends Shape = Shape, B extends z.ZodType = z.ZodUndefined>(spec: RouteSpec<P, Q, B>): Route {
  return {
    spec: spec as unknown as RouteSpec<Shape, Shape, z.ZodType>,
    async run(c, deps) {
      const params = spec.params ? parsePart('path', spec.params, pathParams(c)) : {};
      const query = parsePart('query', spec.query ?? NO_QUERY, queryParams(c, spec));
      const body = spec.body ? await readBody(c, spec.body) : undefined;
      return spec.handle({ params, query, body } as Input<z.output<P>, z.output<Q>, z.output<B>>, c, deps);
    },
  };
}

function parsePart<S extends z.ZodType>(part: 'path' | 'query' | 'body', schema: S, input: unknown, invalid = (error: z.core.$ZodError) => invalidArgument(part, error)): z.output<S> {
  const result = schema.safeParse(input);
  if (!result.success) throw invalid(result.error);
  return result.data;
}

/**
 * Hono decodes path parameters leniently: a segment that is not valid percent-encoding (`%zz`, or
 * bytes that are not UTF-8) is passed on as it came, which would make `/owners/%zz` name the owner
 * "%zz". Such a path is refused instead.
 */
function pathParams(c: Context): Record<string, string> {
  const url = c.req.url;
  const start = url.indexOf('/', url.indexOf('://') + 3);
  const end = url.search(/[?#]/);
  const rawPath = url.slice(start, end < 0 ? undefined : end);
  try {
    for (const segment of rawPath.split('/')) decodeURIComponent(segment);
  } catch {
    throw new PoolError('INVALID_ARGUMENT', 'path: a path segment is not valid percent-encoding of UTF-8 text; encode "%" as %25');
  }
  return c.req.param() as Record<string, string>;
}

/**
 * The route's query parameters, each given at most once. Any other parameter is refused, naming the
 * accepted ones: an ignored `?owner=` on a listing would answer every allocation as if it had filtered.
 */
function queryParams(c: Context, spec: RouteSpec<Shape, Shape, z.ZodType>): Record<string, string | string[]> {
  const accepted = Object.keys(spec.query?.shape ?? {});
  const given = c.req.queries();
  const unknown = Object.keys(given).filter((name) => !accepted.includes(name));
  if (unknown.length > 0) {
    const takes = accepted.length === 0 ? 'takes no query parameters' : `accepts only ${accepted.join(', ')}`;
    const details = unknown.slice(0, 10).map((name) => ({ path: `query.${clipped(name)}`, message: `unknown query parameter; ${spec.method.toUpperCase()} ${spec.path} ${takes}` }));
    const more = unknown.length > details.length ? ` (and ${unknown.length - details.length} more)` : '';
    throw new PoolError('INVALID_ARGUMENT', `${details.map((d) => d.path).join(', ')}${more}: unknown query parameter${unknown.length > 1 ? 's' : ''}; ${spec.method.toUpperCase()} ${spec.path} ${takes}`, { details });
  }
  const out: Record<string, string | string[]> = {};
  for (const name of accepted) {
    const values = given[name];
    if (!values || values.length === 0) continue;
    // A parameter whose schema is a list may repeat (`?label=a:1&label=b:2`).
    if (isList(spec.query?.shape[name])) {
      out[name] = values;
      continue;
    }
    if (values.length > 1) throw new PoolError('INVALID_ARGUMENT', `query.${name}: given ${values.length} times; give it once`);
    out[name] = values[0];
  }
  return out;
}

function isList(schema: z.ZodType | undefined): boolean {
  const inner = schema instanceof z.ZodOptional ? schema.unwrap() : schema;
  return inner instanceof z.ZodArray;
}

/** A parameter name as a message repeats it: a 1 MiB query string must not come back whole. */
function clipped(name: string): string {
  return name.length > 48 ? `${JSON.stringify(name.slice(0, 48))}…` : JSON.stringify(name).slice(1, -1);
}

async function readBody<B extends z.ZodType>(c: Context, spec: BodySpec<B>): Promise<z.output<B>> {
  const text = await c.req.text();
  if (spec.kind === 'text') return parsePart('body', spec.schema, text);
  if (text.trim() === '') {
    throw new PoolError('INVALID_ARGUMENT', 'body: empty; send a JSON object such as {"owner": "vpc-42"}');
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    const reason = e instanceof Error ? e.message.slice(0, 200) : 'unreadable';
    throw new PoolError('INVALID_ARGUMENT', `body: not valid JSON (${reason}); send a JSON object such as {"owner": "vpc-42"}`);
  }
  return parsePart('body', spec.schema, json, spec.invalid);
}

/** `/v1/pools/{pool}` → `/v1/pools/:pool`. */
export function honoPath(path: string): string {
  return path.replace(/\{([^}]+)\}/g, ':$1');
}
