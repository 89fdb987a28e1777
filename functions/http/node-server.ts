/**
 * The HTTP application on a Node server (the local stack's API), as @hono/node-server serves it, with
 * the path rule of paths.ts applied to the request target exactly as it came off the wire: the
 * adapter builds a WHATWG URL from it, which resolves dot segments and reads `\` as `/`, so the check
 * must come first. The Lambda applies the same rule in functions/api.ts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { PoolError } from '../../lib/errors.js';
import { errorJson, STATUS_OF } from './errors.js';
import { pathProblem, requestTargetPath } from './paths.js';

type FetchCallback = Parameters<typeof getRequestListener>[0];

/** A server (not yet listening) that answers every request with `fetch`, once its path passes the rule. */
export function createApiServer(fetch: FetchCallback): Server {
  const listener = getRequestListener(fetch);
  return createServer((incoming, outgoing) => {
    const problem = pathProblem(requestTargetPath(incoming.url ?? '/'), 'raw');
    if (problem) return refuse(incoming, outgoing, problem);
    void listener(incoming, outgoing);
  });
}

function refuse(incoming: IncomingMessage, outgoing: ServerResponse, e: PoolError): void {
  // The body is not read: let it drain so that the connection can serve the next request.
  incoming.resume();
  const body = JSON.stringify(errorJson(e));
  outgoing.writeHead(STATUS_OF[e.code], { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  outgoing.end(incoming.method === 'HEAD' ? undefined : body);
}
