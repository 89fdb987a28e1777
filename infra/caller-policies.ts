import { type CfnApi, HttpMethod } from 'aws-cdk-lib/aws-apigatewayv2';
import { ManagedPolicy, PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { Construct } from 'constructs';
import { type PoolsHttpApi, STAGE_NAME } from './http-api.js';
import { acknowledge, nagRef } from './nag.js';

type Route = readonly [HttpMethod | '*', string];

/**
 * What each kind of caller may invoke; paths are IAM patterns (`*` spans segments, `/` included).
 *
 * Patterns can be split by path because the API refuses, before routing, any path with an empty, `.`
 * or `..` segment, plain or percent-encoded, or with a segment that decodes to `/ ? # % \`
 * (functions/http/paths.ts): the path IAM matches is the path that runs. Reads stay one pattern by
 * choice (a reader may read everything, including GET /v1/check), not of necessity.
 */
export const CALLER_ROUTES = {
  /** Every GET under /v1: pools, allocations, config syncs, health, check, the OpenAPI document. */
  reader: [[HttpMethod.GET, '/v1/*']],
  /**
   * Reads, plus allocating and releasing values (by value or by owner, one at a time or in batches
   * across pools) and changing their labels.
   */
  allocator: [
    [HttpMethod.GET, '/v1/*'],
    [HttpMethod.POST, '/v1/pools/*/allocations'],
    [HttpMethod.DELETE, '/v1/pools/*/allocations/*'],
    [HttpMethod.DELETE, '/v1/pools/*/owners/*'],
    [HttpMethod.PATCH, '/v1/pools/*/owners/*'],
    [HttpMethod.POST, '/v1/allocations'],
    [HttpMethod.POST, '/v1/releases'],
  ],
  /** The whole API, including POST /v1/config (registering and growing pools). */
  admin: [['*', '/*']],
} as const satisfies Record<string, readonly Route[]>;

/**
 * What a per-pool allocator (context `poolAccess`) may invoke: every read, and in each of its pools
 * allocating, releasing (by value or by owner) and labelling (PATCH …/owners/{owner}). Batch routes
 * (POST /v1/allocations, POST /v1/releases) name their pools in the body, where no IAM pattern can
 * look, so they are not granted; neither is anything of a pool's lifecycle (retire, import, disable,
 * delete), which stays with the admin.
 */
export function poolAccessRoutes(pools: readonly string[]): Route[] {
  return [
    [HttpMethod.GET, '/v1/*'],
    ...pools.flatMap((pool): Route[] => [
      [HttpMethod.POST, `/v1/pools/${pool}/allocations`],
      [HttpMethod.DELETE, `/v1/pools/${pool}/allocations/*`],
      [HttpMethod.DELETE, `/v1/pools/${pool}/owners/*`],
      [HttpMethod.PATCH, `/v1/pools/${pool}/owners/*`],
    ]),
  ];
}

/** IAM's limit on a managed policy document, in characters without whitespace. */
export const MANAGED_POLICY_MAX_CHARS = 6144;
/** The longest `arn:<partition>:execute-api:<region>:<account>:<api id>/$default/` a deploy can resolve. */
const WORST_ROUTE_ARN_PREFIX = 'arn:aws-us-gov:execute-api:ap-southeast-5:123456789012:abcdefghij/$default/'.length;

/** The size of a per-pool allocator policy once deployed, at worst (the longest partition and region). */
export function poolAccessPolicyChars(pools: readonly string[]): number {
  const envelope = '{"Version":"2012-10-17","Statement":[{"Action":"execute-api:Invoke","Effect":"Allow","Resource":[]}]}'.length;
  return poolAccessRoutes(pools).reduce((n, [method, path]) => n + WORST_ROUTE_ARN_PREFIX + method.length + path.length + 3, envelope);
}

/** The CfnOutput of a per-pool policy: `tenant-automation` → `PoolAccessTenantAutomationPolicyArn`. */
export function poolAccessOutputId(name: string): string {
  const words = name.split(/[._-]+/).filter((w) => w !== '');
  return `PoolAccess${words.map((w) => w[0].toUpperCase() + w.slice(1)).join('')}PolicyArn`;
}

export type CallerRole = keyof typeof CALLER_ROUTES;

const DESCRIPTIONS: Record<CallerRole, string> = {
  reader: 'resource-pools: read pools, allocations and config syncs',
  allocator: 'resource-pools: read, allocate and release values',
  admin: 'resource-pools: everything, including applying pool config (POST /v1/config)',
};

export interface CallerPoliciesProps {
  readonly api: PoolsHttpApi;
  /** Per-pool allocators: a name (of the policy) → the pools it may allocate, release and label in. */
  readonly poolAccess?: Readonly<Record<string, readonly string[]>>;
}

/**
 * Managed policies to attach to the roles and users that call the API: the API is IAM-authorized, so
 * these are its access levels. Each allows `execute-api:Invoke` on this API's routes only.
 */
export class CallerPolicies extends Construct {
  readonly policies: Record<CallerRole, ManagedPolicy>;
  /** One per name of context `poolAccess`, by name. */
  readonly poolPolicies: ReadonlyMap<string, { pools: readonly string[]; policy: ManagedPolicy }>;

  constructor(scope: Construct, id: string, props: CallerPoliciesProps) {
    super(scope, id);
    const apiRef = nagRef(props.api.api.node.defaultChild as CfnApi);
    const finding = (method: string, path: string) =>
      `IAM5[Resource::arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:${apiRef}/${STAGE_NAME}/${method}${path}]`;
    const policy = (parent: Construct, constructId: string, description: string, routes: readonly Route[]): ManagedPolicy =>
      new ManagedPolicy(parent, constructId, {
        description,
        statements: [
          new PolicyStatement({
            actions: ['execute-api:Invoke'],
            resources: routes.map(([method, path]) => props.api.arnForRoute(method, path)),
          }),
        ],
      });
    const make = (role: CallerRole, constructId: string): ManagedPolicy => {
      const made = policy(this, constructId, DESCRIPTIONS[role], CALLER_ROUTES[role]);
      for (const [method, path] of CALLER_ROUTES[role]) {
        // Only a pattern is a wildcard finding (POST /v1/allocations names one route).
        if (method !== '*' && !path.includes('*')) continue;
        acknowledge(
          made,
          finding(method, path),
          method === '*'
            ? 'The admin policy is meant to be every method and path of this one API (including POST /v1/config); no other API or account.'
            : `Route pattern ${method} ${path} of this API only: pool names, values and owners are path segments, so access is granted per method and path shape, not per pool.`,
        );
      }
      return made;
    };
    this.policies = {
      reader: make('reader', 'Reader'),
      allocator: make('allocator', 'Allocator'),
      admin: make('admin', 'Admin'),
    };

    const poolPolicies = new Map<string, { pools: readonly string[]; policy: ManagedPolicy }>();
    const perPool = new Construct(this, 'PoolAccess');
    for (const [name, pools] of Object.entries(props.poolAccess ?? {})) {
      const routes = poolAccessRoutes(pools);
      // A managed policy's description cannot change (a new one would replace it, ARN and attachments
      // included), so it does not list the pools: those may change; the output lists them.
      const made = policy(perPool, name, `resource-pools ${name} (context poolAccess): read everything; allocate, release and label in its pools only`, routes);
      for (const [method, path] of routes) {
        if (!path.includes('*')) continue;
        acknowledge(
          made,
          finding(method, path),
          method === HttpMethod.GET
            ? 'Every read of this API (GET /v1/*), as the reader policy: a per-pool allocator may read all pools.'
            : `Route pattern ${method} ${path} of this API only: the * is the value or owner segment of that one pool; the API refuses paths with dot segments or encoded slashes, so no other pool or route is matched.`,
        );
      }
      poolPolicies.set(name, { pools, policy: made });
    }
    this.poolPolicies = poolPolicies;
  }
}
