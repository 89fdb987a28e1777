// The functions of the CDK app and their IAM: runtime, environment, logs, schedule, and each
// role's grants exactly what it needs (the DynamoDB actions read from lib/store/'s source).
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { METRICS_NAMESPACE } from '../../lib/telemetry.js';
import { asList, base, type Json, removeOutdirs, site, synth, type Synthesized } from '../support/infra-app.js';
import { allStatements, type RolePermissions, rolePermissions, storeActions } from '../support/infra-iam.js';

afterAll(removeOutdirs);

describe('functions', () => {
  const each = (s: Synthesized) => ({
    api: s.stack.apiFunction,
    configSync: s.stack.configSync.function,
    metrics: s.stack.metricsReporter.function,
    leaseSweeper: s.stack.leaseSweeper.function,
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

  it('run the lease sweeper every minute, without retrying a run the next one supersedes, keeping its entries HISTORY_DAYS', () => {
    const s = synth({ historyDays: 30 });
    const fn = s.stack.leaseSweeper.function.function;
    s.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [s.id(fn), 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 0, MaximumEventAgeInSeconds: 60 } })],
    });
    const props = s.resources[s.id(fn)].Properties!;
    expect(((props.Environment as Json).Variables as Json).HISTORY_DAYS).toBe('30');
    expect(props.Handler).toBe('index.handler');
  });

  it('let the lease sweeper query the lease index only, read items and write what an expiry writes, nothing else', () => {
    const s = base();
    const table = s.id(s.stack.table.table);
    const sweeper = rolePermissions(s, s.id(s.stack.leaseSweeper.function.function));
    expect([...sweeper.refs].sort()).toEqual([table, s.id(s.stack.leaseSweeper.function.logGroup)].sort());
    // lib/store/expire.ts: Query (the index, and layout pages on the table), GetItem and BatchGetItem;
    // its transactions update chunks, delete records and put `expired` entries.
    const expected = ['dynamodb:BatchGetItem', 'dynamodb:DeleteItem', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'];
    const { reads, writes } = storeActions();
    expect([...reads, ...writes]).toEqual(expect.arrayContaining(expected));
    expect([...sweeper.actions].filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(expected);
    expect([...sweeper.actions].some((a) => !a.startsWith('dynamodb:') && !a.startsWith('logs:'))).toBe(false);
    const dynamodbGrants = [...sweeper.grants].filter((g) => g.startsWith('dynamodb:')).sort();
    expect(dynamodbGrants).toEqual(expected.flatMap((a) => [`${a} on \${${table}.Arn}`, `${a} on \${${table}.Arn}/index/by-expiry`]).sort());
  });

  it('give each function only its own resources', () => {
    const fns = each(base());
    const table = base().id(base().stack.table.table);
    const bucket = base().id(base().stack.configBucket.bucket);
    const dlq = base().id(base().stack.configSync.deadLetterQueue);

    const { reads, writes: storeWrites } = storeActions();
    // BatchWriteItem writes history entries only (lib/store/history.ts): the history function's, granted apart (below).
    expect(storeWrites).toContain('dynamodb:BatchWriteItem');
    const writes = storeWrites.filter((w) => w !== 'dynamodb:BatchWriteItem');
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

  it('let the history function write history entries only, read its table stream, and put events of its own source on the default bus', () => {
    const s = base();
    const recorder = s.stack.historyRecorder;
    const fnId = s.id(recorder.function.function);
    const props = s.resources[fnId].Properties!;
    expect(((props.Environment as Json).Variables as Json)).toMatchObject({ TABLE_NAME: { Ref: s.id(s.stack.table.table) }, HISTORY_DAYS: '400', EVENT_BUS_NAME: 'default' });
    const roleId = ((props.Role as Json)['Fn::GetAtt'] as string[])[0];
    const statements = allStatements(s.resources)
      .filter(({ resource }) => asList(s.resources[resource].Properties!.Roles).some((x) => (x as Json).Ref === roleId))
      .map(({ statement }) => statement);
    const table = s.id(s.stack.table.table);
    const actionsOf = (st: Json) => asList(st.Action as string | string[]).sort();
    const writes = statements.find((st) => actionsOf(st).includes('dynamodb:BatchWriteItem'))!;
    expect(actionsOf(writes)).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:PutItem']);
    expect(writes.Resource).toEqual({ 'Fn::GetAtt': [table, 'Arn'] });
    expect(writes.Condition).toEqual({ 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['HIST#*'] } });
    const events = statements.find((st) => actionsOf(st).includes('events:PutEvents'))!;
    expect(actionsOf(events)).toEqual(['events:PutEvents']);
    expect(JSON.stringify(events.Resource)).toContain(':event-bus/default');
    expect(events.Condition).toEqual({ StringEquals: { 'events:source': 'resource-pools' } });
    // Nothing else of DynamoDB but the stream reads the event source grants.
    const dynamodb = statements.flatMap(actionsOf).filter((a) => a.startsWith('dynamodb:')).sort();
    expect(dynamodb).toEqual(['dynamodb:BatchWriteItem', 'dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator', 'dynamodb:ListStreams', 'dynamodb:PutItem']);
    const streamReads = statements.find((st) => actionsOf(st).includes('dynamodb:GetRecords'))!;
    expect(streamReads.Resource).toEqual({ 'Fn::GetAtt': [table, 'StreamArn'] });

    // The stream, the filters (allocation records and history entries only), the retries and the dead-letter queue.
    expect(s.resources[table].Properties!.StreamSpecification).toEqual({ StreamViewType: 'NEW_AND_OLD_IMAGES' });
    const [mapping, ...others] = Object.values(s.resources).filter((r) => r.Type === 'AWS::Lambda::EventSourceMapping');
    expect(others).toEqual([]);
    expect(mapping.Properties).toMatchObject({
      FunctionName: { Ref: fnId },
      EventSourceArn: { 'Fn::GetAtt': [table, 'StreamArn'] },
      StartingPosition: 'TRIM_HORIZON',
      BisectBatchOnFunctionError: true,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      MaximumRetryAttempts: 10,
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [s.id(recorder.deadLetterQueue), 'Arn'] } } },
    });
    const patterns = ((mapping.Properties!.FilterCriteria as Json).Filters as Json[]).map((f) => JSON.parse(f.Pattern as string));
    expect(patterns).toEqual([
      { dynamodb: { Keys: { pk: { S: [{ prefix: 'HOLD#' }] } } } },
      { dynamodb: { Keys: { pk: { S: [{ prefix: 'HIST#' }] } } } },
    ]);
  });

  it('pass context historyDays on as HISTORY_DAYS, to the history and API functions; refuse days out of range', () => {
    const s = synth({ historyDays: 30 });
    for (const fn of [s.stack.historyRecorder.function.function, s.stack.apiFunction.function]) {
      expect(((s.resources[s.id(fn)].Properties!.Environment as Json).Variables as Json).HISTORY_DAYS).toBe('30');
    }
    for (const bad of [0, 3651, 'forever', 1.5]) expect(() => synth({ historyDays: bad })).toThrow(/context historyDays must be a whole number of days from 1 to 3650/);
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
