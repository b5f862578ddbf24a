import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { DAILY_PREDS_KEY, PREFIX } from '../shared/layout.js';
import { REGISTRY } from '../shared/registry.js';
import { CREATE_ONLY, policyJson, type TrustStatement } from './policy.js';

/** "Only if the request carries If-Match": a write that replaces exactly the version read (compare and swap). */
const REPLACE_IF_MATCH = { Null: { 's3:if-match': 'false' } };

export interface WorkerRolesArgs {
  accountId: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  workQueueArn: pulumi.Input<string>;
  dlqArn: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  logGroupArn: pulumi.Input<string>;
  clusterArn: pulumi.Input<string>;
}

/**
 * The task role (what the worker's code may do, each action on its own resource) and the execution role
 * (what ECS needs to start the task: pull the image, ship the logs).
 */
export class WorkerRoles extends pulumi.ComponentResource {
  readonly taskRole: aws.iam.Role;
  readonly executionRole: aws.iam.Role;
  /** The roles' policies: the service waits for them on create and keeps them until its tasks have stopped. */
  readonly policies: aws.iam.RolePolicy[] = [];

  constructor(name: string, args: WorkerRolesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkerRoles', name, {}, opts);
    const parent = { parent: this };
    const objects = (prefix: string) => pulumi.interpolate`${args.bucketArn}/${prefix}*`;

    const trust: TrustStatement = {
      Effect: 'Allow',
      Principal: { Service: 'ecs-tasks.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': args.accountId } },
    };

    this.taskRole = new aws.iam.Role(`${name}-task`, { assumeRolePolicy: policyJson([trust]) }, parent);
    // "arn:...:cluster/<name>" -> "arn:...:task/<name>/*": the tasks of this stack's cluster, which runs only the workers.
    const clusterTasks = pulumi.output(args.clusterArn).apply((arn) => `${arn.replace(':cluster/', ':task/')}/*`);
    const taskPolicy = new aws.iam.RolePolicy(
      `${name}-task`,
      {
        role: this.taskRole.id,
        policy: policyJson([
          { Sid: 'ReadUploads', Effect: 'Allow', Action: ['s3:GetObject', 's3:GetObjectVersion'], Resource: [objects(PREFIX.incoming)] },
          { Sid: 'ReadModels', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(PREFIX.models)] },
          // Read: a redelivered message HEADs its run's manifest (the idempotency check), and a create that found the
          // key taken compares what is there.
          { Sid: 'ReadRuns', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(PREFIX.runs)] },
          // Create-only: a run's files are never rewritten (the bucket policy denies any PUT without If-None-Match).
          { Sid: 'CreateRuns', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(PREFIX.runs)], Condition: CREATE_ONLY },
          // Read too: publishing HEADs the published files to keep a newer upload's predictions (HeadObject is s3:GetObject).
          { Sid: 'ReadWritePredictions', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [objects(PREFIX.predictions)] },
          // One run per run id: claimed with If-None-Match, renewed and taken over with If-Match.
          { Sid: 'ClaimRuns', Effect: 'Allow', Action: ['s3:GetObject', 's3:PutObject'], Resource: [objects(PREFIX.claims)] },
          // The history: segments read for the windows, forecasts and the daily file; added create-only.
          // The windows' lead rows, and the cold-start rule's count of an unknown symbol's rows.
          { Sid: 'ReadHistory', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(PREFIX.history)] },
          { Sid: 'CreateHistory', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(PREFIX.history)], Condition: CREATE_ONLY },
          // forecasts/<day>.csv and the daily file are shared and replaced: HEAD for their ETag, then a PUT with
          // If-None-Match (the first) or If-Match on that ETag (compare and swap); never an unconditional PUT.
          {
            Sid: 'ReadPublished',
            Effect: 'Allow',
            Action: ['s3:GetObject'],
            Resource: [objects(PREFIX.forecasts), pulumi.interpolate`${args.bucketArn}/${DAILY_PREDS_KEY}`],
          },
          {
            Sid: 'CreatePublished',
            Effect: 'Allow',
            Action: ['s3:PutObject'],
            Resource: [objects(PREFIX.forecasts), pulumi.interpolate`${args.bucketArn}/${DAILY_PREDS_KEY}`],
            Condition: CREATE_ONLY,
          },
          {
            Sid: 'SwapPublished',
            Effect: 'Allow',
            Action: ['s3:PutObject'],
            Resource: [objects(PREFIX.forecasts), pulumi.interpolate`${args.bucketArn}/${DAILY_PREDS_KEY}`],
            Condition: REPLACE_IF_MATCH,
          },
          // An upload's status moves on (partial -> succeeded), so it is overwritten.
          { Sid: 'WriteStatus', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(PREFIX.status)] },
          // A candidate in shadow: the pointer the operator writes (registry/ is otherwise the operator's).
          { Sid: 'ReadShadowPointer', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [pulumi.interpolate`${args.bucketArn}/${REGISTRY.shadowPointer}`] },
          // Realized accuracy: one record per day, created once, read back when the day is scored again.
          { Sid: 'ReadAccuracy', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(PREFIX.accuracy)] },
          { Sid: 'CreateAccuracy', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(PREFIX.accuracy)], Condition: CREATE_ONLY },
          // Without it S3 answers 403 instead of 404 for a missing key ("source missing", "no manifest yet").
          { Sid: 'ListKeys', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.bucketArn] },
          {
            Sid: 'ConsumeWorkQueue',
            Effect: 'Allow',
            Action: ['sqs:ReceiveMessage', 'sqs:DeleteMessage', 'sqs:ChangeMessageVisibility'],
            Resource: [args.workQueueArn],
          },
          // The DLQ: failures with their reason. The work queue: kept for the messages workers send themselves (shards of
          // a large upload, commands), so that the grant does not have to follow each of them.
          { Sid: 'SendToQueues', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [args.workQueueArn, args.dlqArn] },
          {
            Sid: 'ScaleInProtection',
            Effect: 'Allow',
            Action: ['ecs:UpdateTaskProtection'],
            Resource: [clusterTasks],
          },
        ]),
      },
      parent,
    );

    this.executionRole = new aws.iam.Role(`${name}-execution`, { assumeRolePolicy: policyJson([trust]) }, parent);
    const executionPolicy = new aws.iam.RolePolicy(
      `${name}-execution`,
      {
        role: this.executionRole.id,
        policy: policyJson([
          // GetAuthorizationToken has no resource-level permissions: AWS accepts only "*" for it.
          { Sid: 'EcrLogin', Effect: 'Allow', Action: ['ecr:GetAuthorizationToken'], Resource: ['*'] },
          {
            Sid: 'PullWorkerImage',
            Effect: 'Allow',
            Action: ['ecr:BatchCheckLayerAvailability', 'ecr:GetDownloadUrlForLayer', 'ecr:BatchGetImage'],
            Resource: [args.repositoryArn],
          },
          {
            Sid: 'ShipLogs',
            Effect: 'Allow',
            Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
            Resource: [args.logGroupArn, pulumi.interpolate`${args.logGroupArn}:*`],
          },
        ]),
      },
      parent,
    );

    this.policies.push(taskPolicy, executionPolicy);
    this.registerOutputs({ taskRoleArn: this.taskRole.arn, executionRoleArn: this.executionRole.arn });
  }
}
