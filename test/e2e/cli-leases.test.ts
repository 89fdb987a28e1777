/**
 * The CLI on leases, against the application served on a free port over DynamoDB Local:
 * `allocate --lease`, `renew --owner --lease` (text and --json), a bad lease, and a renewal of a lease
 * the sweeper already released.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { type Run, runCli } from '../support/cli-process.js';
import { type ServedApp, serveApp } from '../support/served-app.js';

const POOLS = '[pools.lo]\ntype = "ipv4"\nprefix = "10.8.0.0/24"';

describe('resource-pool on leases', () => {
  let app: ServedApp;
  const cli = (...args: string[]): Promise<Run> => runCli([...args, '--endpoint', app.url], { RESOURCE_POOLS_ENDPOINT: '', NO_COLOR: '' });

  beforeAll(async () => {
    app = await serveApp(POOLS);
  });

  afterAll(async () => {
    await app?.close();
  });

  test('allocate --lease shows when it ends; renew moves it from now; --json answers the Allocation', async () => {
    const made = await cli('allocate', 'lo', '--owner', 'job-7', '--lease', '3600', '--json');
    expect(made.code, made.stderr).toBe(0);
    const allocation = JSON.parse(made.stdout);
    const ends = Date.parse(allocation.expires_at) - Date.parse(allocation.allocated_at);
    expect(ends).toBe(3_600_000);

    const text = await cli('allocate', 'lo', '--owner', 'job-8', '--lease', '60');
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/^allocated 10\.8\.0\.\d+ to job-8 from lo, leased until \d{4}-\d\d-\d\dT/);
    // Asking again answers the lease held, and says how to extend it.
    expect((await cli('allocate', 'lo', '--owner', 'job-8', '--lease', '600')).stdout).toContain('renew extends it');

    const renewed = await cli('renew', 'lo', '--owner', 'job-7', '--lease', '7200', '--json');
    expect(renewed.code, renewed.stderr).toBe(0);
    const after = JSON.parse(renewed.stdout);
    expect({ value: after.value, owner: after.owner }).toEqual({ value: allocation.value, owner: 'job-7' });
    expect(Date.parse(after.expires_at)).toBeGreaterThan(Date.parse(allocation.expires_at));

    const plain = await cli('renew', 'lo', '--owner', 'job-8', '--lease', '120');
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^job-8 holds 10\.8\.0\.\d+ in lo, leased until \d{4}-/);
  });

  test('a lease out of range is the API\'s INVALID_ARGUMENT; a lease that is no number is a usage error; renewing what was released is NOT_ALLOCATED', async () => {
    const low = await cli('allocate', 'lo', '--owner', 'x', '--lease', '59');
    expect(low.code).toBe(3);
    expect(low.stderr).toContain('lease_seconds: must be a whole number of seconds from 60 to 31,536,000');
    const word = await cli('renew', 'lo', '--owner', 'job-7', '--lease', 'soon');
    expect(word.code).toBe(2);
    expect(word.stderr).toContain('expected a lease in whole seconds');
    const missing = await cli('renew', 'lo', '--owner', 'job-7');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--lease');

    await cli('allocate', 'lo', '--owner', 'gone', '--lease', '60');
    const swept = await app.store.expireLeases({ now: new Date(Date.now() + 120_000) });
    expect(swept.expired.map((a) => a.owner)).toContain('gone');
    const late = await cli('renew', 'lo', '--owner', 'gone', '--lease', '60');
    expect(late.code).toBe(3);
    expect(late.stderr).toContain('NOT_ALLOCATED');
  });
});
