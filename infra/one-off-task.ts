import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { policyJson, type Statement, type TrustStatement } from './policy.js';

export interface OneOffTaskArgs {
  /** What the schedule is for (the schedule's description). */
  description: string;
  /** The container's name, also its log streams' prefix. */
  containerName: string;
  /** The container's command: the image's entry of this task (`['node', 'dist/worker/commands/<x>.js', ...]`). */
  command: string[];
  cpu: number;
  memory: number;
  /** EventBridge Scheduler expression, evaluated in UTC. */
  scheduleExpression: string;
  /** What the task's code may do, and nothing else: the task role's statements. */
  taskStatements: Statement[];
  environment: Record<string, pulumi.Input<string>>;
  logRetentionDays: number;
  imageRef: pulumi.Input<string>;
  repositoryArn: pulumi.Input<string>;
  region: pulumi.Input<string>;
  accountId: pulumi.Input<string>;
  /** The cluster the tasks run in (not the workers' service cluster). */
  clusterArn: pulumi.Input<string>;
  subnetIds: pulumi.Input<string>[];
  securityGroupId: pulumi.Input<string>;
}

/** A run that fails to start (capacity, throttling) is retried for an hour, then dropped: the next run comes on schedule. */
const RETRY = { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 };

/**
 * A task of the worker image run on a schedule, to completion: its task definition (the image with another command),
 * its own task role, execution role and log group, and an EventBridge Scheduler schedule whose role may run only
 * this task definition in this cluster and pass only its two roles.
 */
export class OneOffTask extends pulumi.ComponentResource {
  readonly taskDefinition: aws.ecs.TaskDefinition;
  readonly taskRole: aws.iam.Role;
  readonly executionRole: aws.iam.Role;
  readonly schedulerRole: aws.iam.Role;
  readonly logGroup: aws.cloudwatch.LogGroup;
  readonly schedule: aws.scheduler.Schedule;

  constructor(name: string, args: OneOffTaskArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:OneOffTask', name, {}, opts);
    const parent = { parent: this };
    const containerName = args.containerName;

    this.logGroup = new aws.cloudwatch.LogGroup(`${name}-logs`, { retentionInDays: args.logRetentionDays }, parent);

    const ecsTrust: TrustStatement = {
      Effect: 'Allow',
      Principal: { Service: 'ecs-tasks.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': args.accountId } },
    };
    this.taskRole = new aws.iam.Role(`${name}-task-role`, { assumeRolePolicy: policyJson([ecsTrust]) }, parent);
    const taskPolicy = new aws.iam.RolePolicy(`${name}-task-role`, { role: this.taskRole.id, policy: policyJson(args.taskStatements) }, parent);

    this.executionRole = new aws.iam.Role(`${name}-execution-role`, { assumeRolePolicy: policyJson([ecsTrust]) }, parent);
    const executionPolicy = new aws.iam.RolePolicy(
      `${name}-execution-role`,
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
            Resource: [this.logGroup.arn, pulumi.interpolate`${this.logGroup.arn}:*`],
          },
        ]),
      },
      parent,
    );

    this.taskDefinition = new aws.ecs.TaskDefinition(
      `${name}-task-definition`,
      {
        family: `${name}-${pulumi.getStack()}`,
        requiresCompatibilities: ['FARGATE'],
        networkMode: 'awsvpc',
        cpu: String(args.cpu),
        memory: String(args.memory),
        runtimePlatform: { operatingSystemFamily: 'LINUX', cpuArchitecture: 'X86_64' },
        taskRoleArn: this.taskRole.arn,
        executionRoleArn: this.executionRole.arn,
        containerDefinitions: pulumi.jsonStringify([
          {
            name: containerName,
            image: args.imageRef,
            essential: true,
            command: args.command,
            environment: Object.entries(args.environment).map(([envName, value]) => ({ name: envName, value })),
            linuxParameters: { initProcessEnabled: true },
            logConfiguration: {
              logDriver: 'awslogs',
              options: { 'awslogs-group': this.logGroup.name, 'awslogs-region': args.region, 'awslogs-stream-prefix': containerName },
            },
          },
        ]),
      },
      parent,
    );

    const schedulerTrust: TrustStatement = {
      Effect: 'Allow',
      Principal: { Service: 'scheduler.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': args.accountId } },
    };
    // "arn:...:cluster/<name>" -> "arn:...:task/<name>/*": the tasks RunTask starts in that cluster.
    const clusterTasks = pulumi.output(args.clusterArn).apply((arn) => `${arn.replace(':cluster/', ':task/')}/*`);
    this.schedulerRole = new aws.iam.Role(`${name}-scheduler-role`, { assumeRolePolicy: policyJson([schedulerTrust]) }, parent);
    const schedulerPolicy = new aws.iam.RolePolicy(
      `${name}-scheduler-role`,
      {
        role: this.schedulerRole.id,
        policy: policyJson([
          // This revision only, in this cluster only.
          {
            Sid: 'RunThisTask',
            Effect: 'Allow',
            Action: ['ecs:RunTask'],
            Resource: [this.taskDefinition.arn],
            Condition: { ArnEquals: { 'ecs:cluster': args.clusterArn } },
          },
          // The task carries its definition's tags (cost allocation): tagging on RunTask needs ecs:TagResource.
          {
            Sid: 'TagTheTaskItStarts',
            Effect: 'Allow',
            Action: ['ecs:TagResource'],
            Resource: [clusterTasks],
            Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } },
          },
          {
            Sid: 'PassTheTaskRoles',
            Effect: 'Allow',
            Action: ['iam:PassRole'],
            Resource: [this.taskRole.arn, this.executionRole.arn],
            Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
          },
        ]),
      },
      parent,
    );

    this.schedule = new aws.scheduler.Schedule(
      name,
      {
        description: args.description,
        scheduleExpression: args.scheduleExpression,
        scheduleExpressionTimezone: 'UTC',
        flexibleTimeWindow: { mode: 'OFF' },
        target: {
          arn: args.clusterArn,
          roleArn: this.schedulerRole.arn,
          ecsParameters: {
            taskDefinitionArn: this.taskDefinition.arn,
            launchType: 'FARGATE',
            platformVersion: 'LATEST',
            taskCount: 1,
            // The workers' subnets and security group: a public IP to reach ECR and the AWS APIs, nothing inbound.
            networkConfiguration: { subnets: args.subnetIds, securityGroups: [args.securityGroupId], assignPublicIp: true },
            propagateTags: 'TASK_DEFINITION',
            enableEcsManagedTags: true,
          },
          retryPolicy: RETRY,
        },
      },
      // The first run finds its roles' policies in place.
      { parent: this, dependsOn: [taskPolicy, executionPolicy, schedulerPolicy] },
    );

    this.registerOutputs({ scheduleName: this.schedule.name, taskDefinitionArn: this.taskDefinition.arn });
  }
}
