/**
 * The CLI's pool lifecycle commands against the application served on a free port over DynamoDB
 * Local: disable and enable, retire (what changed, in the operator's terms), delete (asking first on a
 * terminal: run under `script`, which gives it one), import of a CSV larger than one call (streamed
 * 1,000 rows a call with a progress line each), and check --repair.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIN, type Run, runCli } from '../support/cli-process.js';
import { type ServedApp, serveApp } from '../support/served-app.js';

const POOLS = `
[pools.vlan]
type = "integer"
ranges = [{ start = 100, end = 200 }, { start = 1000, end = 1100 }]

[pools.big]
type = "integer"
scope = "lab"
ranges = [{ start = 0, end = 4096 }]

[pools.gone]
type = "integer"
ranges = [{ start = 9000, end = 9010 }]
`;

/** Runs the CLI in a pseudo-terminal (util-linux `script`), typing `input`. */
function inTerminal(args: string[], input: string): Promise<Run> {
  const command = [BIN, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(' ');
  return new Promise((resolve) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: { ...process.env, RESOURCE_POOLS_ENDPOINT: '', NO_COLOR: '1' } });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
      // Answer once the question is on the screen.
      if (stdout.includes('[y/N]') && input) {
        child.stdin.write(input);
        input = '';
      }
    });
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr: '' }));
  });
}

describe('resource-pool pool lifecycle', () => {
  let app: ServedApp;
  const cli = (...args: string[]): Promise<Run> => runCli([...args, '--endpoint', app.url], { RESOURCE_POOLS_ENDPOINT: '', NO_COLOR: '' });

  beforeAll(async () => {
    app = await serveApp(POOLS);
  });
  afterAll(async () => {
    await app?.close();
  });

  test('disable and enable say what they did; show marks a disabled pool', async () => {
    const off = await cli('disable', 'vlan');
    expect(off.code, off.stderr).toBe(0);
    expect(off.stdout).toContain('disabled vlan: it takes no new allocation');
    expect((await cli('show', 'vlan')).stdout).toMatch(/^Disabled: +yes/m);
    const refused = await cli('allocate', 'vlan', '--owner', 'x');
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('POOL_DISABLED');
    expect((await cli('enable', 'vlan')).stdout).toContain('enabled vlan: it takes allocations again');
    expect(JSON.parse((await cli('disable', 'vlan', '--json')).stdout)).toMatchObject({ name: 'vlan', disabled: true });
    await cli('enable', 'vlan');
  });

  test('retire: a dry run, then the retirement with what changed and the reminder about the pools file', async () => {
    const dry = await cli('retire', 'vlan', '--range', '1000-1100', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('dry run: would retire 100 values from vlan; size 200 -> 100; nothing was changed');
    // Not a terminal: no question, as with --yes.
    const done = await cli('retire', 'vlan', '--range', '1000-1100', '--value', '199');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain('retired 101 values from vlan; size 200 -> 99');
    expect(done.stdout).toContain("take them out of the site's pools file too");
    const usage = await cli('retire', 'vlan');
    expect(usage.code).toBe(2);
    const bad = await cli('retire', 'vlan', '--range', '1000');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('START-END');
  });

  test('delete asks first in a terminal: "n" keeps the pool, "y" deletes it; --yes does not ask', async () => {
    const kept = await inTerminal(['delete', 'gone', '--endpoint', app.url], 'n\n');
    expect(kept.stdout).toContain('delete pool gone (10 values, 0 held)? [y/N]');
    expect(kept.stdout).toContain('nothing was deleted');
    expect((await cli('show', 'gone')).code).toBe(0);
    const deleted = await inTerminal(['delete', 'gone', '--endpoint', app.url], 'y\n');
    expect(deleted.stdout).toContain('deleted pool gone (10 values)');
    expect((await cli('show', 'gone')).code).toBe(3);
    const again = await cli('delete', 'gone', '--yes');
    expect(again.code).toBe(3);
    expect(again.stderr).toContain('POOL_NOT_FOUND');
  });

  test('import streams a CSV larger than one call, 1,000 rows a call with a progress line each; again, all unchanged', { timeout: 180_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'import-'));
    const csv = join(dir, 'big.csv');
    const rows = Array.from({ length: 2500 }, (_, i) => `${i},owner-${i}${i === 0 ? ',2025-01-01T00:00:00Z' : ''}`);
    writeFileSync(csv, `value,owner,allocated_at\n${rows.join('\n')}\n`);
    const run = await cli('import', 'big', '-f', csv);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr.trim().split('\n')).toEqual([
      'imported 1,000 items (1,000 new, 0 unchanged)',
      'imported 2,000 items (2,000 new, 0 unchanged)',
      'imported 2,500 items (2,500 new, 0 unchanged)',
    ]);
    expect(run.stdout).toContain('imported 2,500 allocations into big');
    expect(JSON.parse((await cli('show', 'big', '--json')).stdout)).toMatchObject({ used: 2500 });
    expect(JSON.parse((await cli('import', 'big', '-f', csv, '--json')).stdout)).toEqual({ imported: 0, unchanged: 2500, calls: 3, dry_run: false });
    const who = JSON.parse((await cli('who', 'big', '0', '--json')).stdout);
    expect(who).toMatchObject({ owner: 'owner-0', allocated_at: '2025-01-01T00:00:00.000Z' });

    writeFileSync(join(dir, 'bad.csv'), 'value,owner\n5000,x\n');
    const outside = await cli('import', 'big', '-f', join(dir, 'bad.csv'));
    expect(outside.code).toBe(3);
    expect(outside.stderr).toContain('VALUE_NOT_IN_POOL');
  });

  test('check --repair on a healthy table mends nothing and exits 0', async () => {
    const dry = await cli('check', '--repair', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('Nothing to repair');
    expect(JSON.parse((await cli('check', '--repair', '--json')).stdout)).toEqual({ repaired: [], next_cursor: null });
  });
});
