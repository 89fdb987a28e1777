// Lint rules, including the layering: lib/ is the product and knows nothing of Lambda, HTTP adapters
// or CDK; config and value math import no AWS package at all.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const noAdapters = {
  group: ['**/functions/**', '**/infra/**', '**/cli/**', '**/local/**', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
  message: 'lib/ is the product: it must not import functions/, infra/, cli/, local/ or CDK.',
};
const noAws = {
  group: ['@aws-sdk/*', '@smithy/*', '@aws-lambda-powertools/*', 'aws-lambda'],
  message: 'Config, value math and planning are pure: no AWS imports.',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '.data/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['lib/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noAdapters] }] },
  },
  {
    // Everything in lib/ but the store (lib/store/) and the registration path that drives it.
    files: ['lib/**/*.ts'],
    ignores: ['lib/store/**', 'lib/registration.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noAdapters, noAws] }] },
  },
  {
    files: ['infra/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        { patterns: [{ group: ['**/cli/**', '**/local/**'], message: 'infra/ holds CDK only.' }] },
      ],
    },
  },
);
