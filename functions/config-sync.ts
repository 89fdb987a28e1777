/**
 * Config sync: an object uploaded to the config bucket is read (that exact version) and applied
 * through the one registration path, additively, so duplicate and out-of-order events are harmless.
 * A rejected file is recorded (registerFile does it), logged and counted, and does not fail the
 * invocation: retrying cannot fix a file. Anything else (S3, DynamoDB, contention) fails it, so that
 * Lambda retries the event and, after that, the dead-letter queue keeps it.
 *
 * `syncS3Event` is the whole behaviour; the local stack runs it on the local S3's events.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Metrics } from '@aws-lambda-powertools/metrics';
import type { Context, S3Event, S3EventRecord } from 'aws-lambda';
import type { ConfigIssue } from '../lib/config.js';
import { isPoolError } from '../lib/errors.js';
import { parseMaxPoolSize } from '../lib/plan.js';
import { fileTooLarge, MAX_FILE_BYTES, registerFile, rejectFile } from '../lib/registration.js';
import type { ConfigResultJson } from '../lib/shapes.js';
import type { SyncObject } from '../lib/model.js';
import { dynamoClient, PoolStore } from '../lib/store/index.js';
import { Metric, SERVICE_NAME } from '../lib/telemetry.js';
import { MetricUnit, publishAggregate, serviceMetrics } from './emf.js';

export const CONFIG_SUFFIX = '.toml';

/** What the sync needs of a logger: Powertools' Logger in Lambda, plain lines in the local stack. */
export interface SyncLogger {
  info(message: string, attributes: Record<string, unknown>): void;
  warn(message: string, attributes: Record<string, unknown>): void;
  error(message: string, attributes: Record<string, unknown>): void;
}

export interface ConfigSyncDeps {
  store: PoolStore;
  s3: S3Client;
  maxPoolSize: number;
  logger: SyncLogger;
  /** Counts ConfigSyncs and ConfigSyncFailures; the caller publishes them. */
  metrics?: Metrics;
}

export type RecordOutcome =
  | { status: 'applied'; object: SyncObject; result: ConfigResultJson }
  | { status: 'rejected'; object: SyncObject; errors: ConfigIssue[] }
  | { status: 'skipped'; key: string; reason: string };

/** A record that could not be applied for a reason a retry may cure. */
export class ConfigSyncFailed extends Error {
  constructor(
    readonly failures: { key: string; error: unknown }[],
  ) {
    super(
      `config sync failed for ${failures.map((f) => JSON.stringify(f.key)).join(', ')}: ${failures.map((f) => errorMessage(f.error)).join('; ')}`,
      { cause: failures[0]?.error },
    );
    this.name = 'ConfigSyncFailed';
  }
}

/**
 * S3 event keys are URL-encoded with `+` for spaces; a key that does not decode is kept as it came
 * rather than guessed at.
 */
export function decodeEventKey(key: string): string | undefined {
  try {
    return decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    return undefined;
  }
}

/** The inverse of decodeEventKey, the way S3 writes keys into event records (`/` left as it is). */
export function encodeEventKey(key: string): string {
  return encodeURIComponent(key).replace(/%20/g, '+').replace(/%2F/g, '/');
}

/**
 * Applies every record of the event in order. Resolves with one outcome per record when nothing
 * failed for a transient reason; otherwise still tries every record, then rejects with
 * ConfigSyncFailed (the retry re-applies the others, which changes nothing).
 */
export async function syncS3Event(deps: ConfigSyncDeps, event: Pick<S3Event, 'Records'>): Promise<RecordOutcome[]> {
  const outcomes: RecordOutcome[] = [];
  const failures: { key: string; error: unknown }[] = [];
  for (const record of event.Records ?? []) {
    try {
      outcomes.push(await syncRecord(deps, record));
    } catch (error) {
      const key = record.s3?.object?.key ?? '';
      deps.logger.error('config sync failed; the event will be retried', { bucket: record.s3?.bucket?.name, key, error: errorMessage(error) });
      failures.push({ key, error });
    }
  }
  if (failures.length > 0) throw new ConfigSyncFailed(failures);
  return outcomes;
}

