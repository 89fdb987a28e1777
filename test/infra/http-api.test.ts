// The HTTP API of the CDK app and its callers' policies: routes, stage, the reader, allocator and
// admin policies against the app's route table, and the per-pool policies of context poolAccess.
import { type App, Validations } from 'aws-cdk-lib';
import { afterAll, describe, expect, it } from 'vitest';
import type { CallerRole } from '../../infra/caller-policies.js';
import { defineResourcePoolsApp } from '../../infra/resource-pools-app.js';
import { routes } from '../../functions/http/routes.js';
import { asList, base, type Json, newApp, removeOutdirs, synth, type Synthesized, text } from '../support/infra-app.js';
import { allowsRoute, iamPattern, reachesRoute } from '../support/infra-iam.js';
import { acknowledgements, AuditedAwsSolutionsChecks, nagFindings } from '../support/infra-nag.js';

afterAll(removeOutdirs);

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
      ['GET/v1/*', 'POST/v1/pools/*/allocations', 'DELETE/v1/pools/*/allocations/*', 'DELETE/v1/pools/*/owners/*', 'PATCH/v1/pools/*/owners/*', 'POST/v1/allocations', 'POST/v1/releases'].sort(),
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
    const allocations = ['POST /v1/pools/{pool}/allocations', 'DELETE /v1/pools/{pool}/allocations/{value}', 'DELETE /v1/pools/{pool}/owners/{owner}', 'PATCH /v1/pools/{pool}/owners/{owner}', 'POST /v1/allocations', 'POST /v1/releases'];
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
      // Except the pool's own PATCH and DELETE, which `PATCH|DELETE /v1/pools/*/owners/*` would reach
      // through `…/owners/x/../..`: IAM has no one-segment wildcard, so for these two the path rule alone
      // (tested in test/http/http-paths.test.ts) keeps an allocator out (docs/SECURITY.md).
      const onlyByThePathRule = role === 'allocator' ? ['PATCH /v1/pools/{pool}', 'DELETE /v1/pools/{pool}'] : [];
      const reachable = table.filter((r) => patterns.some((p) => reachesRoute(p, r.method, r.path))).map((r) => r.key);
      expect(reachable.filter((k) => !expected[role].includes(k) && !onlyByThePathRule.includes(k)), `${role} reaches through dot segments`).toEqual([]);
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
        // Allocating, releasing and labelling; retiring and importing are the admin's.
        const writes = method !== 'GET' && template.startsWith('/v1/pools/{pool}/') && !/\/(retire|import)$/.test(template);
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
