import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { BlockPublicAccess, Bucket, BucketEncryption, ObjectOwnership } from 'aws-cdk-lib/aws-s3';
import { S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY } from 'aws-cdk-lib/cx-api';
import { Construct } from 'constructs';

/** Suffix of the objects that config-sync applies; anything else in the bucket is left alone. */
export const CONFIG_SUFFIX = '.toml';

export interface ConfigBucketProps {
  /** @default one year */
  readonly accessLogRetention?: Duration;
  /**
   * How long a replaced pool file version is kept. Longer than any event can wait (retries and the
   * dead-letter queue's 14 days), so a redriven event still finds the exact version it names.
   * @default one year
   */
  readonly noncurrentVersionRetention?: Duration;
}

/** Replaced versions kept whatever their age, so the last few uploads can always be compared or restored. */
export const NONCURRENT_VERSIONS_KEPT = 10;

/**
 * Where operators drop pool files. Versioned, because config-sync applies the exact object version of
 * each event and the history of what was uploaded is the audit trail of every registration; every
 * request to it is logged to a separate access-log bucket.
 */
export class ConfigBucket extends Construct {
  readonly bucket: Bucket;
  readonly accessLogsBucket: Bucket;

  constructor(scope: Construct, id: string, props: ConfigBucketProps = {}) {
    super(scope, id);
    // Log delivery through a bucket policy scoped to the source bucket, not the legacy ACL that would
    // need object ACLs enabled on the log bucket: set here so it holds whatever the app's feature flags.
    this.node.setContext(S3_SERVER_ACCESS_LOGS_USE_BUCKET_POLICY, true);

    this.accessLogsBucket = new Bucket(this, 'AccessLogs', {
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      removalPolicy: RemovalPolicy.RETAIN,
      lifecycleRules: [{ expiration: props.accessLogRetention ?? Duration.days(365) }],
    });
    // Not logged itself (logging it would log its own log deliveries); cdk-nag's S1 accepts a bucket that
    // is another bucket's access-log destination, so there is nothing to acknowledge.

    this.bucket = new Bucket(this, 'Bucket', {
      versioned: true,
      encryption: BucketEncryption.S3_MANAGED,
      blockPublicAccess: BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      objectOwnership: ObjectOwnership.BUCKET_OWNER_ENFORCED,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'config-bucket/',
      removalPolicy: RemovalPolicy.RETAIN,
      // Old versions do not pile up forever (cfn-guard CT.S3.PR.3/PR.6); the sync records keep what was applied.
      lifecycleRules: [
        {
          id: 'expire-replaced-versions',
          noncurrentVersionExpiration: props.noncurrentVersionRetention ?? Duration.days(365),
          noncurrentVersionsToRetain: NONCURRENT_VERSIONS_KEPT,
          abortIncompleteMultipartUploadAfter: Duration.days(7),
        },
      ],
    });
  }

  /** The ARN pattern of the objects config-sync reads. */
  arnForConfigObjects(): string {
    return this.bucket.arnForObjects(`*${CONFIG_SUFFIX}`);
  }
}
