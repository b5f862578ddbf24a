import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';
import { policyJson, type TrustStatement } from './policy.js';

export interface QueueScheduleArgs {
  description: string;
  /** EventBridge Scheduler expression, evaluated in UTC. */
  scheduleExpression: string;
  queueArn: pulumi.Input<string>;
  /** The message body sent on each run. */
  message: unknown;
  accountId: pulumi.Input<string>;
}

/** A send that fails (throttling) is retried for an hour, then dropped: the next run comes on schedule. */
const RETRY = { maximumRetryAttempts: 3, maximumEventAgeInSeconds: 3600 };

/**
 * An EventBridge Scheduler schedule that sends one fixed message to a queue. Its role may send to that queue and do
 * nothing else (the queues use SSE-SQS, so no KMS key is involved).
 */
export class QueueSchedule extends pulumi.ComponentResource {
  readonly role: aws.iam.Role;
  readonly schedule: aws.scheduler.Schedule;

  constructor(name: string, args: QueueScheduleArgs, opts?: pulumi.ComponentResourceOptions) {
    super('crypto-open-fleet:infra:QueueSchedule', name, {}, opts);
    const parent = { parent: this };

    const trust: TrustStatement = {
      Effect: 'Allow',
      Principal: { Service: 'scheduler.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': args.accountId } },
    };
    this.role = new aws.iam.Role(`${name}-scheduler-role`, { assumeRolePolicy: policyJson([trust]) }, parent);
    const policy = new aws.iam.RolePolicy(
      `${name}-scheduler-role`,
      { role: this.role.id, policy: policyJson([{ Sid: 'SendToTheQueue', Effect: 'Allow', Action: ['sqs:SendMessage'], Resource: [args.queueArn] }]) },
      parent,
    );

    this.schedule = new aws.scheduler.Schedule(
      name,
      {
        description: args.description,
        scheduleExpression: args.scheduleExpression,
        scheduleExpressionTimezone: 'UTC',
        flexibleTimeWindow: { mode: 'OFF' },
        target: { arn: args.queueArn, roleArn: this.role.arn, input: JSON.stringify(args.message), retryPolicy: RETRY },
      },
      { parent: this, dependsOn: [policy] },
    );

    this.registerOutputs({ scheduleName: this.schedule.name });
  }
}
