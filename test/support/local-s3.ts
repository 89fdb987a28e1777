/** The local S3 of the local stack (s3rver, events as AWS delivers them) for tests, on a free port. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { S3Event } from 'aws-lambda';
import { freePort } from '../../local/dynamodb-local.js';
import { localS3Client, startLocalS3 } from '../../local/s3.js';

export const BUCKET = 'pool-config';

export interface TestS3 {
  endpoint: string;
  client: S3Client;
  /** Uploads an object and returns the event the local S3 delivered for it. */
  upload(key: string, body: string): Promise<S3Event>;
  close(): Promise<void>;
}

export async function startTestS3(): Promise<TestS3> {
  const dir = mkdtempSync(join(tmpdir(), 'rp-test-s3-'));
  const delivered: S3Event[] = [];
  const waiters: (() => void)[] = [];
  const s3 = await startLocalS3({
    port: await freePort(),
    host: '127.0.0.1',
    directory: dir,
    resetOnClose: true,
    buckets: [BUCKET],
    onEvent: (event) => {
      delivered.push(event);
      waiters.splice(0).forEach((w) => w());
    },
  });
  const endpoint = `http://127.0.0.1:${s3.port}`;
  const client = localS3Client(endpoint);
  return {
    endpoint,
    client,
    async upload(key, body) {
      const before = delivered.length;
      const arrived = new Promise<void>((r) => waiters.push(r));
      await client.send(new PutObjectCommand({ Bucket: BUCKET, Key: key, Body: body }));
      if (delivered.length === before) await arrived;
      return delivered[delivered.length - 1];
    },
    async close() {
      client.destroy();
      await s3.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
