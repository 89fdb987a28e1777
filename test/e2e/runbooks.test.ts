/**
 * The runbooks of docs/OPERATIONS.md work as written: the local stack is started with
 * config/pools.toml (on free ports, which replace 3000 and 4569 in the commands), and every block
 * marked `sh local` or `sh both` runs in order, each in a new bash after the local set-up block, from
 * a folder of its own. Each must exit 0 and leave the state its runbook promises.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, test } from 'vitest';
import { freePort } from '../../local/dynamodb-local.js';
import { killStack, sleep, STACK_TEST_TIMEOUT_MS, type StackProcess, startStackProcess, waitForHealth } from '../support/stack-process.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const OPERATIONS = join(ROOT, 'docs/OPERATIONS.md');
/** One CLI call costs a few seconds on a busy machine; the runbooks make about forty. */
const BLOCK_TIMEOUT_MS = 120_000;

interface Block {
  where: 'local' | 'both' | 'deployed';
  line: number;
  text: string;
}

/** The fenced `sh <where>` blocks of a Markdown page, dedented to their fence (blocks inside list items are indented). */
function shellBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```sh (local|both|deployed)\s*$/.exec(lines[i]);
    if (!open) continue;
    const indent = open[1].length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j])) body.push(lines[j++].slice(indent));
    blocks.push({ where: open[2] as Block['where'], line: i + 1, text: body.join('\n') });
    i = j;
  }
  return blocks;
}

function run(script: string, cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-eo', 'pipefail', '-c', script], {
      cwd,
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), BLOCK_TIMEOUT_MS);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

interface PoolBody {
  size: number;
  used: number;
  auto_assign_free: number;
}
interface SyncBody {
  source: string;
  status: string;
  object?: { key: string };
}

let stack: StackProcess | undefined;
const dirs: string[] = [];
afterAll(() => {
  killStack(stack);
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('docs/OPERATIONS.md', () => {
  const blocks = shellBlocks(readFileSync(OPERATIONS, 'utf8'));

  test('marks every command block with where it runs, and has a local set-up', () => {
    const unmarked = readFileSync(OPERATIONS, 'utf8')
      .split('\n')
      .filter((l) => /^\s*```(sh|bash|shell)?\s*$/.test(l) && !/^\s*```\s*$/.test(l));
    expect(unmarked).toEqual([]);
    expect(blocks.find((b) => b.where === 'local')?.text).toContain('export RESOURCE_POOLS_ENDPOINT=http://localhost:3000');
    expect(blocks.filter((b) => b.where !== 'deployed').length).toBeGreaterThanOrEqual(15);
  });

  test('every local and both block runs on the local stack with config/pools.toml and does what it says', { timeout: STACK_TEST_TIMEOUT_MS + 15 * 60_000 }, async () => {
    const p = { api: await freePort(), ddb: await freePort(), s3: await freePort() };
    stack = startStackProcess({ PORT: String(p.api), DDB_PORT: String(p.ddb), S3_PORT: String(p.s3), IN_MEMORY: 'true' });
    const api = `http://127.0.0.1:${p.api}`;
    await waitForHealth(stack, api);
    const get = async <T>(path: string): Promise<{ status: number; body: T }> => {
      const res = await fetch(`${api}${path}`);
      return { status: res.status, body: (await res.json()) as T };
    };
    const pool = async (name: string) => (await get<PoolBody>(`/v1/pools/${name}`)).body;
    const newestSync = async () => (await get<{ syncs: SyncBody[] }>('/v1/config/syncs')).body.syncs[0];
    /** config-sync runs on the upload's event; the runbook waits a little, the test until it shows. */
    const eventually = async (probe: () => Promise<boolean>) => {
      for (let i = 0; i < 100 && !(await probe()); i++) await sleep(200);
      return probe();
    };

    // What each block promises, found by a line of it: a block that changes keeps its promise here.
    const promises: { line: string; check: (output: string) => Promise<void> }[] = [
      { line: 'npx resource-pool show vpc-vni          #', check: async (out) => expect(out).toContain('vpc-vni') },
      { line: 'npx resource-pool plan --hosts 400', check: async (out) => expect(out).toContain('vpc-dpu-lo') },
      { line: '--dry-run      # what would be added', check: async () => expect((await pool('vpc-vni')).size).toBe(1000) },
      { line: 'npx resource-pool show vpc-vni            # size 2,500', check: async () => expect((await pool('vpc-vni')).size).toBe(2500) },
      {
        line: 'upload grow-vpc-vni.toml',
        check: async () => {
          expect(await eventually(async () => (await newestSync()).object?.key.startsWith('pools/grow-vpc-vni-') ?? false)).toBe(true);
          expect(await newestSync()).toMatchObject({ source: 's3', status: 'applied' });
        },
      },
      { line: 'allocate vpc-vni --owner vpc-that-was-deleted', check: async () => expect((await get('/v1/pools/vpc-vni/owners/vpc-that-was-deleted')).status).toBe(200) },
      {
        line: 'npx resource-pool release vpc-vni --owner vpc-that-was-deleted',
        check: async (out) => {
          expect(out).toContain('"allocations"');
          expect((await get('/v1/pools/vpc-vni/owners/vpc-that-was-deleted')).status).toBe(404);
        },
      },
      {
        line: '! npx resource-pool allocate rehearsal --owner r-3',
        check: async () => {
          expect(await pool('rehearsal')).toMatchObject({ size: 2, used: 2, auto_assign_free: 0 });
          expect((await get('/v1/pools/rehearsal/owners/r-3')).status).toBe(404);
        },
      },
      {
        line: 'the client\'s retry now succeeds',
        check: async () => {
          expect(await pool('rehearsal')).toMatchObject({ size: 10, used: 3 });
          expect((await get('/v1/pools/rehearsal/owners/r-3')).status).toBe(200);
        },
      },
      {
        line: 'end = 2039000',
        check: async () => {
          expect(await eventually(async () => (await newestSync()).status === 'rejected')).toBe(true);
          expect(await newestSync()).toMatchObject({ source: 's3', object: { key: 'pools/site.toml' } });
          expect((await pool('vpc-vni')).size).toBe(2500);
        },
      },
      { line: 'cat site.toml', check: async (out) => expect(out).toContain('end = 2039000') },
      {
        line: 'npx resource-pool validate site.toml          # checks the file alone',
        check: async () => {
          expect(await eventually(async () => (await newestSync()).status === 'applied')).toBe(true);
          expect(await newestSync()).toMatchObject({ source: 's3', object: { key: 'pools/site.toml' } });
          expect((await pool('vpc-vni')).size).toBe(3500);
        },
      },
      { line: 'nothing is applied twice', check: async () => expect((await pool('vpc-vni')).size).toBe(3500) },
      { line: 'npx resource-pool check --pool vpc-vni      # one pool', check: async () => expect((await get<{ ok: boolean }>('/v1/check')).body.ok).toBe(true) },
      {
        line: 'vpc-vni-allocations.json',
        check: async () => {
          const kept = JSON.parse(readFileSync(join(cwd, 'vpc-vni-check.json'), 'utf8')) as { ok: boolean };
          expect(kept.ok).toBe(true);
          expect(JSON.parse(readFileSync(join(cwd, 'vpc-vni-allocations.json'), 'utf8'))).toHaveProperty('allocations');
        },
      },
      { line: 'npx resource-pool check --repair --dry-run', check: async (out) => expect(out).toContain('Nothing to repair') },
      { line: 'npx resource-pool enable tenant-vlan', check: async () => expect((await get<{ disabled: boolean }>('/v1/pools/tenant-vlan')).body.disabled).toBe(false) },
      { line: 'retire lab-vlan --range 50000-50100 --yes', check: async (out) => {
        expect(out).toContain('retired 100 values from lab-vlan; size 200 -> 100');
        expect((await pool('lab-vlan')).size).toBe(100);
      } },
      { line: 'npx resource-pool delete lab-vlan --yes', check: async () => expect((await get('/v1/pools/lab-vlan')).status).toBe(404) },
      {
        line: 'again: already held as given',
        check: async (out) => {
          expect(out).toContain('already held as given');
          expect((await get<{ owner: string; allocated_at: string }>('/v1/pools/lo-ip/allocations/10.180.62.10')).body).toMatchObject({ owner: 'dpu-1', allocated_at: '2025-06-01T08:00:00.000Z' });
        },
      },
    ];

    mkdirSync(join(ROOT, '.data'), { recursive: true });
    // Inside the checkout, so that `npx resource-pool` finds the project's bin as a user's shell does.
    const cwd = mkdtempSync(join(ROOT, '.data', 'runbooks-'));
    dirs.push(cwd);
    const local = (text: string) => text.replaceAll('localhost:3000', `localhost:${p.api}`).replaceAll('localhost:4569', `localhost:${p.s3}`);
    const [setup, ...rest] = blocks.filter((b) => b.where !== 'deployed');
    // Before the other blocks, the set-up's definitions only: its `npx resource-pool list` ran once already.
    const definitions = local(setup.text.split('\n').filter((l) => !l.startsWith('npx ')).join('\n'));
    const kept = new Set<string>();
    for (const block of [setup, ...rest]) {
      const script = block === setup ? local(setup.text) : `${definitions}\n${local(block.text)}`;
      const { code, output } = await run(script, cwd);
      // The block's output in the message: a failure says what the commands printed.
      expect(code, `docs/OPERATIONS.md line ${block.line}:\n${output}`).toBe(0);
      for (const promise of promises.filter((x) => block.text.includes(x.line))) {
        await promise.check(output);
        kept.add(promise.line);
      }
    }
    // Every promise was checked: a block rewritten so that none of its lines is found fails here.
    expect(promises.map((x) => x.line).filter((line) => !kept.has(line))).toEqual([]);

    stack.npm.kill('SIGTERM');
    await stack.exited;
  });
});
