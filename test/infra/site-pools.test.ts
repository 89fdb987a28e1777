// The site's pools file (context poolsFile) in the CDK app: uploaded to the config bucket, and
// checked at synth as config-sync would plan it; the app's other numeric and e-mail context.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MAX_POOL_SIZE_CEILING } from '../../lib/plan.js';
import { defineResourcePoolsApp } from '../../infra/resource-pools-app.js';
import { base, type Json, newApp, outdirs, POOLS_FILE, removeOutdirs, site, text } from '../support/infra-app.js';

afterAll(removeOutdirs);

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
      /pools\.tenant-vlan: pool 'tenant-vlan' would hold 4,083 values, more than context maxPoolSize \(1,000\); split it into several pools or raise context maxPoolSize to 4,083 or more/,
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
