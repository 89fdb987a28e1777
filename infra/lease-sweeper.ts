import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { AllocationTable } from './allocation-table.js';
import { ServiceFunction } from './service-function.js';

export interface LeaseSweeperProps {
  readonly table: AllocationTable;
  /** Environment shared by every handler (TABLE_NAME, MAX_POOL_SIZE); HISTORY_DAYS for the `expired` entries. */
  readonly environment: Record<string, string>;
  readonly logRetention?: RetentionDays;
}

/**
 * Releases allocations whose lease ran out, once a minute (so within two minutes of the expiry, the
 * index's lag included), each with an `expired` history entry. It may query only the lease index,
 * read items, and write what an expiry's transaction holds (lib/store/expire.ts).
 */
export class LeaseSweeper extends Construct {
  readonly function: ServiceFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: LeaseSweeperProps) {
    super(scope, id);

    this.function = new ServiceFunction(this, 'Handler', {
      handlerFile: 'lease-sweeper.ts',
      description: 'Releases allocations whose lease ran out, every minute',
      // A run stops taking records after 40 s (SWEEP_BUDGET_MS); the one in flight gets its own budget.
      timeout: Duration.seconds(55),
      logRetention: props.logRetention,
      environment: props.environment,
      // A failed run is followed by the next minute's, which finds the same records: no retry needed.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    });
    props.table.grantLeaseSweep(this.function);

    this.schedule = new Rule(this, 'EveryMinute', {
      description: 'Triggers the resource-pools lease sweeper',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
  }
}
