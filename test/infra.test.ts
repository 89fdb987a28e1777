// The CDK app, asserted on its synthesized template (bundling skipped; test/infra-bundle.test.ts bundles
// for real). Every app here runs cdk-nag as `npm run synth` does, so any unacknowledged finding fails
// the synth behind each assertion too.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks, type IApplyRule, NagRuleCompliance, type NagRuleResult } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { parsePoolsFile } from '../lib/config.js';
import { TABLE_KEYS } from '../lib/store/keys.js';
import { MAX_POOL_SIZE_CEILING } from '../lib/plan.js';
import { DEFAULT_UTILIZATION_ALARM_PERCENT, METRICS_NAMESPACE, Metric, POOL_DIMENSION } from '../lib/telemetry.js';
import { defineResourcePoolsApp } from '../infra/resource-pools-app.js';
import type { CallerRole } from '../infra/caller-policies.js';
import type { ResourcePoolsStack } from '../infra/stack.js';
import { routes } from '../functions/http/routes.js';

const POOLS_FILE = 'config/pools.toml';
const SITE_POOLS = parsePoolsFile(readFileSync(POOLS_FILE, 'utf8')).pools.map((p) => p.name);

type Json = Record<string, unknown>;
type Resources = Record<string, { Type: string; Properties?: Json; DependsOn?: string[]; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;

const outdirs: string[] = [];
function newApp(context: Record<string, unknown> = {}): App {
  const outdir = mkdtempSync(join(tmpdir(), 'rp-infra-test-'));
  outdirs.push(outdir);
  return new App({
    outdir,
    // The built-in CloudFormation validation costs ~4 s per synth; `npm run synth` keeps it.
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [], ...context },
  });
}
afterAll(() => {
  for (const dir of outdirs) rmSync(dir, { recursive: true, force: true });
});

interface Synthesized {
  stack: ResourcePoolsStack;
  template: Template;
  resources: Resources;
  id: (construct: { node: { defaultChild?: unknown } }) => string;
}

function synth(context: Record<string, unknown> = {}): Synthesized {
  const stack = defineResourcePoolsApp(newApp(context));
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Resources;
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
  return { stack, template, resources, id };
}

/** A template value as text: `${Logical}` for a Ref, `${Logical.Attr}` for a GetAtt, joins joined. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Array.isArray(value)) return value.map(text).join(',');
  if (value && typeof value === 'object') {
    const o = value as Json;
    if ('Ref' in o) return `\${${o.Ref as string}}`;
    if ('Fn::GetAtt' in o) return `\${${(o['Fn::GetAtt'] as string[]).join('.')}}`;
    if ('Fn::Join' in o) {
      const [sep, parts] = o['Fn::Join'] as [string, unknown[]];
      return parts.map(text).join(sep);
    }
    return JSON.stringify(Object.fromEntries(Object.entries(o).map(([k, v]) => [k, text(v)])));
  }
  return String(value);
}

/** Every IAM-style statement anywhere in the template (role, managed, bucket, queue, topic and key policies). */
function allStatements(resources: Resources): { resource: string; statement: Json }[] {
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

const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

interface RolePermissions {
  /** Logical IDs named in Resource entries. */
  refs: Set<string>;
  actions: Set<string>;
  /** `action on resource`, resources as text(). */
  grants: Set<string>;
}

/** What a function's role may do: its policies' actions, the resources they name, and the pairs. */
function rolePermissions(s: Synthesized, fnLogicalId: string): RolePermissions {
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
function iamPattern(pattern: string): RegExp {
  return new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Whether a pattern allows a request to a route, with a plain value in each path parameter. */
function allowsRoute(pattern: string, method: string, path: string): boolean {
  return iamPattern(pattern).test(`${method}${path.replace(/\{[^}]+\}/g, 'x')}`);
}

/**
 * Whether a request the pattern allows can be served by the route once `.` and `..` segments are
 * resolved. Where the pattern has `*`, a caller may climb to the root and name any path, so only
 * what follows the last `*` binds: those segments end the resolved path, each matching the route's
 * literal segment or filling its parameter.
 */
function reachesRoute(pattern: string, method: string, path: string): boolean {
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
function storeActions(): { reads: string[]; writes: string[] } {
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
function storeOperations(): string[] {
  // Low-level command names are the operations; lib-dynamodb's DocumentClient names are shorter.
  const operations = ['GetItem', 'BatchGetItem', 'Query', 'Scan', 'PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems', 'TransactGetItems'];
  const operationOf: Record<string, string> = {
    ...Object.fromEntries(operations.map((op) => [op, op])),
    Get: 'GetItem', BatchGet: 'BatchGetItem', Put: 'PutItem', Update: 'UpdateItem',
    Delete: 'DeleteItem', BatchWrite: 'BatchWriteItem', TransactWrite: 'TransactWriteItems', TransactGet: 'TransactGetItems',
    ExecuteStatement: 'ExecuteStatement', BatchExecuteStatement: 'BatchExecuteStatement', ExecuteTransaction: 'ExecuteTransaction',
  };
  // Control-plane calls (the local stack's ensureTable) are not throttled as requests to the table.
  const controlPlane = new Set(['CreateTable', 'DescribeTable']);
  const commands = new Set([...storeSource().matchAll(/new (\w+)Command\(/g)].map((m) => m[1]));
  const ops = [...commands].filter((c) => !controlPlane.has(c)).map((c) => {
    expect(operationOf[c], `lib/store/ issues ${c}Command: which DynamoDB operation is it?`).toBeDefined();
    return operationOf[c];
  });
  expect(ops.length).toBeGreaterThanOrEqual(4);
  return ops;
}

function alarmsOn(resources: Resources, metricName: string): Json[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => r.Properties!)
    .filter((p) => p.MetricName === metricName || JSON.stringify(p.Metrics ?? []).includes(`"MetricName":"${metricName}"`));
}

/** Runs the app's validation (cdk-nag) and returns its unacknowledged findings as `rule @ construct path`. */
function nagFindings(app: App): string[] {
  let error: unknown;
  try {
    app.synth();
  } catch (e) {
    error = e;
  }
  const reportPath = join(app.outdir, 'validation-report.json');
  let report: { pluginReports: { pluginName: string; violations: { ruleName: string; violatingConstructs?: { constructPath: string }[] }[] }[] };
  try {
    report = JSON.parse(readFileSync(reportPath, 'utf8'));
  } catch {
    // No report means the synth failed before validation: that is a failure of its own.
    throw error ?? new Error(`no validation report at ${reportPath}`);
  }
  const findings = report.pluginReports
    .filter((p) => p.pluginName === 'AwsSolutions')
    .flatMap((p) => p.violations.flatMap((v) => (v.violatingConstructs ?? []).map((c) => `${v.ruleName} @ ${c.constructPath}`)));
  if (error && findings.length === 0) throw error;
  return findings;
}

// Synthesized on first use, so that a synth failure (such as a cdk-nag finding) fails each test with its
// own message rather than one hook for the whole file.
let baseApp: Synthesized | undefined;
let siteApp: Synthesized | undefined;
const base = (): Synthesized => (baseApp ??= synth());
const site = (): Synthesized =>
  (siteApp ??= synth({ poolsFile: POOLS_FILE, utilizationAlarmPercent: '75', maxPoolSize: '1000000', alarmEmail: 'noc@example.com' }));

describe('allocation table', () => {
  it('is on-demand, point-in-time recoverable, deletion-protected, retained and AWS-managed encrypted', () => {
    base().template.resourceCountIs('AWS::DynamoDB::Table', 1);
    base().template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: Match.objectLike({
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        DeletionProtectionEnabled: true,
        // SSEEnabled without a key of our own = the AWS managed key (aws/dynamodb).
        SSESpecification: { SSEEnabled: true },
      }),
    });
    const table = Object.values(base().resources).find((r) => r.Type === 'AWS::DynamoDB::Table')!;
    expect((table.Properties!.SSESpecification as Json).KMSMasterKeyId).toBeUndefined();
  });

  it('has the data model keys, the by-value index and the TTL attribute', () => {
    // lib/items.ts is the contract the store reads and writes by: pk/sk, by-value on gpk/gsk, expires_at.
    const k = TABLE_KEYS;
    base().template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: k.partitionKey, KeyType: 'HASH' },
        { AttributeName: k.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: k.partitionKey, AttributeType: 'S' },
        { AttributeName: k.sortKey, AttributeType: 'S' },
        { AttributeName: k.valueIndexPartitionKey, AttributeType: 'S' },
        { AttributeName: k.valueIndexSortKey, AttributeType: 'S' },
      ]),
      GlobalSecondaryIndexes: [
        {
          IndexName: k.valueIndex,
          KeySchema: [
            { AttributeName: k.valueIndexPartitionKey, KeyType: 'HASH' },
            { AttributeName: k.valueIndexSortKey, KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'ALL' },
        },
      ],
      TimeToLiveSpecification: { AttributeName: k.ttl, Enabled: true },
    });
  });
});

