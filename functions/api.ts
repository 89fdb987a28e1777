/**
 * The API Lambda (API Gateway HTTP API, payload v2): a thin adapter around the one HTTP application.
 * The store, logger and metrics are built once per container; metrics of each invocation are written
 * as CloudWatch EMF before it returns.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import type { Hono } from 'hono';
import { type APIGatewayProxyResult, handle, type LambdaEvent } from 'hono/aws-lambda';
import { PoolError } from '../lib/errors.js';
import { parseHistoryDays } from '../lib/history.js';
import { parseMaxPoolSize } from '../lib/plan.js';
import { dynamoClient, PoolStore, type StoreEvents } from '../lib/store/index.js';
import { Metric, type MetricName, SERVICE_NAME } from '../lib/telemetry.js';
import { MetricUnit, publishAggregate, publishForPool, serviceMetrics } from './emf.js';
import { type AppLogger, createApp } from './http/app.js';
import { errorJson, STATUS_OF } from './http/errors.js';
import { pathProblem } from './http/paths.js';
import type { AppEnv } from './http/route.js';

/**
 * What one invocation did, written out at its end: per-pool series (dimension `Pool`) and the
 * aggregates (no dimension, which the alarms read) are separate EMF documents.
 */
export class InvocationMetrics {
  private readonly perPool = new Map<string, Map<MetricName, number>>();
  private readonly totals = new Map<MetricName, number>();
  private readonly latenciesMs: number[] = [];

  count(metric: MetricName, pool?: string): void {
    this.totals.set(metric, (this.totals.get(metric) ?? 0) + 1);
    if (pool === undefined) return;
    const counts = this.perPool.get(pool) ?? new Map<MetricName, number>();
    counts.set(metric, (counts.get(metric) ?? 0) + 1);
    this.perPool.set(pool, counts);
  }

  allocationLatency(ms: number): void {
    this.latenciesMs.push(ms);
  }

  publish(metrics: Metrics): void {
    for (const [pool, counts] of this.perPool) {
      for (const [metric, n] of counts) metrics.addMetric(metric, MetricUnit.Count, n);
      publishForPool(metrics, pool);
    }
    for (const [metric, n] of this.totals) metrics.addMetric(metric, MetricUnit.Count, n);
    for (const ms of this.latenciesMs) metrics.addMetric(Metric.AllocationLatency, MetricUnit.Milliseconds, ms);
    publishAggregate(metrics);
    this.perPool.clear();
    this.totals.clear();
    this.latenciesMs.length = 0;
  }
}

/** What the store reports, counted into this invocation's metrics: the application itself knows nothing of metrics. */
export function meteredEvents(tally: InvocationMetrics): StoreEvents {
  return {
    retry: () => tally.count(Metric.ContentionRetries),
    exhausted: (pool) => tally.count(Metric.AllocationsExhausted, pool),
    allocated: (pool, ms) => {
      tally.count(Metric.Allocations, pool);
      tally.allocationLatency(ms);
    },
    released: (pool) => tally.count(Metric.Releases, pool),
    // POST /v1/config: a rejected file is alarmed on like a rejected upload.
    synced: (sync) => tally.count(sync.status === 'applied' ? Metric.ConfigSyncs : Metric.ConfigSyncFailures),
  };
}

export interface ApiHandlerOptions {
  client: DynamoDBClient;
  tableName: string;
  maxPoolSize: number;
  /** How long history entries are kept (a release writes its own). @default DEFAULT_HISTORY_DAYS */
  historyDays?: number;
  logger?: Logger;
  metrics?: Metrics;
}

export type ApiHandler = (event: APIGatewayProxyEventV2, context: Context) => Promise<APIGatewayProxyStructuredResultV2>;

export function createApiHandler(options: ApiHandlerOptions): ApiHandler {
  const logger = options.logger ?? new Logger({ serviceName: SERVICE_NAME });
  const metrics = options.metrics ?? serviceMetrics();
  const tally = new InvocationMetrics();
  const store = new PoolStore({ client: options.client, tableName: options.tableName, historyDays: options.historyDays, events: meteredEvents(tally) });
  const serve = lambdaAdapter(createApp({ store, maxPoolSize: options.maxPoolSize, logger }), logger);

  return async (event, context) => {
    logger.addContext(context);
    try {
      return await serve(event, context);
    } finally {
      tally.publish(metrics);
    }
  };
}

