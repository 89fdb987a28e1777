// cdk-nag (AWS Solutions) on the CDK app: no unacknowledged finding, the check can fail, and every
// acknowledgement is of a finding that occurs, with a reason, on the construct that raises it.
import { type App, Stack, Validations } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Bucket } from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, describe, expect, it } from 'vitest';
import { defineResourcePoolsApp } from '../../infra/resource-pools-app.js';
import { newApp, POOLS_FILE, removeOutdirs } from '../support/infra-app.js';
import { acknowledgements, AuditedAwsSolutionsChecks, nagFindings } from '../support/infra-nag.js';

afterAll(removeOutdirs);

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