describe('config bucket', () => {
  it('is versioned, encrypted, private, TLS-only and logs its access to a separate bucket', () => {
    const bucketId = base().id(base().stack.configBucket.bucket);
    const logsId = base().id(base().stack.configBucket.accessLogsBucket);
    const bucket = base().resources[bucketId];
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(bucket.Properties).toMatchObject({
      VersioningConfiguration: { Status: 'Enabled' },
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      LoggingConfiguration: { DestinationBucketName: { Ref: logsId } },
    });
    expect(base().resources[logsId].Properties).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
    });
    for (const id of [bucketId, logsId]) {
      base().template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: id },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  it('invokes config-sync for each .toml object created', () => {
    base().template.hasResourceProperties('Custom::S3BucketNotifications', {
      BucketName: { Ref: base().id(base().stack.configBucket.bucket) },
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ['s3:ObjectCreated:*'],
            Filter: { Key: { FilterRules: [{ Name: 'suffix', Value: '.toml' }] } },
            LambdaFunctionArn: { 'Fn::GetAtt': [base().id(base().stack.configSync.function.function), 'Arn'] },
          },
        ],
      },
    });
  });

  it('retries a failed config-sync twice, then parks the event in an encrypted, TLS-only dead-letter queue', () => {
    const dlq = base().id(base().stack.configSync.deadLetterQueue);
    expect(base().resources[dlq].Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1209600 });
    base().template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: dlq }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
    base().template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: base().id(base().stack.configSync.function.function) },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [dlq, 'Arn'] } } },
    });
  });
});

