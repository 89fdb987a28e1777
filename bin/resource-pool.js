#!/usr/bin/env node
// Runs the TypeScript CLI through tsx so that `npx resource-pool` needs no build step.
import { tsImport } from 'tsx/esm/api';

await tsImport('../cli/main.ts', import.meta.url);
