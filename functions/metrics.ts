// TEMPORARY STUB from the infra helper: replace with the real handler
// Lets the CDK app bundle and synthesize before the metrics reporter exists; reports nothing.
import type { ScheduledEvent } from 'aws-lambda';

export const handler = async (_event: ScheduledEvent): Promise<void> => {};
