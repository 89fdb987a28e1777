/**
 * The CDK app of infra/, synthesized for assertions on its template (bundling skipped;
 * test/infra/infra-bundle.test.ts bundles for real). Every app here runs cdk-nag as `npm run synth`
 * does, so any unacknowledged finding fails the synth behind each assertion too. A test file that
 * makes apps removes their output folders with `afterAll(removeOutdirs)`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { parsePoolsFile } from '../../lib/config.js';
import { defineResourcePoolsApp } from '../../infra/resource-pools-app.js';
import type { ResourcePoolsStack } from '../../infra/stack.js';

export const POOLS_FILE = 'config/pools.toml';
export const SITE_POOLS = parsePoolsFile(readFileSync(POOLS_FILE, 'utf8')).pools.map((p) => p.name);

export type Json = Record<string, unknown>;
export type Resources = Record<string, { Type: string; Properties?: Json; DependsOn?: string[]; DeletionPolicy?: string; UpdateReplacePolicy?: string }>;

export const outdirs: string[] = [];
export function newApp(context: Record<string, unknown> = {}): App {
  const outdir = mkdtempSync(join(tmpdir(), 'rp-infra-test-'));
  outdirs.push(outdir);
  return new App({
    outdir,
    // The built-in CloudFormation validation costs ~4 s per synth; `npm run synth` keeps it.
    builtinCloudFormationValidation: false,
    context: { 'aws:cdk:bundling-stacks': [], ...context },
  });
}

export function removeOutdirs(): void {
  for (const dir of outdirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export interface Synthesized {
  stack: ResourcePoolsStack;
  template: Template;
  resources: Resources;
  id: (construct: { node: { defaultChild?: unknown } }) => string;
}

export function synth(context: Record<string, unknown> = {}): Synthesized {
  const stack = defineResourcePoolsApp(newApp(context));
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Resources;
  const id = (construct: { node: { defaultChild?: unknown } }) =>
    stack.resolve((construct.node.defaultChild as CfnElement).logicalId) as string;
  return { stack, template, resources, id };
}

/** A template value as text: `${Logical}` for a Ref, `${Logical.Attr}` for a GetAtt, joins joined. */
export function text(value: unknown): string {
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

export const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function alarmsOn(resources: Resources, metricName: string): Json[] {
  return Object.values(resources)
    .filter((r) => r.Type === 'AWS::CloudWatch::Alarm')
    .map((r) => r.Properties!)
    .filter((p) => p.MetricName === metricName || JSON.stringify(p.Metrics ?? []).includes(`"MetricName":"${metricName}"`));
}

// Synthesized on first use, so that a synth failure (such as a cdk-nag finding) fails each test with its
// own message rather than one hook for the whole file.
let baseApp: Synthesized | undefined;
let siteApp: Synthesized | undefined;
export const base = (): Synthesized => (baseApp ??= synth());
export const site = (): Synthesized =>
  (siteApp ??= synth({ poolsFile: POOLS_FILE, utilizationAlarmPercent: '75', maxPoolSize: '1000000', alarmEmail: 'noc@example.com' }));
