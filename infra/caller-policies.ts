import { type CfnApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type PoolsHttpApi, STAGE_NAME } from './http-api.js';
import { acknowledge, nagRef } from './nag.js';

type Route = readonly [HttpMethod | '*', string];

/**
 * What each kind of caller may invoke; paths are IAM patterns (`*` spans segments).
 *
 * Every GET is one pattern on purpose. The API handler resolves `.` and `..` path segments (it serves
 * GET /v1/pools/../check as GET /v1/check), so a reader pattern that allowed GET /v1/pools/* but not
 * GET /v1/check would hold only if API Gateway normalized paths before authorizing them, which has not
 * been verified. The allocator's patterns do not depend on it: a path ending in /allocations still ends
 * in /allocations once resolved, and every DELETE route the API has is one an allocator may call.
 */
export const CALLER_ROUTES = {
  /** Every GET under /v1: pools, allocations, config syncs, health, check, the OpenAPI document. */
  reader: [[HttpMethod.GET, '/v1/*']],
  /** Reads, plus allocating and releasing values (by value or by owner). */
  allocator: [
    [HttpMethod.GET, '/v1/*'],
    [HttpMethod.POST, '/v1/pools/*/allocations'],
    [HttpMethod.DELETE, '/v1/pools/*/allocations/*'],
    [HttpMethod.DELETE, '/v1/pools/*/owners/*'],
  ],
  /** The whole API, including POST /v1/config (registering and growing pools). */
  admin: [['*', '/*']],
} as const satisfies Record<string, readonly Route[]>;

export type CallerRole = keyof typeof CALLER_ROUTES;

const DESCRIPTIONS: Record<CallerRole, string> = {
  reader: 'resource-pools: read pools, allocations and config syncs',
  allocator: 'resource-pools: read, allocate and release values',
  admin: 'resource-pools: everything, including applying pool config (POST /v1/config)',
};

export interface CallerPoliciesProps {
  readonly api: PoolsHttpApi;
}

/**
 * Managed policies to attach to the roles and users that call the API: the API is IAM-authorized, so
 * these are its access levels. Each allows `execute-api:Invoke` on this API's routes only.
 */
export class CallerPolicies extends Construct {
  readonly policies: Record<CallerRole, ManagedPolicy>;

  constructor(scope: Construct, id: string, props: CallerPoliciesProps) {
    super(scope, id);
    const apiRef = nagRef(props.api.api.node.defaultChild as CfnApi);
    const make = (role: CallerRole, constructId: string): ManagedPolicy => {
      const policy = new ManagedPolicy(this, constructId, {
        description: DESCRIPTIONS[role],
        statements: [
          new PolicyStatement({
            actions: ['execute-api:Invoke'],
            resources: CALLER_ROUTES[role].map(([method, path]) => props.api.arnForRoute(method, path)),
          }),
        ],
      });
      for (const [method, path] of CALLER_ROUTES[role]) {
        acknowledge(
          policy,
          `IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:${apiRef}/${STAGE_NAME}/${method}${path}]`,
          method === '*'
            ? 'The admin policy is meant to be every method and path of this one API (including POST /v1/config); no other API or account.'
            : `Route pattern ${method} ${path} of this API only: pool names, values and owners are path segments, so access is granted per method and path shape, not per pool.`,
        );
      }
      return policy;
    };
    this.policies = {
      reader: make('reader', 'Reader'),
      allocator: make('allocator', 'Allocator'),
      admin: make('admin', 'Admin'),
    };
  }
}
