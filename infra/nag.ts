/**
 * Helpers to acknowledge cdk-nag findings precisely. cdk-nag 3 names a wildcard finding after the
 * resource as it appears in the template, with references as `<LogicalId>` and `<LogicalId.Arn>`; these
 * build those names from the constructs, so an acknowledgement keeps naming exactly one finding when a
 * construct (and with it a logical ID) is renamed.
 */
import { type CfnElement, Stack, Validations } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';

/** cdk-nag's rendering of `{ Ref: <resource> }`. */
export function nagRef(resource: CfnElement): string {
  return `<${Stack.of(resource).resolve(resource.logicalId)}>`;
}

/** cdk-nag's rendering of `{ Fn::GetAtt: [<resource>, Arn] }`. */
export function nagArn(resource: CfnElement): string {
  return `<${Stack.of(resource).resolve(resource.logicalId)}.Arn>`;
}

/** Acknowledges one AwsSolutions finding (`IAM5[Resource::…]`, `IAM4[Policy::…]`, `S1`…) on `scope`. */
export function acknowledge(scope: IConstruct, finding: string, reason: string): void {
  Validations.of(scope).acknowledge({ id: `AwsSolutions-${finding}`, reason });
}

/** The AWS managed policy CDK gives the Lambda functions it creates for itself. */
export const BASIC_EXECUTION_POLICY_FINDING =
  'IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]';
