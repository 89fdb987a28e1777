import { Stack } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import {
  HttpApi,
  HttpMethod,
  type HttpStage,
  LogGroupLogDestination,
  PayloadFormatVersion,
  type ThrottleSettings,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';

/** The stage every caller uses: served at the root of the endpoint, no stage prefix in URLs. */
export const STAGE_NAME = '$default';

/** HTTP API context variables logged per request: who called (IAM identity), what, and how it went. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  requestTime: '$context.requestTime',
  sourceIp: '$context.identity.sourceIp',
  userAgent: '$context.identity.userAgent',
  caller: '$context.identity.caller',
  userArn: '$context.identity.userArn',
  accountId: '$context.identity.accountId',
  httpMethod: '$context.httpMethod',
  path: '$context.path',
  routeKey: '$context.routeKey',
  protocol: '$context.protocol',
  status: '$context.status',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationStatus: '$context.integrationStatus',
  integrationLatency: '$context.integration.latency',
  integrationError: '$context.integrationErrorMessage',
  error: '$context.error.message',
};

export interface PoolsHttpApiProps {
  /** The function that serves the whole v1 API (API Gateway payload format 2.0). */
  readonly handler: IFunction;
  /** @default 100 requests per second, bursts of 200 */
  readonly throttle?: ThrottleSettings;
  /** @default three months: the access log is the record of who allocated and released what. */
  readonly accessLogRetention?: RetentionDays;
}

/**
 * The v1 HTTP API. Every path goes to the one handler, which owns routing so it can answer unknown
 * routes and wrong methods itself (404 NOT_FOUND, 405 METHOD_NOT_ALLOWED, as JSON); API Gateway only
 * authenticates (SigV4, IAM authorization on every route), throttles and logs.
 */
export class PoolsHttpApi extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly accessLogs: LogGroup;

  constructor(scope: Construct, id: string, props: PoolsHttpApiProps) {
    super(scope, id);

    this.api = new HttpApi(this, 'Api', {
      apiName: `${Stack.of(this).stackName}-v1`,
      description: 'resource-pools v1: allocate and release addresses, VNIs, VLAN IDs and ASNs',
      createDefaultStage: false,
      defaultAuthorizer: new HttpIamAuthorizer(),
    });
    const integration = new HttpLambdaIntegration('Handler', props.handler, {
      payloadFormatVersion: PayloadFormatVersion.VERSION_2_0,
    });
    // `/{proxy+}` does not match `/` itself; without its own route API Gateway would answer `/` with
    // its own non-JSON 404.
    for (const path of ['/{proxy+}', '/']) {
      this.api.addRoutes({ path, methods: [HttpMethod.ANY], integration });
    }

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? RetentionDays.THREE_MONTHS,
    });
    // Added by hand rather than with createDefaultStage, which cannot take access-log settings.
    this.stage = this.api.addStage('DefaultStage', {
      stageName: STAGE_NAME,
      autoDeploy: true,
      throttle: props.throttle ?? { rateLimit: 100, burstLimit: 200 },
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
  }

  /** The `execute-api:Invoke` ARN of a method and path pattern on the caller-facing stage. */
  arnForRoute(method: HttpMethod | '*', path: string): string {
    return this.api.arnForExecuteApi(method, path, STAGE_NAME);
  }

  /** The endpoint URL (no stage prefix: it is the `$default` stage). */
  get url(): string {
    return this.stage.url;
  }
}
