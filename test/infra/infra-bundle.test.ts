// The one infra test that bundles the Lambda handlers for real (local esbuild, no Docker), to hold the
// API handler to its size budget and to check that each bundle loads as an ES module.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { App, type CfnElement } from 'aws-cdk-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineResourcePoolsApp } from '../../infra/resource-pools-app.js';
import type { ServiceFunction } from '../../infra/service-function.js';

/** The budget of the issue: the bundled API handler stays under 500 KB. */
const API_BUNDLE_BUDGET_BYTES = 500_000;

// Inside the project, so that the bundles' external `@aws-sdk/*` imports resolve from node_modules when
// loaded, as the Lambda runtime resolves them from its own copy.
const outdir = mkdtempSync(join(process.cwd(), 'node_modules', '.cache-infra-bundle-test-'));
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

interface Bundle {
  dir: string;
  bytes: number;
  mapBytes: number;
}
const bundles: Record<string, Bundle> = {};

beforeAll(() => {
  const app = new App({ outdir, builtinCloudFormationValidation: false });
  const stack = defineResourcePoolsApp(app);
  const assembly = app.synth();
  const template = assembly.getStackArtifact(stack.artifactId).template as {
    Resources: Record<string, { Properties: { Code: { S3Key: string } } }>;
  };
  const functions: Record<string, ServiceFunction> = {
    api: stack.apiFunction,
    'config-sync': stack.configSync.function,
    metrics: stack.metricsReporter.function,
    history: stack.historyRecorder.function,
  };
  for (const [name, fn] of Object.entries(functions)) {
    const logicalId = stack.resolve((fn.function.node.defaultChild as CfnElement).logicalId) as string;
    const hash = template.Resources[logicalId].Properties.Code.S3Key.replace(/\.zip$/, '');
    const dir = join(outdir, `asset.${hash}`);
    bundles[name] = { dir, bytes: statSync(join(dir, 'index.mjs')).size, mapBytes: statSync(join(dir, 'index.mjs.map')).size };
  }
  const kb = (n: number) => `${(n / 1000).toFixed(1)} KB`;
  console.log(
    `Lambda bundles (minified ESM, @aws-sdk external):\n${Object.entries(bundles)
      .map(([name, b]) => `  ${name.padEnd(12)} index.mjs ${kb(b.bytes).padStart(9)}   source map ${kb(b.mapBytes).padStart(9)}`)
      .join('\n')}`,
  );
}, 120_000);

describe('Lambda bundles', () => {
  it(`keeps the API handler under ${API_BUNDLE_BUDGET_BYTES / 1000} KB`, () => {
    expect(bundles.api.bytes).toBeGreaterThan(0);
    expect(bundles.api.bytes).toBeLessThan(API_BUNDLE_BUDGET_BYTES);
  });

  it('writes minified ES modules with a require shim and a source map, and leaves the AWS SDK to the runtime', () => {
    for (const [name, b] of Object.entries(bundles)) {
      const code = readFileSync(join(b.dir, 'index.mjs'), 'utf8');
      // Minified: whole modules on one line (only template literals keep their line breaks); unminified
      // esbuild output averages about 40 characters a line.
      expect(code.length / code.split('\n').length, `${name} is minified`).toBeGreaterThan(500);
      expect(code.startsWith("import { createRequire as __cjsRequire } from 'node:module';"), name).toBe(true);
      expect(code.trimEnd().endsWith('//# sourceMappingURL=index.mjs.map'), name).toBe(true);
      // Every SDK v3 client inlines its user-agent prefix; kept external, only `from"@aws-sdk/…"` remains.
      expect(code.includes('aws-sdk-js'), `${name} inlines the AWS SDK`).toBe(false);
    }
  });

  it('each bundle loads and exports a handler function', async () => {
    const env = { TABLE_NAME: 'resource-pools-test', CONFIG_BUCKET: 'resource-pools-test', AWS_REGION: 'us-east-1' };
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    try {
      for (const [name, b] of Object.entries(bundles)) {
        const mod = (await import(pathToFileURL(join(b.dir, 'index.mjs')).href)) as { handler?: unknown };
        expect(typeof mod.handler, name).toBe('function');
      }
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });
});
