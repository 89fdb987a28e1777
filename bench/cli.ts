/**
 * The cli line: what the `resource-pool` process adds to a call. `resource-pool list --json`, one
 * process per call as a script runs it, against a `node -e` process that fetches the same URL and
 * prints the answer; the two alternate call by call, so that both see the same machine load.
 */
import { execFile, execFileSync } from 'node:child_process';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { createAdaptorServer } from '@hono/node-server';
import { createApp } from '../functions/http/app.js';
import { type Bench, emit, median, progress, QUICK, round } from './harness.js';

/** SPEC's 20; --quick takes 10 of each so that the whole quick run stays under a minute. */
export const CLI_CALLS = QUICK ? 10 : 20;
const BIN = fileURLToPath(new URL('../bin/resource-pool.js', import.meta.url));

/** Milliseconds from spawning `file args` to its exit; a failing process fails the bench. */
function timed(file: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const started = performance.now();
  return new Promise((resolve, reject) => {
    execFile(file, args, { env, maxBuffer: 64 * 1024 * 1024 }, (error, stdout) => {
      if (error) return reject(error);
      if (!stdout.includes('"pools"')) return reject(new Error(`unexpected output: ${stdout.slice(0, 200)}`));
      resolve(performance.now() - started);
    });
  });
}

export async function cliBench(bench: Bench): Promise<void> {
  // The bin runs the compiled CLI: build it from these sources, as `npm ci` would.
  execFileSync('npm', ['run', '--silent', 'build:cli'], { stdio: ['ignore', 'ignore', 'inherit'] });
  await bench.pool('cli', 1000);
  const server = createAdaptorServer({ fetch: createApp({ store: bench.store(), maxPoolSize: 250_000 }).fetch }) as Server;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const env = { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', RESOURCE_POOLS_ENDPOINT: '' };
  const cli = () => timed(BIN, ['list', '--json', '--endpoint', endpoint], env);
  const fetchScript = `fetch(${JSON.stringify(`${endpoint}/v1/pools`)}).then((r) => r.text()).then((t) => process.stdout.write(t))`;
  const bare = () => timed(process.execPath, ['-e', fetchScript], env);
  try {
    progress(`cli: ${CLI_CALLS} calls of resource-pool list --json against ${CLI_CALLS} node -e fetches, alternating`);
    // One of each first, unmeasured: the first process of a run pays for cold file caches.
    await cli();
    await bare();
    const cliMs: number[] = [];
    const fetchMs: number[] = [];
    for (let i = 0; i < CLI_CALLS; i++) {
      cliMs.push(await cli());
      fetchMs.push(await bare());
    }
    // Medians: one process stalled by another agent's burst should not decide the ratio.
    const cliPerCall = median(cliMs);
    const fetchPerCall = median(fetchMs);
    emit({
      bench: 'cli',
      calls: CLI_CALLS,
      cli_ms_per_call: round(cliPerCall, 1),
      node_fetch_ms_per_call: round(fetchPerCall, 1),
      ratio: round(cliPerCall / fetchPerCall),
    });
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
}