describe('functions', () => {
  const each = (s: Synthesized) => ({
    api: s.stack.apiFunction,
    configSync: s.stack.configSync.function,
    metrics: s.stack.metricsReporter.function,
  });

  it('run on Node 24, arm64, with source maps, the service environment and a log group kept one month', () => {
    for (const fn of Object.values(each(base()))) {
      const props = base().resources[base().id(fn.function)].Properties!;
      expect(props).toMatchObject({ Runtime: 'nodejs24.x', Architectures: ['arm64'], Handler: 'index.handler' });
      expect((props.Environment as Json).Variables).toMatchObject({
        TABLE_NAME: { Ref: base().id(base().stack.table.table) },
        POWERTOOLS_SERVICE_NAME: 'resource-pools',
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
      });
      expect(((props.Environment as Json).Variables as Json).MAX_POOL_SIZE).toBeUndefined();
      const logGroup = base().id(fn.logGroup);
      expect(props.LoggingConfig).toEqual({ LogGroup: { Ref: logGroup } });
      expect(base().resources[logGroup].Properties!.RetentionInDays).toBe(30);
    }
    const configSync = base().resources[base().id(base().stack.configSync.function.function)].Properties!;
    expect((configSync.Environment as Json).Variables).toMatchObject({ CONFIG_BUCKET: { Ref: base().id(base().stack.configBucket.bucket) } });
  });

  it('pass context maxPoolSize on as MAX_POOL_SIZE', () => {
    for (const fn of Object.values(each(site()))) {
      const props = site().resources[site().id(fn.function)].Properties!;
      expect(((props.Environment as Json).Variables as Json).MAX_POOL_SIZE).toBe('1000000');
    }
  });

  it('run the metrics function every minute, without retrying a stale run', () => {
    base().template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [base().id(base().stack.metricsReporter.function.function), 'Arn'] } })],
    });
  });

  it('give each function only its own resources', () => {
    const fns = each(base());
    const table = base().id(base().stack.table.table);
    const bucket = base().id(base().stack.configBucket.bucket);
    const dlq = base().id(base().stack.configSync.deadLetterQueue);

    const { reads, writes } = storeActions();
    const dynamodb = (p: RolePermissions) => [...p.actions].filter((a) => a.startsWith('dynamodb:')).sort();
    const tableAndIndex = [`\${${table}.Arn}`, `\${${table}.Arn}/index/*`];

    const api = rolePermissions(base(), base().id(fns.api.function));
    expect([...api.refs].sort()).toEqual([table, base().id(fns.api.logGroup)].sort());
    expect([...api.actions].some((a) => a.startsWith('s3:') || a.startsWith('sqs:'))).toBe(false);
    expect(dynamodb(api)).toEqual([...reads, ...writes].sort());
    for (const a of dynamodb(api)) for (const r of tableAndIndex) expect(api.grants).toContain(`${a} on ${r}`);

    const sync = rolePermissions(base(), base().id(fns.configSync.function));
    expect([...sync.refs].sort()).toEqual([table, bucket, dlq, base().id(fns.configSync.logGroup)].sort());
    // Reads the .toml object versions it is notified of; ListBucket only so that a deleted object is a 404.
    expect([...sync.grants].filter((g) => g.startsWith('s3:')).sort()).toEqual([
      `s3:GetObject on \${${bucket}.Arn}/*.toml`,
      `s3:GetObjectVersion on \${${bucket}.Arn}/*.toml`,
      `s3:ListBucket on \${${bucket}.Arn}`,
    ]);
    // The dead-letter queue is written by Lambda's on-failure destination, under the function's role.
    expect([...sync.grants].filter((g) => g.startsWith('sqs:'))).toEqual(
      expect.arrayContaining([`sqs:SendMessage on \${${dlq}.Arn}`]),
    );
    expect([...sync.grants].filter((g) => g.startsWith('sqs:')).every((g) => g.endsWith(`\${${dlq}.Arn}`))).toBe(true);

    expect(dynamodb(sync)).toEqual([...reads, ...writes].sort());

    // The metrics function only reads.
    const metrics = rolePermissions(base(), base().id(fns.metrics.function));
    expect([...metrics.refs].sort()).toEqual([table, base().id(fns.metrics.logGroup)].sort());
    expect(dynamodb(metrics)).toEqual([...reads].sort());
    expect([...metrics.actions].some((a) => !a.startsWith('dynamodb:') && !a.startsWith('logs:'))).toBe(false);

    // Logs: each function writes to its own log group only.
    for (const [name, fn] of Object.entries(fns)) {
      const p = rolePermissions(base(), base().id(fn.function));
      expect([...p.grants].filter((g) => g.startsWith('logs:')).sort(), name).toEqual(
        ['logs:CreateLogStream', 'logs:PutLogEvents'].map((a) => `${a} on \${${base().id(fn.logGroup)}.Arn}`),
      );
    }
  });

  it('grant no `*` action and no service-wide `service:*` action anywhere', () => {
    for (const s of [base(), site()]) {
      const allows = allStatements(s.resources).filter(({ statement }) => statement.Effect === 'Allow');
      expect(allows.length).toBeGreaterThan(10);
      for (const { resource, statement } of allows) {
        for (const action of asList(statement.Action as string | string[])) {
          expect(action === '*' || action.endsWith(':*'), `${resource} allows ${action}`).toBe(false);
        }
      }
    }
  });
});

