/**
 * IAM in a synthesized template: every statement, what a function's role may do, whether a caller
 * policy's pattern allows (or, through dot segments, reaches) a route, and which DynamoDB actions
 * lib/store/ needs, read from its source.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from 'vitest';
import { asList, type Json, type Resources, type Synthesized, text } from './infra-app.js';

/** Every IAM-style statement anywhere in the template (role, managed, bucket, queue, topic and key policies). */
export function allStatements(resources: Resources): { resource: string; statement: Json }[] {
  const found: { resource: string; statement: Json }[] = [];
  const walk = (resource: string, node: unknown): void => {
    if (Array.isArray(node)) node.forEach((n) => walk(resource, n));
    else if (node && typeof node === 'object') {
      for (const [k, v] of Object.entries(node as Json)) {
        if (k === 'Statement' && Array.isArray(v)) for (const s of v) found.push({ resource, statement: s as Json });
        else walk(resource, v);
      }
    }
  };
  for (const [logicalId, r] of Object.entries(resources)) walk(logicalId, r.Properties);
  return found;
}

export interface RolePermissions {
  /** Logical IDs named in Resource entries. */
  refs: Set<string>;
  actions: Set<string>;
  /** `action on resource`, resources as text(). */
  grants: Set<string>;
}

/** What a function's role may do: its policies' actions, the resources they name, and the pairs. */
export function rolePermissions(s: Synthesized, fnLogicalId: string): RolePermissions {
  const fn = s.resources[fnLogicalId];
  const roleId = ((fn.Properties!.Role as Json)['Fn::GetAtt'] as string[])[0];
  expect(s.resources[roleId].Properties!.ManagedPolicyArns, 'no AWS managed policy on a service role').toBeUndefined();
  expect(s.resources[roleId].Properties!.Policies).toBeUndefined();
  const refs = new Set<string>();
  const actions = new Set<string>();
  const grants = new Set<string>();
  for (const r of Object.values(s.resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    if (!asList(r.Properties!.Roles).some((x) => (x as Json).Ref === roleId)) continue;
    for (const st of (r.Properties!.PolicyDocument as Json).Statement as Json[]) {
      expect(st.Effect).toBe('Allow');
      for (const a of asList(st.Action as string | string[])) actions.add(a);
      for (const res of asList(st.Resource)) {
        for (const m of text(res).matchAll(/\$\{([A-Za-z0-9]+)[.}]/g)) refs.add(m[1]);
        expect(text(res), 'no resource wildcard beyond a path pattern').not.toBe('*');
        for (const a of asList(st.Action as string | string[])) grants.add(`${a} on ${text(res)}`);
      }
    }
  }
  return { refs, actions, grants };
}

/** The IAM resource pattern `METHOD/path` (`*` any run of characters, `?` one) as a regular expression. */
export function iamPattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Whether a pattern allows a request to a route, with a plain value in each path parameter. */
export function allowsRoute(pattern: string, method: string, path: string): boolean {
  return iamPattern(pattern).test(`${method}${path.replace(/\{[^}]+\}/g, 'x')}`);
}

/**
 * Whether a request the pattern allows can be served by the route once `.` and `..` segments are
 * resolved. Where the pattern has `*`, a caller may climb to the root and name any path, so only
 * what follows the last `*` binds: those segments end the resolved path, each matching the route's
 * literal segment or filling its parameter.
 */
export function reachesRoute(pattern: string, method: string, path: string): boolean {
  const slash = pattern.indexOf('/');
  const [patternMethod, patternPath] = [pattern.slice(0, slash), pattern.slice(slash)];
  if (patternMethod !== '*' && patternMethod !== method) return false;
  if (!patternPath.includes('*')) return allowsRoute(pattern, method, path);
  const tail = patternPath.slice(patternPath.lastIndexOf('*') + 1).split('/');
  const segments = path.split('/');
  if (tail.length > segments.length) return false;
  return tail.every((t, i) => {
    const segment = segments[segments.length - tail.length + i];
    if (/^\{.+\}$/.test(segment)) return true;
    // The first piece of the tail may be the end of a segment that `*` began.
    return i === 0 ? segment.endsWith(t) : segment === t;
  });
}

/** Every source file of the store (lib/store/), as one text. */
function storeSource(): string {
  return readdirSync('lib/store')
    .filter((f) => f.endsWith('.ts'))
    .map((f) => readFileSync(join('lib/store', f), 'utf8'))
    .join('\n');
}

/**
 * The IAM actions lib/store/ needs, from the SDK commands it constructs and the items of its
 * transactions (IAM authorizes TransactWriteItems per Put, Update, Delete and ConditionCheck).
 */
export function storeActions(): { reads: string[]; writes: string[] } {
  const source = storeSource();
  const reads = new Set<string>();
  const writes = new Set<string>();
  for (const op of storeOperations()) {
    if (['GetItem', 'BatchGetItem', 'Query', 'Scan', 'TransactGetItems'].includes(op)) reads.add(`dynamodb:${op === 'TransactGetItems' ? 'GetItem' : op}`);
    else if (op !== 'TransactWriteItems') writes.add(`dynamodb:${op}`);
  }
  if (storeOperations().includes('TransactWriteItems')) {
    const actionOf: Record<string, string> = { Put: 'PutItem', Update: 'UpdateItem', Delete: 'DeleteItem', ConditionCheck: 'ConditionCheckItem' };
    for (const m of source.matchAll(/\b(Put|Update|Delete|ConditionCheck): \{/g)) writes.add(`dynamodb:${actionOf[m[1]]}`);
  }
  return { reads: [...reads], writes: [...writes] };
}

/** DynamoDB data-plane operations lib/store/ issues, from the SDK commands it constructs. */
export function storeOperations(): string[] {
  // Low-level command names are the operations; lib-dynamodb's DocumentClient names are shorter.
  const operations = ['GetItem', 'BatchGetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems', 'TransactGetItems'];
  const operationOf: Record<string, string> = {
    ...Object.fromEntries(operations.map((op) => [op, op])),
    Get: 'GetItem', BatchGet: 'BatchGetItem', Put: 'PutItem', Update: 'UpdateItem',
    Delete: 'DeleteItem', BatchWrite: 'BatchWriteItem', TransactWrite: 'TransactWriteItems', TransactGet: 'TransactGetItems',
    ExecuteStatement: 'ExecuteStatement', BatchExecuteStatement: 'BatchExecuteStatement', ExecuteTransaction: 'ExecuteTransaction',
  };
  // Control-plane calls (the local stack's ensureTable) are not throttled as requests to the table.
  const controlPlane = new Set(['CreateTable', 'DescribeTable', 'UpdateTable']);
  const commands = new Set([...storeSource().matchAll(/new (\w+)Command\(/g)].map((m) => m[1]));
  const ops = [...commands].filter((c) => !controlPlane.has(c)).map((c) => {
    expect(operationOf[c], `lib/store/ issues ${c}Command: which DynamoDB operation is it?`).toBeDefined();
    return operationOf[c];
  });
  expect(ops.length).toBeGreaterThanOrEqual(4);
  return ops;
}
