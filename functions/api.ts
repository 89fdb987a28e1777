// TEMPORARY STUB from the infra helper: replace with the real handler
// Lets the CDK app bundle and synthesize before the HTTP app exists; answers every request 503.
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export const handler = async (_event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => ({
  statusCode: 503,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: { code: 'UNAVAILABLE', message: 'the API handler is not built yet' } }),
});