/**
 * The application behind API Gateway: the event is checked and readied (the path rule first, see
 * http/paths.ts), served by Hono's adapter, and its answer made the contract's. Exported so that tests
 * can put an application of their own behind exactly this code.
 */
export function lambdaAdapter(app: Hono<AppEnv>, logger: Pick<AppLogger, 'error'>): ApiHandler {
  const serve = handle(app);
  return async (event, context) => {
    const prepared = prepareEvent(event);
    if (prepared instanceof PoolError) return errorResult(prepared);
    return jsonErrors(structured(await serve(prepared, context)), logger);
  };
}

/**
 * API Gateway HTTP APIs hand the Lambda `rawPath` already percent-decoded. The path rule has refused
 * segments holding `%`, `?`, `#` or `\`; a space or any other character would still be read as URL
 * syntax or changed when the adapter builds the request URL, so each segment is encoded again and the
 * application decodes path parameters once.
 */
function encodePath(rawPath: string): string {
  return rawPath.split('/').map(encodeURIComponent).join('/');
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Readies the event for the adapter, or says why the request cannot be read. */
function prepareEvent(event: APIGatewayProxyEventV2): LambdaEvent | PoolError {
  // Before the adapter builds a URL from it, which would resolve `.` and `..` (see paths.ts).
  const problem = pathProblem(event.rawPath || '/', 'decoded');
  if (problem) return problem;
  let rawPath: string;
  try {
    rawPath = encodePath(event.rawPath || '/');
  } catch {
    return new PoolError('INVALID_ARGUMENT', 'the request path is not valid text');
  }
  const method = event.requestContext?.http?.method?.toUpperCase();
  // A fetch Request cannot carry a body on GET or HEAD; the API reads none there.
  const bodyless = method === 'GET' || method === 'HEAD';
  if (!bodyless && event.body && event.isBase64Encoded && !BASE64.test(event.body.replace(/\s/g, ''))) {
    return new PoolError('INVALID_ARGUMENT', 'the request body is marked base64-encoded but is not base64');
  }
  const body = bodyless || !event.body ? null : event.isBase64Encoded ? event.body.replace(/\s/g, '') : event.body;
  // @types/aws-lambda and Hono describe the same event, with small differences (an absent body is undefined
  // or null; Hono requires an authorizer field that IAM-authorized events carry and Hono never reads).
  return { ...event, rawPath, body, isBase64Encoded: body !== null && event.isBase64Encoded } as unknown as LambdaEvent;
}

/** The adapter's answer as payload v2 declares it: Hono writes every header as one string (cookies apart). */
function structured(result: APIGatewayProxyResult & { headers?: Record<string, string | string[]> }): APIGatewayProxyStructuredResultV2 {
  const { statusCode, body, isBase64Encoded, cookies, headers = {} } = result;
  return {
    statusCode,
    body,
    isBase64Encoded,
    ...(cookies ? { cookies } : {}),
    headers: Object.fromEntries(Object.entries(headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : value])),
  };
}

function errorResult(e: PoolError): APIGatewayProxyStructuredResultV2 {
  return { statusCode: STATUS_OF[e.code], headers: { 'content-type': 'application/json' }, body: JSON.stringify(errorJson(e)), isBase64Encoded: false };
}

/** The adapter answers a request it cannot build in plain text; the contract wants JSON errors. */
function jsonErrors(result: APIGatewayProxyStructuredResultV2, logger: Pick<AppLogger, 'error'>): APIGatewayProxyStructuredResultV2 {
  const status = result.statusCode ?? 200;
  const contentType = String(result.headers?.['content-type'] ?? '');
  if (status < 400 || contentType.startsWith('application/json')) return result;
  if (status < 500) return errorResult(new PoolError('INVALID_ARGUMENT', 'the request could not be read (malformed method, header or URL)'));
  logger.error('the Lambda adapter failed to build a request', { status, body: String(result.body ?? '').slice(0, 200) });
  return errorResult(new PoolError('INTERNAL', 'an unexpected error occurred while reading the request; it was logged'));
}

function fromEnvironment(): ApiHandler {
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set: the API handler needs the allocation table name');
  return createApiHandler({ client: dynamoClient(), tableName, maxPoolSize: parseMaxPoolSize(process.env.MAX_POOL_SIZE), historyDays: parseHistoryDays(process.env.HISTORY_DAYS) });
}

let built: ApiHandler | undefined;

/** Built on the first invocation and kept for the life of the container. */
export const handler: ApiHandler = (event, context) => (built ??= fromEnvironment())(event, context);
