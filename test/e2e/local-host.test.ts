// HOST and the embedded DynamoDB Local: its jar cannot bind one address, so a HOST that keeps the
// stack on one address refuses to start it (instead of exposing the database on every interface).
import { describe, expect, test } from 'vitest';
import { embeddedDynamoRefusal } from '../../local/stack.js';

describe('HOST covers the embedded DynamoDB Local', () => {
  test('HOST=127.0.0.1 with the embedded DynamoDB Local is refused, saying why and what to do', () => {
    const message = embeddedDynamoRefusal({ host: '127.0.0.1', ddbPort: 8000 });
    expect(message).toMatch(/^HOST=127\.0\.0\.1: the embedded DynamoDB Local cannot be bound to one address .* every interface on port 8000/);
    expect(message).toContain('DYNAMODB_ENDPOINT');
  });

  test('every interface, or a DynamoDB of the operator\'s own, starts as before', () => {
    for (const host of ['0.0.0.0', '::']) expect(embeddedDynamoRefusal({ host, ddbPort: 8000 })).toBeUndefined();
    expect(embeddedDynamoRefusal({ host: '127.0.0.1', ddbPort: 8000, dynamodbEndpoint: 'http://127.0.0.1:8001' })).toBeUndefined();
  });
});
