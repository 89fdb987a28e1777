/**
 * A real network fault between the store and DynamoDB Local: an HTTP proxy that forwards requests,
 * but can hold those of chosen operations and never answer them, either before passing them on (the
 * request is lost) or after (it lands, its answer is lost). Nothing is mocked: the store's client
 * talks HTTP to it as it would to DynamoDB.
 */
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export type Stall = 'forward' | 'drop' | 'land-then-drop';

export interface StallingProxy {
  endpoint: string;
  /** What to do with requests of each operation (X-Amz-Target, e.g. `TransactWriteItems`); forward by default. */
  rules: Map<string, Stall>;
  /** Requests held so far, by operation. */
  held: Map<string, number>;
  close(): Promise<void>;
}

export async function stallingProxy(target: string): Promise<StallingProxy> {
  const upstream = new URL(target);
  const rules = new Map<string, Stall>();
  const held = new Map<string, number>();
  const open = new Set<ServerResponse>();
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const operation = String(req.headers['x-amz-target'] ?? '').split('.').pop() ?? '';
    const rule = rules.get(operation) ?? 'forward';
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (rule === 'drop') {
        held.set(operation, (held.get(operation) ?? 0) + 1);
        open.add(res);
        return;
      }
      const out = request(
        { hostname: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
        (answer) => {
          if (rule === 'land-then-drop') {
            held.set(operation, (held.get(operation) ?? 0) + 1);
            answer.resume();
            open.add(res);
            return;
          }
          res.writeHead(answer.statusCode ?? 500, answer.headers);
          answer.pipe(res);
        },
      );
      out.on('error', () => res.destroy());
      out.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    rules,
    held,
    async close() {
      for (const res of open) res.destroy();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };
}
