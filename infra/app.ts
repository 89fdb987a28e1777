// The CDK app (cdk.json: `npx tsx infra/app.ts`). Context: poolsFile, maxPoolSize, utilizationAlarmPercent,
// alarmEmail, poolAccess (see resource-pools-app.ts).
import { App } from 'aws-cdk-lib';
import { ContextError, defineResourcePoolsApp } from './resource-pools-app.js';
import { SitePoolsError } from './site-pools.js';

try {
  defineResourcePoolsApp(new App());
} catch (err) {
  // A bad pools file or context value is the operator's input, not a bug: its message is the whole story.
  if (!(err instanceof SitePoolsError || err instanceof ContextError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
}