describe('HTTP API', () => {
  it('sends every path and method to the API function, IAM-authorized', () => {
    const routes = Object.values(base().resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    expect(routes.map((r) => r.Properties!.RouteKey).sort()).toEqual(['ANY /', 'ANY /{proxy+}']);
    for (const r of routes) expect(r.Properties!.AuthorizationType).toBe('AWS_IAM');
    base().template.resourceCountIs('AWS::ApiGatewayV2::Integration', 1);
    base().template.hasResourceProperties('AWS::ApiGatewayV2::Integration', {
      IntegrationType: 'AWS_PROXY',
      PayloadFormatVersion: '2.0',
      IntegrationUri: { 'Fn::GetAtt': [base().id(base().stack.apiFunction.function), 'Arn'] },
    });
  });

  it('has one $default stage with JSON access logs and default throttling', () => {
    base().template.resourceCountIs('AWS::ApiGatewayV2::Stage', 1);
    const stage = Object.values(base().resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!.Properties!;
    expect(stage).toMatchObject({
      StageName: '$default',
      AutoDeploy: true,
      DefaultRouteSettings: { ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 },
      AccessLogSettings: { DestinationArn: { 'Fn::GetAtt': [base().id(base().stack.api.accessLogs), 'Arn'] } },
    });
    const format = JSON.parse((stage.AccessLogSettings as Json).Format as string) as Json;
    expect(format).toMatchObject({ requestId: '$context.requestId', userArn: '$context.identity.userArn', status: '$context.status' });
    expect(base().resources[base().id(base().stack.api.accessLogs)].Properties!.RetentionInDays).toBe(90);
  });

  it('offers reader, allocator and admin managed policies scoped to this API', () => {
    const apiRef = `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${${base().id(base().stack.api.api)}}/$default/`;
    const resourcesOf = (policy: 'reader' | 'allocator' | 'admin') => {
      const props = base().resources[base().id(base().stack.callerPolicies.policies[policy])].Properties!;
      const statements = (props.PolicyDocument as Json).Statement as Json[];
      expect(statements).toHaveLength(1);
      expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
      return asList(statements[0].Resource).map((r) => {
        const arn = text(r);
        expect(arn.startsWith(apiRef), arn).toBe(true);
        return arn.slice(apiRef.length);
      });
    };
    base().template.resourceCountIs('AWS::IAM::ManagedPolicy', 3);
    expect(resourcesOf('reader')).toEqual(['GET/v1/*']);
    expect(resourcesOf('allocator').sort()).toEqual(
      ['GET/v1/*', 'POST/v1/pools/*/allocations', 'DELETE/v1/pools/*/allocations/*', 'DELETE/v1/pools/*/owners/*'].sort(),
    );
    expect(resourcesOf('admin')).toEqual(['*/*']);
  });

  it("give each caller exactly its routes of the API's route table, even if dot segments got through", () => {
    const apiRef = `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${${base().id(base().stack.api.api)}}/$default/`;
    const patternsOf = (policy: CallerRole): string[] => {
      const statement = ((base().resources[base().id(base().stack.callerPolicies.policies[policy])].Properties!.PolicyDocument as Json).Statement as Json[])[0];
      return asList(statement.Resource).map((r) => text(r).slice(apiRef.length));
    };
    const table = routes.map((r) => ({ key: `${r.spec.method.toUpperCase()} ${r.spec.path}`, method: r.spec.method.toUpperCase(), path: r.spec.path }));
    expect(table.map((r) => r.key)).toEqual(expect.arrayContaining(['GET /v1/check', 'POST /v1/config', 'POST /v1/pools/{pool}/allocations']));

    const reads = table.filter((r) => r.method === 'GET').map((r) => r.key);
    const allocations = ['POST /v1/pools/{pool}/allocations', 'DELETE /v1/pools/{pool}/allocations/{value}', 'DELETE /v1/pools/{pool}/owners/{owner}'];
    const expected: Record<CallerRole, string[]> = {
      reader: reads,
      allocator: [...reads, ...allocations],
      admin: table.map((r) => r.key),
    };
    for (const role of Object.keys(expected) as CallerRole[]) {
      const patterns = patternsOf(role);
      const allowed = table.filter((r) => patterns.some((p) => allowsRoute(p, r.method, r.path))).map((r) => r.key);
      expect(allowed.sort(), role).toEqual([...expected[role]].sort());
      // The API refuses `.` and `..` segments (functions/http/paths.ts); were one to get through where a
      // pattern has `*`, it could still not reach another caller's route.
      const reachable = table.filter((r) => patterns.some((p) => reachesRoute(p, r.method, r.path))).map((r) => r.key);
      expect(reachable.filter((k) => !expected[role].includes(k)), `${role} reaches through dot segments`).toEqual([]);
    }
  });

  it('outputs the endpoint and the policy ARNs', () => {
    const outputs = base().template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(text(outputs.ApiUrl.Value)).toBe(`https://\${${base().id(base().stack.api.api)}}.execute-api.\${AWS::Region}.\${AWS::URLSuffix}/`);
    expect(outputs.ReaderPolicyArn.Value).toEqual({ Ref: base().id(base().stack.callerPolicies.policies.reader) });
    expect(outputs.AllocatorPolicyArn.Value).toEqual({ Ref: base().id(base().stack.callerPolicies.policies.allocator) });
    expect(outputs.AdminPolicyArn.Value).toEqual({ Ref: base().id(base().stack.callerPolicies.policies.admin) });
    for (const name of ['TableName', 'ConfigBucketName', 'DeadLetterQueueUrl', 'AlarmTopicArn', 'DashboardName']) {
      expect(outputs[name], name).toBeDefined();
    }
  });
});

describe('per-pool access (context poolAccess)', () => {
  const POOL_ACCESS = { 'tenant-automation': ['vpc-vni', 'tenant-vlan'], 'lab.v4_ops': ['lab-v4'] };
  let poolApp: Synthesized | undefined;
  const pooled = (): Synthesized => (poolApp ??= synth({ poolAccess: POOL_ACCESS }));
  const apiRefOf = (s: Synthesized) => `arn:\${AWS::Partition}:execute-api:\${AWS::Region}:\${AWS::AccountId}:\${${s.id(s.stack.api.api)}}/$default/`;
  const patternsOf = (s: Synthesized, name: string): string[] => {
    const props = s.resources[s.id(s.stack.callerPolicies.poolPolicies.get(name)!.policy)].Properties!;
    const statements = (props.PolicyDocument as Json).Statement as Json[];
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    return asList(statements[0].Resource).map((r) => {
      const arn = text(r);
      expect(arn.startsWith(apiRefOf(s)), arn).toBe(true);
      return arn.slice(apiRefOf(s).length);
    });
  };

  it('adds one managed policy per name, naming only its pools\' allocation routes, and every read', () => {
    pooled().template.resourceCountIs('AWS::IAM::ManagedPolicy', 3 + 2);
    expect(patternsOf(pooled(), 'tenant-automation').sort()).toEqual(
      [
        'GET/v1/*',
        'POST/v1/pools/vpc-vni/allocations',
        'DELETE/v1/pools/vpc-vni/allocations/*',
        'DELETE/v1/pools/vpc-vni/owners/*',
        'PATCH/v1/pools/vpc-vni/owners/*',
        'POST/v1/pools/tenant-vlan/allocations',
        'DELETE/v1/pools/tenant-vlan/allocations/*',
        'DELETE/v1/pools/tenant-vlan/owners/*',
        'PATCH/v1/pools/tenant-vlan/owners/*',
      ].sort(),
    );
    const lab = patternsOf(pooled(), 'lab.v4_ops');
    expect(lab.filter((p) => !p.startsWith('GET/'))).toEqual(expect.arrayContaining(['POST/v1/pools/lab-v4/allocations']));
    for (const p of lab) expect(p, 'no other pool').not.toMatch(/vpc-vni|tenant-vlan/);
    // The description is immutable (changing it replaces the policy and its ARN): it does not list the pools.
    const props = pooled().resources[pooled().id(pooled().stack.callerPolicies.poolPolicies.get('tenant-automation')!.policy)].Properties!;
    expect(props.Description).toBe('resource-pools tenant-automation (context poolAccess): read everything; allocate, release and label in its pools only');
    // The three policies for all pools are unchanged.
    expect(text(pooled().resources[pooled().id(pooled().stack.callerPolicies.policies.allocator)].Properties!.PolicyDocument)).toBe(
      text(base().resources[base().id(base().stack.callerPolicies.policies.allocator)].Properties!.PolicyDocument),
    );
  });

  it('lets a per-pool allocator allocate, release and label in its pools only, and read everything', () => {
    const patterns = patternsOf(pooled(), 'tenant-automation');
    const allows = (method: string, path: string) => patterns.some((p) => iamPattern(p).test(`${method}${path}`));
    // The app's routes in concrete pools: its own and another one.
    const table = routes.map((r) => [r.spec.method.toUpperCase(), r.spec.path] as const);
    for (const pool of ['vpc-vni', 'tenant-vlan', 'other-pool', 'vpc-vni-2']) {
      const mine = pool === 'vpc-vni' || pool === 'tenant-vlan';
      for (const [method, template] of table) {
        const path = template.replace('{pool}', pool).replace('{value}', '10.0.0.5').replace('{owner}', 'vpc-42:dpu-7');
        const writes = method !== 'GET' && template.startsWith('/v1/pools/{pool}/');
        expect(allows(method, path), `${method} ${path}`).toBe(method === 'GET' || (mine && writes));
      }
      // Labels (PATCH …/owners/{owner}) are granted ahead of the route.
      expect(allows('PATCH', `/v1/pools/${pool}/owners/vpc-42`), pool).toBe(mine);
    }
    // Admin routes and batches that span pools (their pools are in the body) are not granted, for any pool.
    for (const [method, path] of [
      ['POST', '/v1/config'],
      ['POST', '/v1/allocations'],
      ['POST', '/v1/releases'],
      ['POST', '/v1/pools/vpc-vni/retire'],
      ['POST', '/v1/pools/vpc-vni/import'],
      ['PATCH', '/v1/pools/vpc-vni'],
      ['DELETE', '/v1/pools/vpc-vni'],
      ['POST', '/v1/check/repair'],
      ['PUT', '/v1/pools/vpc-vni/allocations'],
    ]) {
      expect(allows(method, path), `${method} ${path}`).toBe(false);
    }
  });

  it('outputs each policy ARN under a readable name', () => {
    const outputs = pooled().template.toJSON().Outputs as Record<string, { Value: unknown; Description: string }>;
    const policies = pooled().stack.callerPolicies.poolPolicies;
    expect(outputs.PoolAccessTenantAutomationPolicyArn.Value).toEqual({ Ref: pooled().id(policies.get('tenant-automation')!.policy) });
    expect(outputs.PoolAccessTenantAutomationPolicyArn.Description).toMatch(/tenant-automation.*vpc-vni, tenant-vlan only/);
    expect(outputs.PoolAccessLabV4OpsPolicyArn.Value).toEqual({ Ref: pooled().id(policies.get('lab.v4_ops')!.policy) });
    expect(Object.keys(base().template.toJSON().Outputs as Json).filter((k) => k.startsWith('PoolAccess'))).toEqual([]);
  });

  it('takes the context as a JSON string too (-c poolAccess=\'{…}\')', () => {
    const s = synth({ poolAccess: JSON.stringify({ ops: ['vpc-vni', 'vpc-vni'] }) });
    expect(patternsOf(s, 'ops').sort()).toEqual(
      ['GET/v1/*', 'POST/v1/pools/vpc-vni/allocations', 'DELETE/v1/pools/vpc-vni/allocations/*', 'DELETE/v1/pools/vpc-vni/owners/*', 'PATCH/v1/pools/vpc-vni/owners/*'].sort(),
    );
  });

  it('fails the synth on a bad value, naming the key', () => {
    const fails = (poolAccess: unknown, message: RegExp) => expect(() => defineResourcePoolsApp(newApp({ poolAccess })), JSON.stringify(poolAccess)).toThrow(message);
    fails('{"ops": [', /^context poolAccess must be a JSON object such as \{"tenant-automation"/);
    fails('["vpc-vni"]', /^context poolAccess must be an object of name → pool names/);
    fails(42, /^context poolAccess must be an object/);
    fails({ 'bad name': ['vpc-vni'] }, /^context poolAccess: the name "bad name" must be 1-64 characters of A-Za-z0-9\._-/);
    fails({ '-ops': ['vpc-vni'] }, /the name "-ops" must be/);
    fails({ ops: 'vpc-vni' }, /^context poolAccess\.ops must be a non-empty list of pool names/);
    fails({ ops: [] }, /^context poolAccess\.ops must be a non-empty list/);
    fails({ ops: ['vpc-vni', '*'] }, /^context poolAccess\.ops\[1\] must be a pool name \(1-64 characters/);
    fails({ ops: ['../config'] }, /^context poolAccess\.ops\[0\] must be a pool name .*got "\.\.\/config"/);
    fails({ ops: ['vpc/vni'] }, /poolAccess\.ops\[0\]/);
    fails({ ops: [7] }, /poolAccess\.ops\[0\] must be a pool name .*got 7/);
    fails({ 'a-b': ['x'], 'a.b': ['y'] }, /the names "a-b" and "a\.b" would both be output as PoolAccessABPolicyArn/);
    const many = Array.from({ length: 9 }, (_, i) => `${'p'.repeat(62)}-${i}`);
    fails({ ops: many }, /^context poolAccess\.ops: 9 pools make a policy of up to \d+ characters, over IAM's 6144 for a managed policy; split the pools/);
    expect(() => defineResourcePoolsApp(newApp({ poolAccess: { ops: many.slice(0, 8) } }))).not.toThrow();
  });

  it('reports no unacknowledged cdk-nag finding, and acknowledges only findings that occur', () => {
    const stack = defineResourcePoolsApp(newApp({ poolAccess: POOL_ACCESS }));
    const app = stack.node.root as App;
    const audit = new AuditedAwsSolutionsChecks(app);
    Validations.of(app).addPlugins(audit);
    expect(nagFindings(app)).toEqual([]);
    const acks = acknowledgements(stack).filter((a) => a.path.includes('/PoolAccess/'));
    // Every read and the three wildcard routes per pool; POST …/allocations names no wildcard.
    expect(acks).toHaveLength(2 * 1 + 3 * 3);
    for (const a of acks) {
      expect(audit.findings.some((f) => f.id === a.id && f.path.startsWith(a.path)), `stale acknowledgement ${a.id} on ${a.path}`).toBe(true);
      expect(a.reason.length).toBeGreaterThan(40);
    }
  });
});

describe('alarms', () => {
  const topic = (s: Synthesized) => ({ Ref: s.id(s.stack.alarmTopic.topic) });

  it('all notify the one alarm topic, on alarm and on recovery', () => {
    for (const s of [base(), site()]) {
      const alarms = Object.values(s.resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
      // max utilization, exhausted, sync failures, dead letters, 3 function errors, API 5xx, throttles
      expect(alarms).toHaveLength(9 + (s === site() ? SITE_POOLS.length : 0));
      for (const a of alarms) {
        expect(a.Properties!.AlarmActions).toEqual([topic(s)]);
        expect(a.Properties!.OKActions).toEqual([topic(s)]);
        expect(a.Properties!.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
        expect(a.Properties!.AlarmDescription).toEqual(expect.any(String));
      }
    }
  });

  it('watch the highest utilization of any pool at the default threshold, and notify when reporting stops', () => {
    const [max] = alarmsOn(base().resources, 'MaxPoolUtilization');
    expect(max).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      Statistic: 'Maximum',
      Period: 60,
      Threshold: DEFAULT_UTILIZATION_ALARM_PERCENT,
      EvaluationPeriods: 5,
      DatapointsToAlarm: 3,
      TreatMissingData: 'missing',
      InsufficientDataActions: [topic(base())],
    });
    expect(max.Dimensions).toBeUndefined();
    expect(alarmsOn(base().resources, 'PoolUtilization')).toEqual([]);
  });

  it('watch each pool of the poolsFile, at the threshold from context', () => {
    const perPool = alarmsOn(site().resources, 'PoolUtilization');
    expect(perPool.map((a) => (a.Dimensions as Json[])[0].Value).sort()).toEqual([...SITE_POOLS].sort());
    expect(SITE_POOLS).toHaveLength(6);
    for (const a of perPool) {
      expect(a).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        Dimensions: [{ Name: 'Pool', Value: expect.any(String) }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 75,
        EvaluationPeriods: 5,
        DatapointsToAlarm: 3,
        TreatMissingData: 'missing',
      });
      expect(a.InsufficientDataActions).toBeUndefined();
    }
    expect(alarmsOn(site().resources, 'MaxPoolUtilization')[0].Threshold).toBe(75);
  });

  it('fire on any exhaustion and any rejected config, with no dimension', () => {
    for (const metric of ['AllocationsExhausted', 'ConfigSyncFailures']) {
      const [alarm, ...rest] = alarmsOn(base().resources, metric);
      expect(rest).toEqual([]);
      expect(alarm).toMatchObject({
        Namespace: METRICS_NAMESPACE,
        Statistic: 'Sum',
        Period: 60,
        Threshold: 1,
        EvaluationPeriods: 1,
        TreatMissingData: 'notBreaching',
      });
      expect(alarm.Dimensions).toBeUndefined();
    }
  });

  it('watch only metrics the handlers emit: names of lib/telemetry.ts, with no dimension or only Pool', () => {
    const ours = Object.values(site().resources)
      .filter((r) => r.Type === 'AWS::CloudWatch::Alarm' && r.Properties!.Namespace === METRICS_NAMESPACE)
      .map((r) => r.Properties!);
    expect(ours).toHaveLength(3 + SITE_POOLS.length);
    for (const alarm of ours) {
      expect(Object.values(Metric), String(alarm.MetricName)).toContain(alarm.MetricName);
      expect(asList(alarm.Dimensions as Json[]).map((d) => d.Name), String(alarm.MetricName)).toEqual(
        alarm.MetricName === Metric.PoolUtilization ? [POOL_DIMENSION] : [],
      );
    }
  });

  it('fire on any message in the dead-letter queue', () => {
    const [alarm] = alarmsOn(base().resources, 'ApproximateNumberOfMessagesVisible');
    expect(alarm).toMatchObject({
      Namespace: 'AWS/SQS',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [base().id(base().stack.configSync.deadLetterQueue), 'QueueName'] } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('fire on errors of each function', () => {
    const alarms = alarmsOn(base().resources, 'Errors');
    const fns = [base().stack.apiFunction, base().stack.configSync.function, base().stack.metricsReporter.function];
    expect(alarms.map((a) => (a.Dimensions as Json[])[0].Value)).toEqual(
      expect.arrayContaining(fns.map((f) => ({ Ref: base().id(f.function) }))),
    );
    expect(alarms).toHaveLength(3);
    for (const a of alarms) {
      expect(a).toMatchObject({ Namespace: 'AWS/Lambda', Statistic: 'Sum', Period: 60, Threshold: 1, TreatMissingData: 'notBreaching' });
    }
  });

  it('fire on any API 5xx', () => {
    const [alarm] = alarmsOn(base().resources, '5xx');
    expect(alarm).toMatchObject({
      Namespace: 'AWS/ApiGateway',
      Dimensions: [{ Name: 'ApiId', Value: { Ref: base().id(base().stack.api.api) } }],
      Statistic: 'Sum',
      Period: 60,
      Threshold: 1,
      TreatMissingData: 'notBreaching',
    });
  });

  it('fire on any DynamoDB throttle of the table, whatever the operation', () => {
    const [alarm, ...rest] = alarmsOn(base().resources, 'ThrottledRequests');
    expect(rest).toEqual([]);
    expect(alarm).toMatchObject({ Threshold: 1, EvaluationPeriods: 1, TreatMissingData: 'notBreaching' });
    const metrics = alarm.Metrics as { Id: string; Expression?: string; MetricStat?: { Metric: Json; Stat: string; Period: number } }[];
    expect(metrics.length).toBeLessThanOrEqual(11); // CloudWatch: at most 10 metrics per alarm, plus the expression
    const tableRef = { Ref: base().id(base().stack.table.table) };
    const stats = metrics.filter((m) => m.MetricStat).map((m) => m.MetricStat!);
    for (const st of stats) {
      expect(st.Metric.Namespace).toBe('AWS/DynamoDB');
      expect(st.Metric.Dimensions).toEqual(expect.arrayContaining([{ Name: 'TableName', Value: tableRef }]));
      expect(st).toMatchObject({ Stat: 'Sum', Period: 60 });
    }
    const ops = stats
      .filter((st) => st.Metric.MetricName === 'ThrottledRequests')
      .map((st) => ((st.Metric.Dimensions as Json[]).find((d) => d.Name === 'Operation') as Json).Value);
    expect(ops).toEqual(expect.arrayContaining(storeOperations()));
    expect(stats.map((st) => st.Metric.MetricName)).toEqual(expect.arrayContaining(['ReadThrottleEvents', 'WriteThrottleEvents']));
    const expression = metrics.find((m) => m.Expression)!.Expression!;
    expect(expression).toMatch(/^SUM\(\[FILL\(/);
  });

  it('publish through an encrypted, TLS-only topic that CloudWatch may use, with the e-mail from context', () => {
    const topicId = base().id(base().stack.alarmTopic.topic);
    const keyId = base().id(base().stack.alarmTopic.key);
    expect(base().resources[topicId].Properties!.KmsMasterKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    expect(base().resources[keyId].Properties!.EnableKeyRotation).toBe(true);
    base().template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({ Principal: { Service: 'cloudwatch.amazonaws.com' }, Action: ['kms:Decrypt', 'kms:GenerateDataKey*'] }),
        ]),
      },
    });
    // The topic policy replaces SNS's default one: it must let this account's alarms publish.
    base().template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      Topics: [{ Ref: topicId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          {
            Sid: 'CloudWatchAlarmsPublish',
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Resource: { Ref: topicId },
            Condition: {
              StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } },
              ArnLike: { 'aws:SourceArn': Match.anyValue() },
            },
          },
        ]),
      },
    });
    const policy = Object.values(base().resources).find((r) => r.Type === 'AWS::SNS::TopicPolicy')!;
    const publish = ((policy.Properties!.PolicyDocument as Json).Statement as Json[]).find((st) => st.Sid === 'CloudWatchAlarmsPublish')!;
    expect(text(((publish.Condition as Json).ArnLike as Json)['aws:SourceArn'])).toBe('arn:${AWS::Partition}:cloudwatch:${AWS::Region}:${AWS::AccountId}:alarm:*');
    base().template.resourceCountIs('AWS::SNS::Subscription', 0);
    site().template.hasResourceProperties('AWS::SNS::Subscription', {
      Protocol: 'email',
      Endpoint: 'noc@example.com',
      TopicArn: { Ref: site().id(site().stack.alarmTopic.topic) },
    });
  });
});

describe('dashboard', () => {
  it('shows utilization, allocations and releases, latency, errors and config syncs', () => {
    base().template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
    const body = text(Object.values(site().resources).find((r) => r.Type === 'AWS::CloudWatch::Dashboard')!.Properties!.DashboardBody);
    for (const metric of [
      'PoolUtilization', 'MaxPoolUtilization', 'Allocations', 'Releases', 'AllocationLatency', 'Latency',
      'Errors', '4xx', '5xx', 'AllocationsExhausted', 'ThrottledRequests', 'ConfigSyncs', 'ConfigSyncFailures',
      'ApproximateNumberOfMessagesVisible',
    ]) {
      expect(body, metric).toContain(`"${metric}"`);
    }
    expect(body).toContain('"p99"');
    expect(body).toContain('SEARCH(');
    for (const pool of SITE_POOLS) expect(body, pool).toContain(`"Pool","${pool}"`);
  });
});

describe('site pools file (context poolsFile)', () => {
  it('is uploaded to the config bucket once the notification and config-sync exist', () => {
    const uploads = Object.entries(site().resources).filter(([, r]) => r.Type === 'Custom::SitePoolsUpload');
    expect(uploads).toHaveLength(1);
    const [, upload] = uploads[0];
    const call = JSON.parse(text(upload.Properties!.Create)) as Json;
    expect(call).toMatchObject({
      service: 'S3',
      action: 'putObject',
      parameters: { Key: 'pools/site.toml', Body: readFileSync(POOLS_FILE, 'utf8'), Bucket: `\${${site().id(site().stack.configBucket.bucket)}}` },
    });
    expect(text(upload.Properties!.Update)).toBe(text(upload.Properties!.Create));
    const notifications = Object.entries(site().resources).find(([, r]) => r.Type === 'Custom::S3BucketNotifications')![0];
    const syncPolicy = site().id({ node: { defaultChild: site().stack.configSync.function.role.node.findChild('DefaultPolicy').node.defaultChild } });
    expect(upload.DependsOn).toEqual(
      expect.arrayContaining([notifications, site().id(site().stack.configSync.function.function), syncPolicy]),
    );
    const uploadPolicy = Object.values(site().resources).filter(
      (r) => r.Type === 'AWS::IAM::Policy' && text(r.Properties!.PolicyDocument).includes('s3:PutObject'),
    );
    expect(uploadPolicy).toHaveLength(1);
    expect((uploadPolicy[0].Properties!.PolicyDocument as Json).Statement).toEqual([
      {
        Effect: 'Allow',
        Action: 's3:PutObject',
        Resource: { 'Fn::Join': ['', [{ 'Fn::GetAtt': [site().id(site().stack.configBucket.bucket), 'Arn'] }, '/pools/site.toml']] },
      },
    ]);
    base().template.resourceCountIs('Custom::SitePoolsUpload', 0);
  });

  it('fails the synth with every error at its place when invalid', () => {
    const dir = mkdtempSync(join(tmpdir(), 'rp-pools-'));
    outdirs.push(dir);
    const bad = join(dir, 'bad.toml');
    writeFileSync(bad, '[pools.bad]\ntype = "integer"\nranges = [{ start = 10, end = 5 }]\n\n[pools.worse]\ntype = "ipv5"\n');
    let message = '';
    try {
      defineResourcePoolsApp(newApp({ poolsFile: bad }));
    } catch (e) {
      message = (e as Error).message;
    }
    expect(message).toContain(`poolsFile ${bad} is invalid`);
    expect(message).toContain('pools.bad.ranges[0].end: end 5 must be greater than start 10');
    expect(message).toContain('pools.worse.type:');
    expect(() => defineResourcePoolsApp(newApp({ poolsFile: join(dir, 'missing.toml') }))).toThrow(/cannot read it/);
    // Planned as config-sync plans it on a fresh table: a pool over MAX_POOL_SIZE fails here, not at deploy.
    expect(() => defineResourcePoolsApp(newApp({ poolsFile: POOLS_FILE, maxPoolSize: '1000' }))).toThrow(
      /pools\.tenant-vlan: pool 'tenant-vlan' would hold 4083 values, more than MAX_POOL_SIZE \(1000\)/,
    );
  });

  it('rejects malformed numeric context', () => {
    expect(() => defineResourcePoolsApp(newApp({ utilizationAlarmPercent: 'eighty' }))).toThrow(/utilizationAlarmPercent/);
    expect(() => defineResourcePoolsApp(newApp({ utilizationAlarmPercent: 120 }))).toThrow(/utilizationAlarmPercent/);
    expect(() => defineResourcePoolsApp(newApp({ maxPoolSize: '-5' }))).toThrow(/maxPoolSize/);
    // Beyond what the handlers accept, every one of them would fail at start.
    expect(() => defineResourcePoolsApp(newApp({ maxPoolSize: String(MAX_POOL_SIZE_CEILING + 1) }))).toThrow(/maxPoolSize/);
    expect(() => defineResourcePoolsApp(newApp({ maxPoolSize: MAX_POOL_SIZE_CEILING }))).not.toThrow();
    expect(() => defineResourcePoolsApp(newApp({ alarmEmail: 'not-an-address' }))).toThrow(/alarmEmail/);
  });
});

/** The findings acknowledged in the tree, from the metadata `Validations.of(c).acknowledge()` writes. */
function acknowledgements(scope: Stack): { path: string; id: string; reason: string }[] {
  const acks: { path: string; id: string; reason: string }[] = [];
  for (const c of scope.node.findAll()) {
    for (const entry of c.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        acks.push({ path: c.node.path, id: id.replace(/^annotation::/i, ''), reason });
      }
    }
  }
  return acks;
}

