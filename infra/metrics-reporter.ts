import { Duration } from 'aws-cdk-lib';
import { Rule, Schedule } from 'aws-cdk-lib/aws-events';
import { LambdaFunction } from 'aws-cdk-lib/aws-events-targets';
import type { RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import type { AllocationTable } from './allocation-table.js';
import { ServiceFunction } from './service-function.js';

export interface MetricsReporterProps {
  readonly table: AllocationTable;
  readonly environment: Record<string, string>;
  readonly logRetention?: RetentionDays;
}

/**
 * Reports size, use and utilization of every pool once a minute, so idle pools still report and the
 * utilization alarms see fresh data. Reads only.
 */
export class MetricsReporter extends Construct {
  readonly function: ServiceFunction;
  readonly schedule: Rule;

  constructor(scope: Construct, id: string, props: MetricsReporterProps) {
    super(scope, id);

    this.function = new ServiceFunction(this, 'Handler', {
      handlerFile: 'metrics.ts',
      description: 'Reports pool size, use and utilization to CloudWatch every minute',
      timeout: Duration.seconds(50),
      logRetention: props.logRetention,
      environment: props.environment,
      // A run that failed is superseded by the next minute's: retrying it would only report stale figures.
      retryAttempts: 0,
      maxEventAge: Duration.minutes(1),
    });
    props.table.grantReadData(this.function);

    this.schedule = new Rule(this, 'EveryMinute', {
      description: 'Triggers the resource-pools metrics reporter',
      schedule: Schedule.rate(Duration.minutes(1)),
      targets: [new LambdaFunction(this.function.function, { retryAttempts: 0, maxEventAge: Duration.minutes(1) })],
    });
  }
}
