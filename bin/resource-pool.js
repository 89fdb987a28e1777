#!/usr/bin/env node
// The `resource-pool` bin: the CLI compiled to dist/cli by `npm run build:cli`, which `npm ci` and
// `npm install` run (the `prepare` script). Plain JavaScript at run time: transpiling TypeScript at
// every call cost seconds.
import { existsSync } from 'node:fs';
import process from 'node:process';
import { URL } from 'node:url';

const main = new URL('../dist/cli/main.js', import.meta.url);
if (existsSync(main)) {
  await import(main.href);
} else {
  process.stderr.write('resource-pool: the CLI is not built (dist/cli/main.js is missing): run `npm run build:cli` in the resource-pools checkout (`npm ci` does it)\n');
  process.exitCode = 2;
}
