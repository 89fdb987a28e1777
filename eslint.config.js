// Lint rules, including the layering: lib/ is the product and knows nothing of Lambda, HTTP adapters
// or CDK; outside the store (lib/store/) it imports no AWS package at all; production code reaches the
// store only through its index. Promises are never left floating (type-aware rules), and no test is
// focused or skipped.
import js from '@eslint/js';
import vitest from '@vitest/eslint-plugin';
import tseslint from 'typescript-eslint';

const noAdapters = {
  group: ['**/functions/**', '**/infra/**', '**/cli/**', '**/local/**', 'aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
  message: 'lib/ is the product: it must not import functions/, infra/, cli/, local/ or CDK.',
};
const noAws = {
  group: ['@aws-sdk/*', '@smithy/*', '@aws-lambda-powertools/*', 'aws-lambda'],
  message: 'Outside lib/store/, lib/ is pure: config, value math, planning and registration import no AWS package.',
};
const noCli = { group: ['**/cli/**', '**/local/**'], message: 'infra/ holds CDK only: it must not import cli/ or local/.' };
/** lib/store/ but its index, and (for infra/) but keys.ts. */
const storeInternals = (...allowed) => ({
  group: ['**/lib/store/*', '!**/lib/store/index.js', ...allowed.map((file) => `!**/lib/store/${file}`)],
  message: `Production code imports the store through lib/store/index.js only${allowed.length ? ` (infra/ also lib/store/${allowed.join(', ')}: the attribute names of the CDK table)` : ''}.`,
});

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '.data/**', 'coverage/**', 'dist/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Type-aware rules on the TypeScript of tsconfig.json (the project service finds it per file).
    files: ['**/*.ts', '**/*.mts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
    },
  },
  {
    files: ['test/**/*.ts'],
    plugins: { vitest },
    // test.prop of @fast-check/vitest is vitest's test with one more method.
    settings: { vitest: { vitestImports: ['@fast-check/vitest'] } },
    rules: {
      'vitest/no-focused-tests': 'error',
      'vitest/no-disabled-tests': 'error',
      // The plugin does not follow a chain that ends in .prop(…)(…): test.only.prop, test.skip.prop.
      'no-restricted-syntax': [
        'error',
        {
          selector: "MemberExpression[property.name='prop'] MemberExpression[property.name=/^(only|skip)$/]",
          message: 'No focused or skipped property tests: a test runs in every run, or is removed.',
        },
      ],
    },
  },
  {
    files: ['lib/**/*.ts'],
    ignores: ['lib/store/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noAdapters, noAws] }] },
  },
  {
    files: ['lib/store/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noAdapters] }] },
  },
  {
    files: ['functions/**/*.ts', 'cli/**/*.ts', 'local/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [storeInternals()] }] },
  },
  {
    files: ['infra/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [noCli, storeInternals('keys.js')] }] },
  },
);
