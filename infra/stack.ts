import path from 'node:path';
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { teamUrls } from '../shared/layout.js';
import { STACK_OUTPUT } from '../shared/worker-env.js';
import { FleetApi } from './api.js';
import { FleetAlarms } from './alarms.js';
import { WorkerAutoscaling } from './autoscaling.js';
import { DataBucket } from './bucket.js';
import { FleetDashboard } from './dashboard.js';
import type { InfraConfig } from './config.js';
import { WorkerImage } from './image.js';
import { Network } from './network.js';
import { WorkQueues } from './queues.js';
import { OperatorAccess } from './operator-access.js';
import { FleetSchedules } from './schedules.js';
import type { SourceRevision } from './provenance.js';
import { TeamAccess } from './team-access.js';
import { UploadTrigger } from './upload-trigger.js';
import { WorkerMetrics } from './worker-metrics.js';
import { WorkerService } from './worker-service.js';

export interface StackArgs {
  config: InfraConfig;
  /** Docker build context holding the worker's `Dockerfile` (the repository root). */
  imageContext: string;
  /** The git revision the image is built from. */
  revision: SourceRevision;
}

/** On every resource that takes tags: what the bill is broken down by (activate them as cost allocation tags). */
export function costTags(stack: string): Record<string, string> {
  return { project: 'crypto-open-fleet', stack, 'managed-by': 'pulumi' };
}

export type StackOutputs = Record<(typeof STACK_OUTPUT)[keyof typeof STACK_OUTPUT], pulumi.Output<string>>;

const NAME = 'fleet';

/** Builds every resource of the stack from its parsed config and returns the stack outputs. */
export function createStack({ config, imageContext, revision }: StackArgs): StackOutputs {
  // One AWS provider for every resource: the cost allocation tags reach each taggable resource as default tags.
  const provider = new aws.Provider(`${NAME}-aws`, {
    region: new pulumi.Config('aws').get('region') as aws.Region | undefined,
    defaultTags: { tags: costTags(pulumi.getStack()) },
  });
  const opts = { providers: { aws: provider } };
  const accountId = aws.getCallerIdentityOutput({}, { provider }).accountId;
  const region = aws.getRegionOutput({}, { provider }).region;
  const zones = aws.getAvailabilityZonesOutput({ state: 'available' }, { provider }).names;

  const bucket = new DataBucket(`${NAME}-data`, { forceDestroy: config.forceDestroy }, opts);
  const queues = new WorkQueues(NAME, { maxReceiveCount: config.maxReceiveCount }, opts);
  new UploadTrigger(
    `${NAME}-uploads`,
    {
      bucketId: bucket.bucket.id,
      bucketArn: bucket.arn,
      queueUrl: queues.work.url,
      queueArn: queues.work.arn,
      accountId,
    },
    opts,
  );

  const network = new Network(`${NAME}-net`, { availabilityZones: zones, region }, opts);
  const image = new WorkerImage(`${NAME}-worker`, { context: imageContext, forceDestroy: config.forceDestroy, revision }, opts);
  const workers = new WorkerService(
    `${NAME}-worker`,
    {
      cpu: config.workerCpu,
      memory: config.workerMemory,
      initialCount: config.minWorkers,
      maxReceiveCount: config.maxReceiveCount,
      logRetentionDays: config.logRetentionDays,
      imageRef: image.ref,
      codeCommit: revision.commit,
      repositoryArn: image.repository.arn,
      region,
      accountId,
      bucketName: bucket.name,
      bucketArn: bucket.arn,
      workQueueUrl: queues.work.url,
      workQueueArn: queues.work.arn,
      dlqUrl: queues.dlq.url,
      dlqArn: queues.dlq.arn,
      subnetIds: network.subnets.map((s) => s.id),
      securityGroupId: network.securityGroup.id,
      dependsOn: [...network.routeAssociations, network.s3Endpoint],
    },
    opts,
  );

  new WorkerAutoscaling(
    `${NAME}-scaling`,
    {
      clusterName: workers.cluster.name,
      serviceName: workers.service.name,
      workQueueName: queues.work.name,
      minWorkers: config.minWorkers,
      maxWorkers: config.maxWorkers,
      backlogPerWorker: config.backlogPerWorker,
    },
    opts,
  );
  const schedules = new FleetSchedules(
    NAME,
    {
      ...config,
      imageRef: image.ref,
      codeCommit: revision.commit,
      repositoryArn: image.repository.arn,
      region,
      accountId,
      bucketName: bucket.name,
      bucketArn: bucket.arn,
      workQueueUrl: queues.work.url,
      workQueueArn: queues.work.arn,
      dlqUrl: queues.dlq.url,
      subnetIds: network.subnets.map((s) => s.id),
      securityGroupId: network.securityGroup.id,
    },
    opts,
  );
  new WorkerMetrics(
    `${NAME}-metrics`,
    { logGroupName: workers.logGroup.name, reconcileLogGroupName: schedules.reconcile.logGroup.name, trainLogGroupName: schedules.train.logGroup.name },
    opts,
  );
  const alarm = new FleetAlarms(
    `${NAME}-alarms`,
    {
      workQueueName: queues.work.name,
      dlqName: queues.dlq.name,
      oldestMessageSeconds: config.oldestMessageAlarmSeconds,
      email: config.alarmEmail,
      accuracyAlarmDays: config.accuracyAlarmDays,
    },
    opts,
  );
  const dashboard = new FleetDashboard(
    `${NAME}-dashboard`,
    { region, workQueueName: queues.work.name, dlqName: queues.dlq.name, clusterName: workers.cluster.name, serviceName: workers.service.name },
    opts,
  );
  const team = new TeamAccess(`${NAME}-team`, { bucketArn: bucket.arn }, opts);
  const operator = new OperatorAccess(`${NAME}-operator`, { bucketArn: bucket.arn, workQueueArn: queues.work.arn, dlqArn: queues.dlq.arn }, opts);

  const api = new FleetApi(
    `${NAME}-api`,
    {
      bundleDir: path.join(imageContext, 'dist', 'api'),
      bucketName: bucket.name,
      bucketArn: bucket.arn,
      region,
      accountId,
      logRetentionDays: config.logRetentionDays,
    },
    opts,
  );

  const urls = bucket.name.apply((name) => teamUrls(name));
  return {
    [STACK_OUTPUT.testUrl]: urls.testUrl,
    [STACK_OUTPUT.predUrl]: urls.predUrl,
    [STACK_OUTPUT.bucket]: bucket.name,
    [STACK_OUTPUT.queueUrl]: queues.work.url,
    [STACK_OUTPUT.dlqUrl]: queues.dlq.url,
    [STACK_OUTPUT.region]: region,
    [STACK_OUTPUT.cluster]: workers.cluster.name,
    [STACK_OUTPUT.service]: workers.service.name,
    [STACK_OUTPUT.repositoryUrl]: image.repository.repositoryUrl,
    [STACK_OUTPUT.imageRef]: image.ref,
    [STACK_OUTPUT.teamPolicyArn]: team.policy.arn,
    [STACK_OUTPUT.operatorPolicyArn]: operator.policy.arn,
    [STACK_OUTPUT.alarmTopicArn]: alarm.topic.arn,
    [STACK_OUTPUT.dashboard]: dashboard.dashboard.dashboardName,
    [STACK_OUTPUT.imageCommit]: pulumi.output(revision.commit),
    [STACK_OUTPUT.apiUrl]: api.url,
    [STACK_OUTPUT.apiInvokePolicyArn]: api.invokePolicy.arn,
    [STACK_OUTPUT.completionTopicArn]: api.completions.arn,
  };
}