async function syncRecord(deps: ConfigSyncDeps, record: S3EventRecord): Promise<RecordOutcome> {
  const rawKey = record.s3.object.key;
  const bucket = record.s3.bucket.name;
  if (!record.eventName?.startsWith('ObjectCreated:')) return skipped(deps, rawKey, `event ${record.eventName} is not an upload`);
  const key = decodeEventKey(rawKey);
  if (key === undefined) return skipped(deps, rawKey, 'the key in the event is not valid URL encoding');
  if (!key.endsWith(CONFIG_SUFFIX)) return skipped(deps, key, `only ${CONFIG_SUFFIX} objects are pool files`);

  const requestedVersion = record.s3.object.versionId;
  /** The file, or its size when it is too large to read. */
  let text: string | number;
  let object: SyncObject;
  try {
    const got = await deps.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key, VersionId: requestedVersion || undefined }));
    const size = got.ContentLength ?? 0;
    if (size > MAX_FILE_BYTES) {
      text = size;
      (got.Body as { destroy?: () => void } | undefined)?.destroy?.();
    } else {
      text = (await got.Body?.transformToString('utf-8')) ?? '';
    }
    object = {
      bucket,
      key,
      version_id: versionOrNull(got.VersionId ?? requestedVersion),
      etag: unquote(got.ETag) ?? unquote(record.s3.object.eTag) ?? null,
    };
  } catch (e) {
    // Deleted before we got to it: nothing left to apply, and a retry will not bring it back.
    const name = (e as Error).name;
    if (name === 'NoSuchKey' || name === 'NoSuchVersion') return skipped(deps, key, 'the object no longer exists', 'warn');
    throw e;
  }

  try {
    const options = { source: 's3' as const, maxPoolSize: deps.maxPoolSize, object };
    const { result } =
      typeof text === 'number' ? await rejectFile(deps.store, fileTooLarge(text), options) : await registerFile(deps.store, text, options);
    deps.metrics?.addMetric(Metric.ConfigSyncs, MetricUnit.Count, 1);
    deps.logger.info('pool file applied', { object, result });
    return { status: 'applied', object, result };
  } catch (e) {
    if (!isPoolError(e, 'INVALID_CONFIG')) {
      await recordTransientFailure(deps, object, e);
      throw e;
    }
    const errors = (e.details as ConfigIssue[] | undefined) ?? [];
    deps.metrics?.addMetric(Metric.ConfigSyncFailures, MetricUnit.Count, 1);
    deps.logger.error('pool file rejected; nothing was changed', { object, errors });
    return { status: 'rejected', object, errors };
  }
}

/**
 * A file that could not be applied for a reason not its own (throttling, a stalled DynamoDB) is
 * recorded and counted as a failure before the event is failed for Lambda to retry: if every retry
 * fails too and the event ends in the dead-letter queue, the syncs and the alarm already say so.
 */
async function recordTransientFailure(deps: ConfigSyncDeps, object: SyncObject, error: unknown): Promise<void> {
  deps.metrics?.addMetric(Metric.ConfigSyncFailures, MetricUnit.Count, 1);
  const message = `not applied: ${errorMessage(error).slice(0, 300)}; nothing was changed, and the upload is retried (it goes to the dead-letter queue if every retry fails)`;
  try {
    await deps.store.recordSync({ id: randomUUID(), source: 's3', status: 'rejected', object, at: new Date().toISOString(), errors: [{ path: 'file', message }] });
  } catch (e) {
    deps.logger.error('could not record the failed sync either', { object, error: errorMessage(e) });
  }
}

function skipped(deps: ConfigSyncDeps, key: string, reason: string, level: 'info' | 'warn' = 'info'): RecordOutcome {
  deps.logger[level]('object skipped', { key, reason });
  return { status: 'skipped', key, reason };
}

/** Unversioned buckets report no version, or the literal version id "null". */
function versionOrNull(version: string | undefined): string | null {
  return version && version !== 'null' ? version : null;
}

function unquote(etag: string | undefined): string | undefined {
  return etag ? etag.replace(/^"|"$/g, '') : undefined;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e);
}

// ---------------------------------------------------------------- Lambda adapter

const logger = new Logger({ serviceName: SERVICE_NAME });
const metrics = serviceMetrics();
let containerDeps: ConfigSyncDeps | undefined;

/** Clients and store once per container, from TABLE_NAME and MAX_POOL_SIZE. */
function depsFromEnvironment(): ConfigSyncDeps {
  if (containerDeps) return containerDeps;
  const tableName = process.env.TABLE_NAME;
  if (!tableName) throw new Error('TABLE_NAME is not set');
  containerDeps = {
    store: new PoolStore({ client: dynamoClient(), tableName }),
    s3: new S3Client({}),
    maxPoolSize: parseMaxPoolSize(process.env.MAX_POOL_SIZE),
    logger,
    metrics,
  };
  return containerDeps;
}

export const handler = async (event: S3Event, context?: Context): Promise<{ outcomes: RecordOutcome[] }> => {
  if (context) logger.addContext(context);
  try {
    return { outcomes: await syncS3Event(depsFromEnvironment(), event) };
  } finally {
    publishAggregate(metrics);
  }
};
