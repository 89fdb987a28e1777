// Placeholder until the infrastructure issue lands: the CDK app is not built yet.
process.stderr.write('infra/app.ts: the CDK app is not built yet (see the infrastructure issue)\n');
process.exit(1);
