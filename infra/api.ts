import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { PREFIX, RUN_FILE } from '../shared/layout.js';
import { API_DEFAULTS, API_ENV } from '../shared/worker-env.js';
import { policyJson } from './policy.js';

export interface FleetApiArgs {
  /** The folder `npm run build:api` writes (dist/api): the Lambda's code, one bundled index.mjs. */
  bundleDir: string;
  bucketName: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  region: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  logRetentionDays: number;
}

/** The API's routes (docs/openapi.yaml): each is an IAM-authorized route of the HTTP API. */
export const API_ROUTES = ['POST /runs', 'POST /runs/uploads', 'GET /runs/{id}', 'GET /forecasts/{date}', 'GET /models'] as const;

/** The objects the API reads: status records, run files, forecasts, models, registry records; and its own uploads (HEAD). */
const READ_PREFIXES = [`${PREFIX.incoming}api/`, PREFIX.status, PREFIX.runs, PREFIX.forecasts, PREFIX.models, 'registry/versions/'];

/**
 * The REST API on AWS: an HTTP API (API Gateway v2) whose routes use IAM authorization, one Node.js 24 Lambda running
 * the same Hono app as `npm start` (worker/api/lambda.ts), and completion events: S3 sends its object events to
 * EventBridge, a rule picks each new `runs/<id>/manifest.json` and `runs/<id>/error.json`, and an SNS topic fans it out.
 *
 * IAM authorization rather than a Cognito JWT authorizer: callers sign with the temporary credentials they already get
 * from their AWS sign-in (SSO or an assumed role; `curl --aws-sigv4`, the SDKs), so no user pool, passwords or tokens
 * are added, and access is granted by attaching the `invokePolicy` to the team's role.
 */
