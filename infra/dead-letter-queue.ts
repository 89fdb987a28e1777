import { Duration } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { acknowledge } from './nag.js';

/**
 * Where a function's events that still fail after Lambda's retries are parked: encrypted, TLS-only,
 * kept as long as SQS allows (time for someone to look), and alarmed on by infra/alarms.ts. It has no
 * dead-letter queue of its own, on purpose (cdk-nag SQS3): a person reads it.
 */
export function deadLetterQueue(scope: Construct, id: string, of: string): Queue {
  const queue = new Queue(scope, id, {
    encryption: QueueEncryption.SQS_MANAGED,
    enforceSSL: true,
    retentionPeriod: Duration.days(14),
  });
  acknowledge(queue, 'SQS3', `This queue is itself the dead-letter queue (on-failure destination) of ${of}; a message in it raises an alarm and is looked at by a person.`);
  return queue;
}
