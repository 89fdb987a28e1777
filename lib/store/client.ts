/**
 * The DynamoDB client as the store wants it: middleware resolved once per command type
 * (`cacheMiddleware`, about a quarter less client CPU per request), connection and request timeouts
 * so that a stalled DynamoDB fails a request instead of hanging it for the SDK's default 300 s, and
 * no SDK retries: the store retries itself, within each operation's budget (lib/store/pacing.ts), so
 * that SDK retries cannot stack under its own. Middleware added to it (as the tests add faults) must
 * be added before its first call.
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { DEFAULT_BUDGET_MS } from './pacing.js';

export const CONNECTION_TIMEOUT_MS = 1000;

export function dynamoClient(config: DynamoDBClientConfig = {}, connectionTimeoutMs = CONNECTION_TIMEOUT_MS): DynamoDBClient {
  return new DynamoDBClient({
    cacheMiddleware: true,
    maxAttempts: 1,
    // Each request's own abort signal bounds it by what is left of its operation's budget; this is the backstop.
    requestHandler: { connectionTimeout: connectionTimeoutMs, requestTimeout: DEFAULT_BUDGET_MS },
    ...config,
  });
}
