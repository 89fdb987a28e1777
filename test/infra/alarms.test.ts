// The alarms of the CDK app and the topic they notify: utilization, exhaustion, rejected configs,
// dead letters, function errors, API 5xx and DynamoDB throttles.
import { Match } from 'aws-cdk-lib/assertions';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_UTILIZATION_ALARM_PERCENT, METRICS_NAMESPACE, Metric, POOL_DIMENSION } from '../../lib/telemetry.js';
import { alarmsOn, asList, base, type Json, removeOutdirs, site, SITE_POOLS, type Synthesized, text } from '../support/infra-app.js';
import { storeOperations } from '../support/infra-iam.js';

afterAll(removeOutdirs);

describe('alarms', () => {
  const topic = (s: Synthesized) => ({ Ref: s.id(s.stack.alarmTopic.topic) });

  it('all notify the one alarm topic, on alarm and on recovery', () => {
    for (const s of [base(), site()]) {
      const alarms = Object.values(s.resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
      // max utilization, exhausted, sync failures, 2 dead-letter queues, history lag, 5 function errors, API 5xx, throttles
      expect(alarms).toHaveLength(13 + (s === site() ? SITE_POOLS.length : 0));
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
    expect(SITE_POOLS).toHaveLength(7);
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

  it('fire on any message in either dead-letter queue (config-sync, history)', () => {
    const alarms = alarmsOn(base().resources, 'ApproximateNumberOfMessagesVisible');
    expect(alarms).toHaveLength(2);
    const queues = [base().stack.configSync.deadLetterQueue, base().stack.historyRecorder.deadLetterQueue];
    for (const [i, queue] of queues.entries()) {
      expect(alarms[i]).toMatchObject({
        Namespace: 'AWS/SQS',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [base().id(queue), 'QueueName'] } }],
        Statistic: 'Maximum',
        Period: 60,
        Threshold: 1,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('fire when the history function stays a minute behind the table stream for five minutes', () => {
    const [lag, ...rest] = alarmsOn(base().resources, 'IteratorAge');
    expect(rest).toEqual([]);
    expect(lag).toMatchObject({
      Namespace: 'AWS/Lambda',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: base().id(base().stack.historyRecorder.function.function) } }],
      Statistic: 'Maximum',
      Period: 60,
      Threshold: 60_000,
      EvaluationPeriods: 5,
      TreatMissingData: 'notBreaching',
    });
  });

  it('fire on errors of each function', () => {
    const alarms = alarmsOn(base().resources, 'Errors');
    const fns = [base().stack.apiFunction, base().stack.configSync.function, base().stack.metricsReporter.function, base().stack.historyRecorder.function, base().stack.leaseSweeper.function];
    expect(alarms.map((a) => (a.Dimensions as Json[])[0].Value)).toEqual(
      expect.arrayContaining(fns.map((f) => ({ Ref: base().id(f.function) }))),
    );
    expect(alarms).toHaveLength(5);
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
