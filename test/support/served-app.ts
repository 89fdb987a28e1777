/** The application served on a free local port over a fresh table with these pools, for CLI tests. */
import type { Server } from 'node:http';
import { createAdaptorServer } from '@hono/node-server';
import { createApp } from '../../functions/http/app.js';
import type { PoolStore } from '../../lib/store/index.js';
import { freePort } from '../../local/dynamodb-local.js';
import { freshStore, register } from './store.js';

export interface ServedApp {
  url: string;
  store: PoolStore;
  close(): Promise<void>;
}

export async function serveApp(pools: string): Promise<ServedApp> {
  const store = await freshStore();
  await register(store, pools);
  const port = await freePort();
  const server = createAdaptorServer({ fetch: createApp({ store, maxPoolSize: 250_000 }).fetch }) as Server;
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  return {
    url: `http://127.0.0.1:${port}`,
    store,
    async close() {
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
