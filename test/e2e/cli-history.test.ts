/**
 * The CLI on history, against the application served on a free port over DynamoDB Local with the
 * stream reader recording history: `history <pool>` with --value, --owner, --since, --limit and
 * --json, following cursors.
 */
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createApp } from '../../functions/http/app.js';
import { freePort } from '../../local/dynamodb-local.js';
import { type Run, runCli } from '../support/cli-process.js';
import { type RecordedHistory, recordHistory } from '../support/history.js';
import { freshStore, register } from '../support/store.js';

const POOLS = '[pools.lo]\ntype = "ipv4"\nprefix = "10.8.0.0/24"';

describe('resource-pool history', () => {
  let url: string;
  let server: Server;
  let history: RecordedHistory;
  const cli = (...args: string[]): Promise<Run> => runCli([...args, '--endpoint', url], { RESOURCE_POOLS_ENDPOINT: '', NO_COLOR: '' });

  beforeAll(async () => {
    const store = await freshStore({}, { changeStream: true });
    await register(store, POOLS);
    history = await recordHistory(store);
    const port = await freePort();
    server = createAdaptorServer({ fetch: createApp({ store, maxPoolSize: 250_000 }).fetch }) as Server;
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    url = `http://127.0.0.1:${port}`;
  });

  afterAll(async () => {
    await history?.stream.stop();
    server?.closeAllConnections();
    await new Promise((r) => server?.close(r));
  });

  test('who held an address, what an owner held, the newest n, as a table and as JSON', async () => {
    for (const owner of ['dpu-1', 'dpu-2', 'dpu-3']) {
      expect((await cli('allocate', 'lo', '--owner', owner, '--value', '10.8.0.9')).code).toBe(0);
      expect((await cli('release', 'lo', '--owner', owner)).code).toBe(0);
    }
    expect((await cli('allocate', 'lo', '--owner', 'dpu-4', '--value', '10.8.0.10', '--label', 'rack=r1')).code).toBe(0);
    await history.settle();

    const ofValue = await cli('history', 'lo', '--value', '10.8.0.9', '--json');
    expect(ofValue.code, ofValue.stderr).toBe(0);
    const entries = JSON.parse(ofValue.stdout).history as { event: string; owner: string; by: string }[];
    expect(entries.map((e) => `${e.event} ${e.owner}`)).toEqual(['released dpu-3', 'allocated dpu-3', 'released dpu-2', 'allocated dpu-2', 'released dpu-1', 'allocated dpu-1']);
    expect(new Set(entries.map((e) => e.by))).toEqual(new Set(['local']));

    const table = await cli('history', 'lo', '--owner', 'dpu-4');
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^AT\s+EVENT\s+VALUE\s+OWNER\s+BY\s+LABELS/m);
    expect(table.stdout).toMatch(/allocated\s+10\.8\.0\.10\s+dpu-4\s+local\s+rack=r1/);

    const newest = JSON.parse((await cli('history', 'lo', '--limit', '3', '--json')).stdout).history as { owner: string }[];
    expect(newest.map((e) => e.owner)).toEqual(['dpu-4', 'dpu-3', 'dpu-3']);
    expect((await cli('history', 'lo', '--since', '2999-01-01')).stdout).toContain('No history in lo since 2999-01-01.');
  });

  test('bad input is the API error naming the parameter, or a usage error', async () => {
    const badTime = await cli('history', 'lo', '--since', 'last-week');
    expect(badTime.code).not.toBe(0);
    expect(badTime.stderr).toMatch(/since.*ISO 8601/);
    const both = await cli('history', 'lo', '--value', '10.8.0.9', '--owner', 'dpu-1');
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('--value or --owner, not both');
  });
});