export class FleetApi extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly fn: aws.lambda.Function;
  readonly api: aws.apigatewayv2.Api;
  readonly stage: aws.apigatewayv2.Stage;
  readonly invokePolicy: aws.iam.Policy;
  readonly completions: aws.sns.Topic;
  readonly completionRule: aws.cloudwatch.EventRule;
  readonly url: pulumi.Output<string>;

  constructor(name: string, args: FleetApiArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:FleetApi', name, {}, opts);
    const objects = (prefix: string) => pulumi.interpolate`${args.bucketArn}/${prefix}*`;

    const logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: args.logRetentionDays }, { parent: this });
    this.role = new aws.iam.Role(
      `${name}-role`,
      { assumeRolePolicy: policyJson([{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }]) },
      { parent: this },
    );
    new aws.iam.RolePolicy(
      `${name}-role-policy`,
      {
        role: this.role.id,
        policy: policyJson([
          // Uploads only: POST /runs stores there, and POST /runs/uploads presigns PUTs there.
          { Sid: 'WriteApiUploads', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(`${PREFIX.incoming}api/`)] },
          // The status URL names the upload's version (the bucket is versioned): GET /runs/{id}?version= heads it.
          { Sid: 'ReadApiUploadVersions', Effect: 'Allow', Action: ['s3:GetObjectVersion'], Resource: [objects(`${PREFIX.incoming}api/`)] },
          { Sid: 'ReadWhatResponsesShow', Effect: 'Allow', Action: ['s3:GetObject'], Resource: READ_PREFIXES.map(objects) },
          // GET /models lists the version folders. Without s3:ListBucket on the bucket a missing status record or
          // forecast answers 403 rather than 404 (S3 hides absence from callers that cannot list), so it is not scoped
          // to a prefix: GetObject requests carry no s3:prefix.
          { Sid: 'ListBucketForNotFound', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.bucketArn] },
          { Sid: 'WriteOwnLogs', Effect: 'Allow', Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Resource: [pulumi.interpolate`${logGroup.arn}:*`] },
        ]),
      },
      { parent: this },
    );

    this.fn = new aws.lambda.Function(
      `${name}-fn`,
      {
        runtime: aws.lambda.Runtime.NodeJS24dX,
        handler: 'index.handler',
        code: new pulumi.asset.FileArchive(args.bundleDir),
        role: this.role.arn,
        memorySize: 512,
        // API Gateway stops waiting after 30 s.
        timeout: 29,
        architectures: ['arm64'],
        loggingConfig: { logFormat: 'JSON', logGroup: logGroup.name },
        environment: {
          variables: {
            [API_ENV.bucket]: args.bucketName,
            [API_ENV.maxBodyBytes]: String(API_DEFAULTS.maxBodyBytes),
            [API_ENV.presignSeconds]: String(API_DEFAULTS.presignSeconds),
          },
        },
      },
      { parent: this },
    );

    this.api = new aws.apigatewayv2.Api(
      `${name}-http`,
      { protocolType: 'HTTP', description: 'crypto-open-fleet REST API (docs/openapi.yaml)' },
      { parent: this },
    );
    const integration = new aws.apigatewayv2.Integration(
      `${name}-integration`,
      { apiId: this.api.id, integrationType: 'AWS_PROXY', integrationUri: this.fn.invokeArn, integrationMethod: 'POST', payloadFormatVersion: '2.0' },
      { parent: this },
    );
    for (const route of API_ROUTES) {
      const slug = route
        .toLowerCase()
        .replace(/[^a-z0-9]+/g, '-')
        .replace(/-$/, '');
      new aws.apigatewayv2.Route(
        `${name}-route-${slug}`,
        { apiId: this.api.id, routeKey: route, authorizationType: 'AWS_IAM', target: pulumi.interpolate`integrations/${integration.id}` },
        { parent: this },
      );
    }
    this.stage = new aws.apigatewayv2.Stage(`${name}-stage`, { apiId: this.api.id, name: '$default', autoDeploy: true }, { parent: this });
    new aws.lambda.Permission(
      `${name}-invoke`,
      {
        action: 'lambda:InvokeFunction',
        function: this.fn.name,
        principal: 'apigateway.amazonaws.com',
        sourceArn: pulumi.interpolate`${this.api.executionArn}/*/*`,
      },
      { parent: this },
    );
    this.url = this.api.apiEndpoint;

    // Attach to the team's role (SSO permission set or assumed role): temporary credentials sign every request.
    this.invokePolicy = new aws.iam.Policy(
      `${name}-invoke-policy`,
      {
        description: 'Call the crypto-open-fleet REST API (IAM-authorized routes)',
        policy: policyJson([
          {
            Sid: 'InvokeApiRoutes',
            Effect: 'Allow',
            Action: ['execute-api:Invoke'],
            Resource: API_ROUTES.map((r) => {
              const [method, path] = r.split(' ');
              return pulumi.interpolate`${this.api.executionArn}/$default/${method}${path!.replace(/\{[^}]+\}/g, '*')}`;
            }),
          },
        ]),
      },
      { parent: this },
    );

    this.completions = new aws.sns.Topic(`${name}-completions`, {}, { parent: this });
    this.completionRule = new aws.cloudwatch.EventRule(
      `${name}-run-finished`,
      {
        description: 'A run finished: runs/<id>/manifest.json or runs/<id>/error.json was created',
        eventPattern: pulumi.jsonStringify({
          source: ['aws.s3'],
          'detail-type': ['Object Created'],
          detail: {
            bucket: { name: [args.bucketName] },
            object: { key: [{ wildcard: `${PREFIX.runs}*/${RUN_FILE.manifest}` }, { wildcard: `${PREFIX.runs}*/${RUN_FILE.error}` }] },
          },
        }),
      },
      { parent: this },
    );
    new aws.sns.TopicPolicy(
      `${name}-completions-policy`,
      {
        arn: this.completions.arn,
        policy: policyJson([
          {
            Sid: 'AllowRunFinishedRule',
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['sns:Publish'],
            Resource: [this.completions.arn],
            Condition: { ArnEquals: { 'aws:SourceArn': this.completionRule.arn } },
          },
        ]),
      },
      { parent: this },
    );
    new aws.cloudwatch.EventTarget(`${name}-run-finished-target`, { rule: this.completionRule.name, arn: this.completions.arn }, { parent: this });

    this.registerOutputs({ url: this.url });
  }
}
