/**
 * The local S3 endpoint: s3rver with the config bucket, path-style URLs and fixed credentials. Every
 * upload is handed on as an S3 event record in the form AWS delivers it, so that the config-sync
 * code that runs in Lambda runs here unchanged.
 */
import { mkdirSync } from 'node:fs';
import { S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import S3rver from 's3rver';
import { encodeEventKey } from '../functions/config-sync.js';
import { S3_ACCESS_KEY, S3_SECRET_KEY } from './settings.js';

export interface LocalS3 {
  /** For clients on this machine. */
  endpoint: string;
  port: number;
  close(): Promise<void>;
}

export interface LocalS3Options {
  port: number;
  /** Interface to listen on. */
  host: string;
  /** Where objects are kept. */
  directory: string;
  /** Remove every object when closing (in-memory stacks). */
  resetOnClose?: boolean;
  buckets: string[];
  onEvent(event: S3Event): void;
}

export async function startLocalS3(opts: LocalS3Options): Promise<LocalS3> {
  mkdirSync(opts.directory, { recursive: true });
  const server = new S3rver({
    port: opts.port,
    address: opts.host,
    silent: true,
    directory: opts.directory,
    resetOnClose: opts.resetOnClose ?? false,
    configureBuckets: opts.buckets.map((name) => ({ name })),
  });
  server.on('event', (event: S3Event) => opts.onEvent(asDelivered(event)));
  try {
    await server.run();
  } catch (e) {
    throw listenError('local S3', opts.port, 'S3_PORT', e);
  }
  return {
    endpoint: `http://localhost:${opts.port}`,
    port: opts.port,
    close: () => server.close(),
  };
}

/** s3rver puts the plain key in its records; S3 URL-encodes it (`+` for spaces). */
function asDelivered(event: S3Event): S3Event {
  return {
    Records: event.Records.map((r) => ({ ...r, s3: { ...r.s3, object: { ...r.s3.object, key: encodeEventKey(r.s3.object.key) } } })),
  };
}

/** A client for the local S3 (SDK v3 checksums are only sent where S3 requires them: s3rver knows none). */
export function localS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: S3_ACCESS_KEY, secretAccessKey: S3_SECRET_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export function listenError(part: string, port: number, variable: string, e: unknown): Error {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new Error(`the ${part} cannot listen on port ${port}: it is already in use (set ${variable} to another port)`);
  return new Error(`the ${part} cannot listen on port ${port}: ${(e as Error).message}`, { cause: e });
}
