import { fileURLToPath } from 'node:url';
import { Duration } from 'aws-cdk-lib';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, type IDestination, Runtime } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../lib/telemetry.js';
import { acknowledge } from './nag.js';

const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));

/**
 * esbuild keeps CommonJS dependencies as `require()` calls inside the ES module it writes; Node gives an
 * ES module no `require`, so the bundle makes one.
 */
const ESM_REQUIRE_BANNER = "import { createRequire as __cjsRequire } from 'node:module'; const require = __cjsRequire(import.meta.url);";

export interface ServiceFunctionProps {
  /** The handler file under functions/, e.g. `api.ts`; it exports `handler`. */
  readonly handlerFile: string;
  readonly description: string;
  /** Added to the environment every handler reads (service name, metrics namespace, log level). */
  readonly environment?: Record<string, string>;
  /** @default 512 */
  readonly memorySize?: number;
  /** @default 10 seconds */
  readonly timeout?: Duration;
  /** @default one month */
  readonly logRetention?: RetentionDays;
  /** Asynchronous invocations only. @default Lambda's own (2 retries, no destination) */
  readonly retryAttempts?: number;
  readonly maxEventAge?: Duration;
  readonly onFailure?: IDestination;
}

/**
 * A handler of functions/ bundled locally by esbuild (no Docker) into a minified ES module with source
 * maps, on Node 24 / arm64, with its own log group and a role that may write only to that log group:
 * callers add what else it may touch with grants.
 */
export class ServiceFunction extends Construct {
  readonly function: NodejsFunction;
  readonly logGroup: LogGroup;
  readonly role: Role;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    super(scope, id);

    this.logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    // Instead of AWSLambdaBasicExecutionRole, which may write to every log group of the account.
    const role = (this.role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: props.description,
    }));
    this.logGroup.grantWrite(role);

    this.function = new NodejsFunction(this, 'Function', {
      entry: `${REPO_ROOT}functions/${props.handlerFile}`,
      handler: 'handler',
      projectRoot: REPO_ROOT,
      depsLockFilePath: `${REPO_ROOT}package-lock.json`,
      description: props.description,
      runtime: Runtime.NODEJS_24_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memorySize ?? 512,
      timeout: props.timeout ?? Duration.seconds(10),
      role,
      logGroup: this.logGroup,
      retryAttempts: props.retryAttempts,
      maxEventAge: props.maxEventAge,
      onFailure: props.onFailure,
      environment: {
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
        POWERTOOLS_LOG_LEVEL: 'INFO',
        NODE_OPTIONS: '--enable-source-maps',
        ...props.environment,
      },
      bundling: {
        format: OutputFormat.ESM,
        // ESM entry points of dependencies where they have one: smaller, and tree-shakeable.
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        // Line numbers are what stack traces need; the sources are in the repository.
        sourcesContent: false,
        // The Node 24 runtime ships AWS SDK v3; bundling it would add ~330 KB to every function and
        // push the API handler past its 500 KB budget (test/infra/infra-bundle.test.ts measures it).
        externalModules: ['@aws-sdk/*'],
        // Never Docker: `cdk synth` must work offline, with the esbuild of node_modules.
        forceDockerBundling: false,
      },
    });
  }

  /** Acknowledges a cdk-nag finding on the policy that grants added to this function's role. */
  acknowledgeGrant(finding: string, reason: string): void {
    const policy = this.role.node.tryFindChild('DefaultPolicy');
    if (!policy) throw new Error(`${this.node.path}: no grant to acknowledge ${finding} on`);
    acknowledge(policy, finding, reason);
  }
}
