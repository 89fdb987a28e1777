// TEMPORARY STUB from the infra helper: replace with the real handler
// Lets the CDK app bundle and synthesize before config-sync exists; fails so no upload is taken as applied.
import type { S3Event } from 'aws-lambda';

export const handler = async (event: S3Event): Promise<void> => {
  throw new Error(`config-sync is not built yet; ${event.Records.length} record(s) not applied`);
};
