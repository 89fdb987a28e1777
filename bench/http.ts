/** The http line: the same workload through the HTTP application on a local server and straight on the store. */
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import { createApp } from '../functions/http/app.js';
import { type Bench, CLIENTS, closedLoop, emit, percentile, progress, round, T } from './harness.js';


/**
 * The same workload (each client allocates, then releases what it got, and again) through the HTTP
 * application on a local server and straight on the store, so the ratio is what HTTP, JSON and
 * routing cost. Each request is timed on its own.
 */
export async function httpBench(bench: Bench): Promise<void> {
  await bench.pool('http', 250_000);
  const server = createAdaptorServer({ fetch: createApp({ store: bench.store(), maxPoolSize: 250_000 }).fetch });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  const api = `http://127.0.0.1:${port}/v1/pools/http`;
  let serial = 0;
  /** Per client: the owner holding a value, released by the client's next request. */
  const holding: (string | undefined)[] = [];
  const alternate = (allocate: (owner: string) => Promise<void>, release: (owner: string) => Promise<void>) => async (c: number) => {
    const held = holding[c];
    holding[c] = undefined;
    if (held) return release(held);
    const owner = `h-${serial++}`;
    await allocate(owner);
    holding[c] = owner;
  };
  const expectStatus = async (res: Response, status: number) => {
    await res.arrayBuffer();
    if (res.status !== status) throw Object.assign(new Error(`answered ${res.status}`), { name: `HTTP_${res.status}` });
  };
  try {
    const stores = Array.from({ length: CLIENTS }, () => bench.store());
    progress(`http: allocate and release straight on the store (${T.phaseS} s)`);
    const direct = await closedLoop(CLIENTS, T.phaseS, (c) =>
      alternate(
        async (owner) => void (await stores[c].allocate({ pool: 'http', owner })),
        async (owner) => void (await stores[c].release({ pool: 'http', owner })),
      )(c),
    );
    holding.length = 0;
    progress(`http: allocate and release through the HTTP API, ${CLIENTS} clients (${T.phaseS} s)`);
    const overHttp = await closedLoop(
      CLIENTS,
      T.phaseS,
      alternate(
        async (owner) =>
          expectStatus(await fetch(`${api}/allocations`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ owner }) }), 201),
        async (owner) => expectStatus(await fetch(`${api}/owners/${owner}`, { method: 'DELETE' }), 204),
      ),
    );
    emit({
      bench: 'http',
      clients: CLIENTS,
      requests_per_s: round(overHttp.perSecond, 1),
      p50_ms: round(percentile(overHttp.latencies, 0.5), 1),
      p99_ms: round(percentile(overHttp.latencies, 0.99), 1),
      errors: [...overHttp.errors.values()].reduce((a, b) => a + b, 0),
      store_ops_per_s: round(direct.perSecond, 1),
      ratio_to_store: round(overHttp.perSecond / direct.perSecond),
    });
  } finally {
    await new Promise((r) => server.close(r));
  }
}

