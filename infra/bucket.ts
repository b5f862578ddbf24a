import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { PREFIX } from '../shared/layout.js';
import { CREATE_ONLY_PREFIXES, policyJson } from './policy.js';

export interface DataBucketArgs {
  forceDestroy: boolean;
}

/** Days before a replaced or deleted version moves to Standard-IA (S3's minimum for that class). */
const NONCURRENT_TO_IA_DAYS = 30;

/**
 * The one bucket of the layout in `shared/layout.ts`: versioned (the audit trail keeps every input and output
 * version), encrypted, private, reachable over TLS only. Lifecycle rules move old versions to cheaper storage
 * and expire only the run claims (`claims/`), so nothing under `runs/` goes away.
 */
export class DataBucket extends pulumi.ComponentResource {
  readonly bucket: aws.s3.Bucket;
  readonly name: pulumi.Output<string>;
  readonly arn: pulumi.Output<string>;

  constructor(name: string, args: DataBucketArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:DataBucket', name, {}, opts);
    const parent = { parent: this };

    this.bucket = new aws.s3.Bucket(name, { forceDestroy: args.forceDestroy }, parent);
    const bucketId = this.bucket.id;
    this.name = this.bucket.bucket;
    this.arn = this.bucket.arn;

    const versioning = new aws.s3.BucketVersioning(`${name}-versioning`, { bucket: bucketId, versioningConfiguration: { status: 'Enabled' } }, parent);

    new aws.s3.BucketServerSideEncryptionConfiguration(
      `${name}-encryption`,
      { bucket: bucketId, rules: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }] },
      parent,
    );

    const publicAccess = new aws.s3.BucketPublicAccessBlock(
      `${name}-public-access`,
      { bucket: bucketId, blockPublicAcls: true, blockPublicPolicy: true, ignorePublicAcls: true, restrictPublicBuckets: true },
      parent,
    );

    new aws.s3.BucketPolicy(
      `${name}-tls-only`,
      {
        bucket: bucketId,
        policy: policyJson([
          {
            // Binds every principal, operators included: a run's files, the history and a model version's files
            // (models/<version>/...) are written once. The pointer models/current.json is not in a version's folder:
            // the operator moves it.
            Sid: 'DenyOverwritesOfCreateOnlyPrefixes',
            Effect: 'Deny',
            Principal: '*',
            Action: ['s3:PutObject'],
            Resource: [...CREATE_ONLY_PREFIXES.map((prefix) => `${prefix}*`), `${PREFIX.models}*/*`].map(
              (pattern) => pulumi.interpolate`${this.arn}/${pattern}`,
            ),
            Condition: { Null: { 's3:if-none-match': 'true' } },
          },
          {
            Sid: 'DenyInsecureTransport',
            Effect: 'Deny',
            Principal: '*',
            Action: ['s3:*'],
            Resource: [this.arn, pulumi.interpolate`${this.arn}/*`],
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ]),
      },
      { parent: this, dependsOn: [publicAccess] },
    );

    new aws.s3.BucketLifecycleConfiguration(
      `${name}-lifecycle`,
      {
        bucket: bucketId,
        rules: [
          {
            id: 'noncurrent-versions-to-infrequent-access',
            status: 'Enabled',
            filter: {},
            noncurrentVersionTransitions: [{ noncurrentDays: NONCURRENT_TO_IA_DAYS, storageClass: 'STANDARD_IA' }],
          },
          {
            // Claims matter while a run lasts; the manifests and error records are the record.
            id: 'expire-run-claims',
            status: 'Enabled',
            filter: { prefix: PREFIX.claims },
            expiration: { days: 7 },
            noncurrentVersionExpiration: { noncurrentDays: 1 },
          },
          {
            id: 'abort-incomplete-multipart-uploads',
            status: 'Enabled',
            filter: {},
            abortIncompleteMultipartUpload: { daysAfterInitiation: 7 },
          },
        ],
      },
      { parent: this, dependsOn: [versioning] },
    );

    this.registerOutputs({ name: this.name, arn: this.arn });
  }
}