/** The AWS Solutions pack, recording what it checks: every rule, the rules that apply here, every finding. */
class AuditedAwsSolutionsChecks extends AwsSolutionsChecks {
  readonly rules = new Set<string>();
  readonly applicable = new Set<string>();
  readonly resources = new Set<string>();
  readonly findings: { id: string; path: string }[] = [];

  protected override applyRule(params: IApplyRule): void {
    const suffix = params.ruleSuffixOverride ?? params.rule.name;
    const ruleId = `${this.readPackName}-${suffix}`;
    this.rules.add(ruleId);
    this.resources.add(params.node.node.path);
    const check = params.rule;
    super.applyRule({
      ...params,
      ruleSuffixOverride: suffix,
      rule: (node) => {
        let result: NagRuleResult;
        try {
          result = check(node);
        } catch (e) {
          this.findings.push({ id: ruleId, path: node.node.path });
          throw e;
        }
        if (result !== NagRuleCompliance.NOT_APPLICABLE) this.applicable.add(ruleId);
        if (result === NagRuleCompliance.NON_COMPLIANT) this.findings.push({ id: ruleId, path: node.node.path });
        if (Array.isArray(result)) for (const f of result) this.findings.push({ id: `${ruleId}[${f}]`, path: node.node.path });
        return result;
      },
    });
  }
}

