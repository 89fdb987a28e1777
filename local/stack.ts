/**
 * The local stack: DynamoDB Local (embedded, or the one at DYNAMODB_ENDPOINT), the table, the site's
 * pools file registered through the one registration path, a local S3 whose uploads run the real
 * config-sync code, and the HTTP application on a Node server.
 */
import { readFile, rm } from 'node:fs/promises';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import type { Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { S3Event } from 'aws-lambda';
import { type ConfigSyncDeps, type RecordOutcome, type SyncLogger, syncS3Event } from '../functions/config-sync.js';
import { createHistoryHandler, logPublisher, NO_EVENTS } from '../functions/history.js';
import { createApp } from '../functions/http/app.js';
import { createApiServer } from '../functions/http/node-server.js';
import type { ConfigIssue } from '../lib/config.js';
import { isPoolError } from '../lib/errors.js';
import { registerFile } from '../lib/registration.js';
import type { ConfigResultJson } from '../lib/shapes.js';
import { PoolStore } from '../lib/store/index.js';
import { type DynamoDbLocal, localDynamoClient, startDynamoDbLocal } from './dynamodb-local.js';
import { startHistoryStream } from './history-stream.js';
import { listenError, localS3Client, startLocalS3 } from './s3.js';
import { CONFIG_BUCKET, displayPath, type LocalStackSettings } from './settings.js';

export interface StackOutput {
  info(line: string): void;
  error(line: string): void;
}

export interface RunningStack {
  apiUrl: string;
  s3Endpoint: string;
  dynamodbEndpoint: string;
  /** Started here (not DYNAMODB_ENDPOINT). */
  embeddedDynamoDb: boolean;
  /** The startup registration, unless LISTEN_ONLY. */
  registration?: ConfigResultJson;
  poolNames: string[];
  stop(): Promise<void>;
}

/** POOLS_FILE was rejected: nothing was registered. */
export class StartupRejected extends Error {
  constructor(
    readonly file: string,
    readonly errors: ConfigIssue[],
  ) {
    super(`${file} is rejected: ${errors.length} error${errors.length === 1 ? '' : 's'}; nothing was registered`);
    this.name = 'StartupRejected';
  }
}

/** What S3 + Lambda do for an event that keeps failing: two retries, then give up (the DLQ in AWS). */
const SYNC_RETRY_DELAYS_MS = [1000, 2000];
/** How long stopping waits for an upload being applied. */
const SYNC_DRAIN_MS = 5000;

const WILDCARD_HOSTS = new Set(['0.0.0.0', '::', '']);

/**
 * DynamoDB Local's jar takes no bind address (its options are -port, -dbPath, -inMemory, -sharedDb,
 * -cors and a few more; it always listens on every interface). A HOST that keeps the API and S3
 * endpoint on one address would then leave an unauthenticated database open on the others, so the
 * stack refuses to start the embedded one under such a HOST and says what to do instead.
 */
export function embeddedDynamoRefusal(settings: { host: string; dynamodbEndpoint?: string; ddbPort: number }): string | undefined {
  if (settings.dynamodbEndpoint !== undefined || WILDCARD_HOSTS.has(settings.host)) return undefined;
  return (
    `HOST=${settings.host}: the embedded DynamoDB Local cannot be bound to one address (its jar has no such option) and would listen on every interface on port ${settings.ddbPort}, unauthenticated. ` +
    'Either run a DynamoDB Local bound to that address yourself and set DYNAMODB_ENDPOINT to it, or leave HOST unset (every interface) behind a firewall that closes DDB_PORT.'
  );
}

/** An address this machine's clients can use for a server listening on `host`. */
function reachable(host: string): string {
  if (WILDCARD_HOSTS.has(host)) return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/** As printed for people: `localhost` for a server on every interface. */
function shown(host: string): string {
  return WILDCARD_HOSTS.has(host) ? 'localhost' : reachable(host);
}

export async function startLocalStack(settings: LocalStackSettings, out: StackOutput): Promise<RunningStack> {
  // Stopped in reverse order if a later part fails to start, so a failed start leaves nothing behind.
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) {
      try {
        await stop();
      } catch (e) {
        out.error(`while stopping: ${(e as Error).message}`);
      }
    }
  };

  try {
    let dynamodbEndpoint = settings.dynamodbEndpoint;
    let ddb: DynamoDbLocal | undefined;
    const refusal = embeddedDynamoRefusal(settings);
    if (refusal) throw new Error(refusal);
    if (dynamodbEndpoint === undefined) {
      const started = await startDynamoDbLocal({
        port: settings.ddbPort,
        dataDir: settings.inMemory ? undefined : join(settings.dataDir, 'dynamodb'),
        sharedDb: true,
      }).catch((e: Error) => {
        throw new Error(`${e.message}\n(set DDB_PORT to another port, or DYNAMODB_ENDPOINT to use a DynamoDB that is already running)`, { cause: e });
      });
      stops.push(() => started.stop());
      ddb = started;
      dynamodbEndpoint = `http://localhost:${started.port}`;
    }

    const client: DynamoDBClient = localDynamoClient(ddb?.endpoint ?? dynamodbEndpoint);
    stops.push(async () => client.destroy());
    const store = new PoolStore({ client, tableName: settings.tableName, historyDays: settings.historyDays });
    try {
      await store.ensureTable();
    } catch (e) {
      const where = ddb ? 'the embedded DynamoDB Local' : `DYNAMODB_ENDPOINT ${dynamodbEndpoint}`;
      throw new Error(`cannot create or read the table ${settings.tableName} at ${where}: ${(e as Error).message}`, { cause: e });
    }

    // History and events through the history function's own code, fed by DynamoDB Local's stream.
    const history = await startHistoryStream({
      endpoint: ddb?.endpoint ?? dynamodbEndpoint,
      dynamodb: client,
      tableName: settings.tableName,
      checkpointFile: settings.inMemory ? undefined : join(settings.dataDir, 'history-stream.json'),
      handler: createHistoryHandler({
        store,
        publisher: settings.eventsLog ? logPublisher((line) => out.info(line)) : NO_EVENTS,
        logger: { error: (msg: string, extra?: object) => out.error(`${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}`) },
      }),
      onError: (message) => out.error(message),
    });
    stops.push(() => history.stop());

    let registration: ConfigResultJson | undefined;
    if (!settings.listenOnly) registration = await registerPoolsFile(store, settings);

    const s3Client = localS3Client(`http://${reachable(settings.host)}:${settings.s3Port}`);
    stops.push(async () => s3Client.destroy());
    const syncs = new SyncQueue({ store, s3: s3Client, maxPoolSize: settings.maxPoolSize, logger: consoleSyncLogger(out) }, out);
    const s3Directory = settings.inMemory ? inMemoryS3Directory() : join(settings.dataDir, 's3');
    if (settings.inMemory) stops.push(() => rm(s3Directory, { recursive: true, force: true }));
    const s3 = await startLocalS3({
      port: settings.s3Port,
      host: settings.host,
      directory: s3Directory,
      resetOnClose: settings.inMemory,
      buckets: [CONFIG_BUCKET],
      onEvent: (event) => syncs.push(event),
    });
    stops.push(() => syncs.drain(SYNC_DRAIN_MS));
    stops.push(() => s3.close());
    // Uploads that arrive while stopping are not picked up any more.
    stops.push(async () => syncs.stop());

    const app = createApp({
      store,
      maxPoolSize: settings.maxPoolSize,
      logger: { error: (msg: string, extra?: object) => out.error(`api: ${msg}${extra ? ` ${JSON.stringify(extra)}` : ''}`) },
    });
    const server = createApiServer(app.fetch);
    await listen(server, settings.port, settings.host);
    stops.push(() => closeServer(server));

    // Leases run out here as in AWS: the sweeper's own store call, on a timer instead of a schedule.
    stops.push(startLeaseTimer(store, out, LEASE_SWEEP_MS));

    const poolNames = (await store.pools()).map((p) => p.name);
    return {
      apiUrl: `http://${shown(settings.host)}:${settings.port}`,
      s3Endpoint: `http://${shown(settings.host)}:${settings.s3Port}`,
      dynamodbEndpoint,
      embeddedDynamoDb: ddb !== undefined,
      registration,
      poolNames,
      stop: stopAll,
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}

/** Twice as often as the deployed schedule: a lease is released within a minute of running out. */
export const LEASE_SWEEP_MS = 30_000;

/**
 * Runs the lease sweep every `everyMs`, one run at a time, and answers how to stop it: no new run
 * starts, and the one in flight is waited for, so nothing writes to the table after the stack stops.
 */
export function startLeaseTimer(store: PoolStore, out: StackOutput, everyMs: number): () => Promise<void> {
  let running: Promise<void> | undefined;
  const sweep = () => {
    if (running) return;
    running = store
      .expireLeases()
      .then((r) => {
        if (r.expired.length > 0) out.info(`leases: released ${r.expired.length} that ran out (${r.expired.slice(0, 10).map((a) => `${a.pool}/${a.owner}`).join(', ')}${r.expired.length > 10 ? ', …' : ''})`);
        if (r.failed > 0) out.error(`leases: ${r.failed} that ran out could not be released; the next run tries again`);
      })
      .catch((e: unknown) => out.error(`leases: the sweep failed: ${(e as Error).message}`))
      .finally(() => (running = undefined));
  };
  const timer = setInterval(sweep, everyMs);
  timer.unref();
  return async () => {
    clearInterval(timer);
    await running;
  };
}

const IN_MEMORY_S3_PREFIX = 'resource-pools-s3-';

/**
 * s3rver keeps objects in files even when nothing is to be kept, so an in-memory stack uses a temporary
 * folder, removed when it stops. One left by a stack that was killed is removed by the next one: the
 * folder name carries the pid of the stack that made it.
 */
function inMemoryS3Directory(): string {
  for (const name of readdirSync(tmpdir())) {
    const pid = Number(/^resource-pools-s3-(\d+)-/.exec(name)?.[1]);
    if (pid && pid !== process.pid && !alive(pid)) rmSync(join(tmpdir(), name), { recursive: true, force: true });
  }
  return mkdtempSync(join(tmpdir(), `${IN_MEMORY_S3_PREFIX}${process.pid}-`));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, it is just not ours.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function registerPoolsFile(store: PoolStore, settings: LocalStackSettings): Promise<ConfigResultJson> {
  const shown = displayPath(settings.poolsFile);
  let text: string;
  try {
    text = await readFile(settings.poolsFile, 'utf8');
  } catch (e) {
    throw new Error(`cannot read POOLS_FILE ${shown}: ${(e as Error).message} (set POOLS_FILE to your pools file, or LISTEN_ONLY=true to skip startup registration)`);
  }
  try {
    return (await registerFile(store, text, { source: 'startup', maxPoolSize: settings.maxPoolSize })).result;
  } catch (e) {
    if (isPoolError(e, 'INVALID_CONFIG')) throw new StartupRejected(shown, (e.details as ConfigIssue[] | undefined) ?? []);
    throw e;
  }
}

/**
 * Runs uploads one after another, in the order S3 reported them, with Lambda's retries for failures
 * that a retry may cure.
 */
class SyncQueue {
  private tail: Promise<void> = Promise.resolve();
  private stopped = false;

  constructor(
    private readonly deps: ConfigSyncDeps,
    private readonly out: StackOutput,
  ) {}

  push(event: S3Event): void {
    if (this.stopped) return;
    this.tail = this.tail.then(() => this.run(event));
  }

  stop(): void {
    this.stopped = true;
  }

  /** Waits for what is queued, at most `ms`. */
  async drain(ms: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.tail, new Promise((r) => (timer = setTimeout(r, ms)))]);
    clearTimeout(timer);
  }

  private async run(event: S3Event): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      try {
        for (const outcome of await syncS3Event(this.deps, event)) this.report(outcome);
        return;
      } catch (e) {
        const delay = SYNC_RETRY_DELAYS_MS[attempt];
        if (delay === undefined || this.stopped) {
          this.out.error(`config-sync: gave up on ${describeEvent(event)} after ${attempt + 1} attempts (in AWS it would go to the dead-letter queue): ${(e as Error).message}`);
          return;
        }
        this.out.error(`config-sync: ${(e as Error).message}; retrying in ${delay / 1000}s`);
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  private report(outcome: RecordOutcome): void {
    if (outcome.status === 'skipped') {
      this.out.info(`config-sync: ignored ${outcome.key}: ${outcome.reason}`);
      return;
    }
    const where = `s3://${outcome.object.bucket}/${outcome.object.key}`;
    if (outcome.status === 'applied') {
      const pools = outcome.result.pools.map((p) => `${p.name} ${p.action}${p.added > 0 ? ` +${p.added}` : ''} (size ${p.size})`).join(', ');
      this.out.info(`config-sync: applied ${where}: ${pools || 'no pools'}`);
      for (const i of outcome.result.ignored) this.out.info(`  ignored ${i.pool}: ${i.reason}`);
      for (const w of outcome.result.warnings) this.out.info(`  warning: ${w}`);
      return;
    }
    this.out.error(`config-sync: rejected ${where}, nothing was changed:`);
    for (const e of outcome.errors) this.out.error(`  ${e.path}: ${e.message}`);
  }
}

function describeEvent(event: S3Event): string {
  return event.Records.map((r) => `s3://${r.s3.bucket.name}/${r.s3.object.key}`).join(', ');
}

/** Warnings and errors only: the queue reports every outcome in a line of its own. */
function consoleSyncLogger(out: StackOutput): SyncLogger {
  const line = (message: string, attributes: Record<string, unknown>) => `config-sync: ${message} ${JSON.stringify(attributes)}`;
  return {
    info: () => {},
    warn: (message, attributes) => out.error(line(message, attributes)),
    error: (message, attributes) => {
      // Rejections are reported by the queue with every error on its own line.
      if (message.startsWith('pool file rejected')) return;
      out.error(line(message, attributes));
    },
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (e: Error) => reject(listenError('API', port, 'PORT', e));
    server.once('error', failed);
    server.listen(port, host, () => {
      server.off('error', failed);
      resolve();
    });
  });
}

/** Stops listening at once and drops idle keep-alive connections, so no port stays open. */
function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeIdleConnections();
    // Requests still running get a moment to answer before their connections go.
    setTimeout(() => server.closeAllConnections(), 1000).unref();
  });
}
