import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { MODEL_POINTER_KEY } from '../shared/layout.js';
import { QUEUE_DEFAULTS, WORKER_ENV } from '../shared/worker-env.js';
import { WorkerRoles } from './worker-roles.js';

export interface WorkerServiceArgs {
  cpu: number;
  memory: number;
  /** The service's count when created; Application Auto Scaling owns it afterwards. */
  initialCount: number;
  /** The queue's redrive count: the worker's last attempt at a message also leaves an error record. */
  maxReceiveCount: number;
  logRetentionDays: number;
  imageRef: pulumi.Input<string>;
  /** The git commit the image holds (recorded in every manifest). */
  codeCommit: string;
  repositoryArn: pulumi.Input<string>;
  region: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  bucketName: pulumi.Input<string>;
  bucketArn: pulumi.Input<string>;
  workQueueUrl: pulumi.Input<string>;
  workQueueArn: pulumi.Input<string>;
  dlqUrl: pulumi.Input<string>;
  dlqArn: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
  /** What the tasks need from start to stop besides their roles (the network's routes). */
  dependsOn?: pulumi.Resource[];
}

const CONTAINER_NAME = 'worker';

/** The Fargate workers: cluster (with Container Insights, whose task counts drive the scaling), task definition, service. */
export class WorkerService extends pulumi.ComponentResource {
  readonly cluster: aws.ecs.Cluster;
  readonly service: aws.ecs.Service;
  readonly taskDefinition: aws.ecs.TaskDefinition;
  readonly logGroup: aws.cloudwatch.LogGroup;

  constructor(name: string, args: WorkerServiceArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:WorkerService', name, {}, opts);
    const parent = { parent: this };

    this.cluster = new aws.ecs.Cluster(name, { settings: [{ name: 'containerInsights', value: 'enabled' }] }, parent);
    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: args.logRetentionDays }, parent);

    const roles = new WorkerRoles(
      `${name}-roles`,
      {
        accountId: args.accountId,
        bucketArn: args.bucketArn,
        workQueueArn: args.workQueueArn,
        dlqArn: args.dlqArn,
        repositoryArn: args.repositoryArn,
        logGroupArn: this.logGroup.arn,
        clusterArn: this.cluster.arn,
      },
      parent,
    );

    const environment: Record<string, pulumi.Input<string>> = {
      [WORKER_ENV.queueUrl]: args.workQueueUrl,
      [WORKER_ENV.dlqUrl]: args.dlqUrl,
      [WORKER_ENV.bucket]: args.bucketName,
      [WORKER_ENV.modelPointerKey]: MODEL_POINTER_KEY,
      [WORKER_ENV.codeVersion]: args.imageRef,
      [WORKER_ENV.codeCommit]: args.codeCommit,
      [WORKER_ENV.heartbeatSeconds]: String(QUEUE_DEFAULTS.heartbeatSeconds),
      [WORKER_ENV.visibilityTimeoutSeconds]: String(QUEUE_DEFAULTS.visibilityTimeoutSeconds),
      [WORKER_ENV.waitTimeSeconds]: String(QUEUE_DEFAULTS.waitTimeSeconds),
      [WORKER_ENV.maxReceiveCount]: String(args.maxReceiveCount),
      [WORKER_ENV.stopBudgetSeconds]: String(QUEUE_DEFAULTS.stopBudgetSeconds),
      AWS_REGION: args.region,
    };

    this.taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task`,
      {
        family: `${name}-${pulumi.getStack()}`,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: String(args.cpu),
        memory: String(args.memory),
        runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
        taskRoleArn: roles.taskRole.arn,
        executionRoleArn: roles.executionRole.arn,
        containerDefinitions: pulumi.jsonStringify([
          {
            name: CONTAINER_NAME,
            image: args.imageRef,
            essential: true,
            environment: Object.entries(environment).map(([envName, value]) => ({ name: envName, value })),
            // The worker finishes or hands back its message on SIGTERM within its own budget (STOP_BUDGET_SECONDS),
            // well inside this one (Fargate allows 120 s at most).
            stopTimeout: QUEUE_DEFAULTS.ecsStopTimeoutSeconds,
            // An init process as PID 1 forwards SIGTERM to node and reaps children.
            linuxParameters: { initProcessEnabled: true },
            logConfiguration: {
              logDriver: 'awslogs',
              options: { 'awslogs-group': this.logGroup.name, 'awslogs-region': args.region, 'awslogs-stream-prefix': CONTAINER_NAME },
            },
          },
        ]),
      },
      parent,
    );

    this.service = new aws.ecs.Service(
      name,
      {
        cluster: this.cluster.arn,
        taskDefinition: this.taskDefinition.arn,
        desiredCount: args.initialCount,
        launchType: 'FARGATE',
        platformVersion: 'LATEST',
        networkConfiguration: { subnets: args.subnetIds, securityGroups: [args.securityGroupId], assignPublicIp: true },
        deploymentCircuitBreaker: { enable: true, rollback: true },
        // `pulumi up` waits for the new tasks to run and stay up: a crash-looping image fails the deploy (and the
        // circuit breaker rolls the service back) instead of reporting success.
        waitForSteadyState: true,
        // Two subnets in two Availability Zones: ECS spreads the tasks over them, and moves them back after a zone recovers.
        availabilityZoneRebalancing: 'ENABLED',
        enableEcsManagedTags: true,
        propagateTags: 'SERVICE',
      },
      // Created after, and destroyed before, the roles' policies and the routes its tasks use.
      { parent: this, ignoreChanges: ['desiredCount'], dependsOn: [...roles.policies, ...(args.dependsOn ?? [])] },
    );

    this.registerOutputs({ clusterName: this.cluster.name, serviceName: this.service.name });
  }
}
