import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { teamUrls } from '../shared/layout.js';
import { STACK_OUTPUT } from '../shared/worker-env.js';
import { DlqAlarm } from './alarms.js';
import { WorkerAutoscaling } from './autoscaling.js';
import { DataBucket } from './bucket.js';
import type { InfraConfig } from './config.js';
import { WorkerImage } from './image.js';
import { Network } from './network.js';
import { WorkQueues } from './queues.js';
import { TeamAccess } from './team-access.js';
import { UploadTrigger } from './upload-trigger.js';
import { WorkerService } from './worker-service.js';

export interface StackArgs {
  config: InfraConfig;
  /** Docker build context holding the worker's `Dockerfile` (the repository root). */
  imageContext: string;
}

export type StackOutputs = Record<(typeof STACK_OUTPUT)[keyof typeof STACK_OUTPUT], pulumi.Output<string>>;

const NAME = 'fleet';

/** Builds every resource of the stack from its parsed config and returns the stack outputs. */
export function createStack({ config, imageContext }: StackArgs): StackOutputs {
  const accountId = aws.getCallerIdentityOutput().accountId;
  const region = aws.getRegionOutput().region;
  const zones = aws.getAvailabilityZonesOutput({ state: 'available' }).names;

  const bucket = new DataBucket(`${NAME}-data`, { forceDestroy: config.forceDestroy });
  const queues = new WorkQueues(NAME, { maxReceiveCount: config.maxReceiveCount });
  new UploadTrigger(`${NAME}-uploads`, {
    bucketId: bucket.bucket.id,
    bucketArn: bucket.arn,
    queueUrl: queues.work.url,
    queueArn: queues.work.arn,
    accountId,
  });

  const network = new Network(`${NAME}-net`, { availabilityZones: zones });
  const image = new WorkerImage(`${NAME}-worker`, { context: imageContext, forceDestroy: config.forceDestroy });
  const workers = new WorkerService(`${NAME}-worker`, {
    cpu: config.workerCpu,
    memory: config.workerMemory,
    initialCount: config.minWorkers,
    maxReceiveCount: config.maxReceiveCount,
    logRetentionDays: config.logRetentionDays,
    imageRef: image.ref,
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
    dependsOn: network.routeAssociations,
  });

  new WorkerAutoscaling(`${NAME}-scaling`, {
    clusterName: workers.cluster.name,
    serviceName: workers.service.name,
    workQueueName: queues.work.name,
    minWorkers: config.minWorkers,
    maxWorkers: config.maxWorkers,
    backlogPerWorker: config.backlogPerWorker,
  });
  const alarm = new DlqAlarm(`${NAME}-alarms`, { dlqName: queues.dlq.name, email: config.alarmEmail });
  const team = new TeamAccess(`${NAME}-team`, { bucketArn: bucket.arn });

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
    [STACK_OUTPUT.alarmTopicArn]: alarm.topic.arn,
  };
}
