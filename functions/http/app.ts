/**
 * The one HTTP application (docs/API.md). The local server (`@hono/node-server`) and the Lambda
 * (`hono/aws-lambda`) both serve what createApp returns.
 *
 * Errors are typed values all the way: lib/ throws PoolError, request validation throws PoolError,
 * and one handler turns them into the contract's JSON. Anything else is a bug: it is logged with a
 * request id and answered 500 INTERNAL, and the property tests hold that no input reaches it.
 */
import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { HTTPException } from 'hono/http-exception';
import { methodNotAllowed } from 'hono/method-not-allowed';
import { PoolError } from '../../lib/errors.js';
import { errorResponse } from './errors.js';
import { type AppDeps, type AppEnv, type AppLogger, honoPath } from './route.js';
import { routes } from './routes.js';

export type { AppDeps, AppLogger } from './route.js';

/** The contract: bodies over 1 MiB answer 413. */
export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * API Gateway's request id when behind it (so a log line can be found from the access log), a fresh
 * one otherwise.
 */
function requestIdOf(env: unknown): string {
  const id = (env as { requestContext?: { requestId?: unknown } } | undefined)?.requestContext?.requestId;
  return typeof id === 'string' && /^[\w.=-]{1,128}$/.test(id) ? id : randomUUID();
}

/**
 * Who asks, as allocation records and history keep it: the IAM principal that signed the request
 * behind API Gateway (HTTP API, IAM authorization), "local" on the local server, which has no
 * authentication. A Lambda invocation without an IAM principal (not through the API) is "unknown".
 */
export function callerOf(env: unknown): string {
  const context = (env as { requestContext?: { authorizer?: { iam?: { userArn?: unknown } } } } | undefined)?.requestContext;
  if (!context) return 'local';
  const arn = context.authorizer?.iam?.userArn;
  return typeof arn === 'string' && arn.length > 0 && arn.length <= 2048 ? arn : 'unknown';
}

function describeError(e: unknown): Record<string, unknown> {
  if (!(e instanceof Error)) return { error: String(e) };
  return { error: { name: e.name, message: e.message, stack: e.stack, ...(e.cause === undefined ? {} : { cause: describeError(e.cause).error }) } };
}

export function createApp(deps: AppDeps): Hono<AppEnv> {
  const logger: AppLogger = deps.logger ?? console;
  const app = new Hono<AppEnv>();

  app.use(async (c, next) => {
    const requestId = requestIdOf(c.env);
    c.set('requestId', requestId);
    c.set('caller', callerOf(c.env));
    c.header('X-Request-Id', requestId);
    await next();
  });

  app.use(
    methodNotAllowed({
      app,
      onMethodNotAllowed: (c, allowed) =>
        errorResponse(c, new PoolError('METHOD_NOT_ALLOWED', `${c.req.method} is not allowed on ${c.req.path.slice(0, 200)}; allowed: ${allowed.join(', ')}`), {
          Allow: allowed.join(', '),
        }),
    }),
  );

  app.use(
    bodyLimit({
      maxSize: MAX_BODY_BYTES,
      onError: (c) => errorResponse(c, new PoolError('PAYLOAD_TOO_LARGE', `the request body is over ${MAX_BODY_BYTES} bytes (1 MiB)`)),
    }),
  );

  for (const route of routes) {
    app.on(route.spec.method.toUpperCase(), honoPath(route.spec.path), (c) => route.run(c, deps));
  }

  app.notFound((c) =>
    errorResponse(c, new PoolError('NOT_FOUND', `no route ${c.req.method} ${c.req.path.slice(0, 200)}; GET /v1/openapi.json lists the routes`)),
  );

  app.onError((e, c) => {
    if (e instanceof PoolError) {
      if (e.code === 'UNAVAILABLE') {
        logger.warn?.('answered UNAVAILABLE', { requestId: c.get('requestId'), method: c.req.method, path: c.req.path, ...describeError(e) });
      }
      return errorResponse(c, e);
    }
    // Hono's own middleware signals client errors this way.
    if (e instanceof HTTPException && e.status === 413) {
      return errorResponse(c, new PoolError('PAYLOAD_TOO_LARGE', `the request body is over ${MAX_BODY_BYTES} bytes (1 MiB)`));
    }
    if (e instanceof HTTPException && e.status >= 400 && e.status < 500) {
      return errorResponse(c, new PoolError('INVALID_ARGUMENT', e.message || 'the request is malformed'));
    }
    const requestId = c.get('requestId') ?? randomUUID();
    logger.error('unexpected error answering a request', { requestId, method: c.req.method, path: c.req.path, ...describeError(e) });
    return errorResponse(
      c,
      new PoolError('INTERNAL', `an unexpected error occurred; it was logged with request id ${requestId}, quote it when reporting the problem`),
    );
  });

  return app;
}
