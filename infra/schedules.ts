import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { MODEL_POINTER_KEY, PREFIX } from '../shared/layout.js';
import { WORKER_ENV } from '../shared/worker-env.js';
import { OneOffTask } from './one-off-task.js';
import { CREATE_ONLY, type Statement } from './policy.js';
import { QueueSchedule } from './queue-schedule.js';

/** The image's entries of the scheduled tasks (compiled by tsconfig.build.json into dist/). */
export const TASK_ENTRY = {
  reconcile: 'dist/worker/commands/reconcile-task.js',
  train: 'dist/worker/commands/train-task.js',
} as const;

/** What the market-close schedule sends: no `asOf`, so the worker forecasts from the latest date in the history. */
export const FORECAST_MESSAGE = { command: 'forecast' } as const;

/** The reconciler's task is small: it lists keys and reads small status records. */
const RECONCILE_SIZE = { cpu: 256, memory: 512 };

export interface FleetSchedulesArgs {
  reconcileCron: string;
  reconcileRequeue: boolean;
  marketCloseCron: string;
  trainCron: string;
  trainCpu: number;
  trainMemory: number;
  logRetentionDays: number;
  imageRef: pulumi.Input<string>;
  codeCommit: string;
  repositoryArn: pulumi.Input<string>;
  region: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  bucketName: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  workQueueUrl: pulumi.Input<string>;
  workQueueArn: pulumi.Input<string>;
  dlqUrl: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
}

/**
 * What runs on a clock: the daily reconciler and the weekly retraining as one-off tasks of the worker image (in a
 * cluster of their own, apart from the workers' service), and the market-close forecast as a command message on the
 * work queue.
 */
export class FleetSchedules extends pulumi.ComponentResource {
  readonly cluster: aws.ecs.Cluster;
  readonly reconcile: OneOffTask;
  readonly train: OneOffTask;
  readonly forecast: QueueSchedule;

  constructor(name: string, args: FleetSchedulesArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:FleetSchedules', name, {}, opts);
    const parent = { parent: this };
    const objects = (pattern: string) => pulumi.interpolate`${args.bucketArn}/${pattern}`;

    this.cluster = new aws.ecs.Cluster(`${name}-tasks`, {}, parent);

    // The worker's environment contract (shared/worker-env.ts): the tasks parse it with the worker's own config.
    const environment: Record<string, pulumi.Input<string>> = {
      [WORKER_ENV.queueUrl]: args.workQueueUrl,
      [WORKER_ENV.dlqUrl]: args.dlqUrl,
      [WORKER_ENV.bucket]: args.bucketName,
      [WORKER_ENV.modelPointerKey]: MODEL_POINTER_KEY,
      [WORKER_ENV.codeVersion]: args.imageRef,
      [WORKER_ENV.codeCommit]: args.codeCommit,
      AWS_REGION: args.region,
    };
    const common = {
      environment,
      logRetentionDays: args.logRetentionDays,
      imageRef: args.imageRef,
      repositoryArn: args.repositoryArn,
      region: args.region,
      accountId: args.accountId,
      clusterArn: this.cluster.arn,
      subnetIds: args.subnetIds,
      securityGroupId: args.securityGroupId,
    };

    const reconcileStatements: Statement[] = [
      // Lists incoming/ (ListObjectsV2). Not limited to a prefix: the status records it reads are missing by design
      // for a lost upload, and S3 answers a missing key with 404 only to a caller who may list the bucket.
      { Sid: 'ListUploads', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.bucketArn] },
      // Every version of every upload.
      {
        Sid: 'ListUploadVersions',
        Effect: 'Allow',
        Action: ['s3:ListBucketVersions'],
        Resource: [args.bucketArn],
        Condition: { StringLike: { 's3:prefix': `${PREFIX.incoming}*` } },
      },
      // An upload ended when its status record (status/<digest>.json) exists.
      { Sid: 'ReadStatus', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(`${PREFIX.status}*`)] },
      ...(args.reconcileRequeue ? [{ Sid: 'RequeueMissing', Effect: 'Allow' as const, Action: ['sqs:SendMessage'], Resource: [args.workQueueArn] }] : []),
    ];
    this.reconcile = new OneOffTask(
      `${name}-reconcile`,
      {
        ...common,
        ...RECONCILE_SIZE,
        containerName: 'reconcile',
        description: `Daily: every upload under ${PREFIX.incoming} ended in a manifest or an error record (${args.reconcileRequeue ? 'missing ones are requeued' : 'report only'})`,
        command: ['node', TASK_ENTRY.reconcile, ...(args.reconcileRequeue ? ['--requeue'] : [])],
        scheduleExpression: args.reconcileCron,
        taskStatements: reconcileStatements,
      },
      parent,
    );

    const trainStatements: Statement[] = [
      // Lists history/ and models/. Not limited to those prefixes: S3 answers a missing key (a version not written yet,
      // a history segment not there) with 404 only to a caller who may list the bucket; a GET carries no prefix.
      { Sid: 'ListHistoryAndModels', Effect: 'Allow', Action: ['s3:ListBucket'], Resource: [args.bucketArn] },
      { Sid: 'ReadHistoryAndModels', Effect: 'Allow', Action: ['s3:GetObject'], Resource: [objects(`${PREFIX.history}*`), objects(`${PREFIX.models}*`)] },
      // Create-only, and only inside a version's folder (models/<version>/...): the pointer models/current.json and
      // the registry stay the operator's.
      { Sid: 'CreateVersions', Effect: 'Allow', Action: ['s3:PutObject'], Resource: [objects(`${PREFIX.models}*/*`)], Condition: CREATE_ONLY },
    ];
    this.train = new OneOffTask(
      `${name}-train`,
      {
        ...common,
        cpu: args.trainCpu,
        memory: args.trainMemory,
        containerName: 'train',
        description: 'Weekly: trains a candidate model version from the history store (never put in service by itself)',
        command: ['node', TASK_ENTRY.train],
        scheduleExpression: args.trainCron,
        taskStatements: trainStatements,
      },
      parent,
    );

    this.forecast = new QueueSchedule(
      `${name}-forecast`,
      {
        description: 'Market close: forecasts the next day for every symbol in the history',
        scheduleExpression: args.marketCloseCron,
        queueArn: args.workQueueArn,
        message: FORECAST_MESSAGE,
        accountId: args.accountId,
      },
      parent,
    );

    this.registerOutputs({ clusterName: this.cluster.name });
  }
}