describe('cdk-nag (AWS Solutions)', () => {
  it('reports no unacknowledged finding, with or without a pools file', () => {
    expect(nagFindings(defineResourcePoolsApp(newApp()).node.root as App)).toEqual([]);
    expect(nagFindings(defineResourcePoolsApp(newApp({ poolsFile: POOLS_FILE })).node.root as App)).toEqual([]);
  });

  it('would report a finding: the check above can fail', () => {
    const app = newApp();
    const stack = new Stack(app, 'Canary');
    new Bucket(stack, 'PlainBucket');
    const role = new Role(stack, 'WideRole', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    role.addToPolicy(new PolicyStatement({ actions: ['dynamodb:*'], resources: ['*'] }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
    const findings = nagFindings(app);
    expect(findings).toEqual(
      expect.arrayContaining([
        'AwsSolutions-S1 @ Canary/PlainBucket/Resource',
        'AwsSolutions-S10 @ Canary/PlainBucket/Resource',
        'AwsSolutions-IAM5[Action::dynamodb:*] @ Canary/WideRole/DefaultPolicy/Resource',
      ]),
    );
  });

  it('acknowledges only findings that occur, each on the construct that raises it (summary printed)', () => {
    const stack = defineResourcePoolsApp(newApp({ poolsFile: POOLS_FILE }));
    const app = stack.node.root as App;
    const audit = new AuditedAwsSolutionsChecks(app);
    Validations.of(app).addPlugins(audit);
    expect(nagFindings(app)).toEqual([]);

    const acks = acknowledgements(stack);
    const covers = (a: { path: string; id: string }, f: { path: string; id: string }) =>
      f.id === a.id && (f.path === a.path || f.path.startsWith(`${a.path}/`));
    for (const a of acks) {
      expect(audit.findings.some((f) => covers(a, f)), `stale acknowledgement ${a.id} on ${a.path}`).toBe(true);
    }
    for (const f of audit.findings) expect(acks.some((a) => covers(a, f)), `${f.id} on ${f.path}`).toBe(true);
    expect(audit.rules.size).toBeGreaterThan(100);

    const shortPath = (path: string) => path.replace(`${stack.node.path}/`, '');
    console.log(
      [
        `cdk-nag AwsSolutions: ${audit.rules.size} rules checked on ${audit.resources.size} resources, ` +
          `${audit.applicable.size} of them applicable; ${audit.findings.length} findings, all acknowledged; 0 unacknowledged.`,
        ...acks.map((a) => `  ${a.id} @ ${shortPath(a.path)} (${audit.findings.filter((f) => covers(a, f)).length}): ${a.reason}`),
      ].join('\n'),
    );
  });

  it('gives every acknowledgement a reason, on a construct inside the stack', () => {
    const stack = defineResourcePoolsApp(newApp({ poolsFile: POOLS_FILE }));
    const acks = acknowledgements(stack);
    expect(acks.length).toBeGreaterThan(5);
    for (const a of acks) {
      expect(a.id, a.path).toMatch(/AwsSolutions-/);
      expect(a.reason.length, `${a.path} ${a.id}`).toBeGreaterThan(40);
      expect(a.path, 'acknowledged on the construct that raises it, not on the stack').not.toBe(stack.node.path);
    }
  });
});
