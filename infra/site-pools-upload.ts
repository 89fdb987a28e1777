import { Duration } from 'aws-cdk-lib';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { IBucket } from 'aws-cdk-lib/aws-s3';
import {
  AwsCustomResource,
  AwsCustomResourcePolicy,
  type AwsSdkCall,
  PhysicalResourceId,
} from 'aws-cdk-lib/custom-resources';
import { Construct, type IDependable } from 'constructs';

/** Where the deploy puts the site's pools file; config-sync applies it like any other upload. */
export const SITE_POOLS_KEY = 'pools/site.toml';

export interface SitePoolsUploadProps {
  readonly bucket: IBucket;
  /** The TOML text, already validated. */
  readonly text: string;
  /**
   * What must exist before the object is written: the bucket notification and config-sync with its
   * permissions, or the upload would not be applied.
   */
  readonly after: IDependable[];
  /** @default one month */
  readonly logRetention?: RetentionDays;
}

/**
 * Startup registration of the cloud: the deploy writes the site's pools file into the config bucket and
 * the upload, like any other, invokes config-sync. One S3 PutObject through an AwsCustomResource, instead
 * of a BucketDeployment and its 21 MB AWS CLI layer. The object is written again only when the file's
 * text changes; registration is additive, so a redeploy never removes anything.
 */
export class SitePoolsUpload extends Construct {
  readonly resource: AwsCustomResource;

  constructor(scope: Construct, id: string, props: SitePoolsUploadProps) {
    super(scope, id);
    const put: AwsSdkCall = {
      service: 'S3',
      action: 'putObject',
      parameters: {
        Bucket: props.bucket.bucketName,
        Key: SITE_POOLS_KEY,
        Body: props.text,
        ContentType: 'application/toml',
      },
      physicalResourceId: PhysicalResourceId.of(SITE_POOLS_KEY),
    };

    const logGroup = new LogGroup(this, 'Logs', { retention: props.logRetention ?? RetentionDays.ONE_MONTH });
    // Its own role, so the provider may write only to its own log group (not AWSLambdaBasicExecutionRole).
    const role = new Role(this, 'Role', {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: 'Uploads the site pools file to the config bucket at deploy time',
    });
    logGroup.grantWrite(role);

    this.resource = new AwsCustomResource(this, 'PutObject', {
      resourceType: 'Custom::SitePoolsUpload',
      onCreate: put,
      onUpdate: put,
      // Deleting the stack leaves the object: the pools it registered stay registered anyway.
      policy: AwsCustomResourcePolicy.fromStatements([
        new PolicyStatement({ actions: ['s3:PutObject'], resources: [props.bucket.arnForObjects(SITE_POOLS_KEY)] }),
      ]),
      role,
      logGroup,
      installLatestAwsSdk: false,
      timeout: Duration.minutes(1),
    });
    for (const dependency of props.after) this.resource.node.addDependency(dependency);
  }
}
