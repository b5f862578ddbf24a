import { expect } from 'chai';
import { QUEUE_DEFAULTS } from '../../shared/worker-env.js';
import { programRun, changedRun, single, ofType, statements, type StackRun } from './fixture.js';
import { ACCOUNT } from './mocks.js';

const DAY = 86_400;

describe('infra: bucket, queues and the upload notification', () => {
  let run: StackRun;
  let bucketArn: string;
  let workArn: string;
  let dlqArn: string;
  before(async () => {
    run = await programRun();
    bucketArn = single(run.resources, 'aws:s3/bucket:Bucket').state.arn;
    workArn = single(run.resources, 'aws:sqs/queue:Queue', '-work').state.arn;
    dlqArn = single(run.resources, 'aws:sqs/queue:Queue', '-dlq').state.arn;
  });

  describe('bucket', () => {
    it('is versioned, SSE-encrypted and blocks every kind of public access', () => {
      const bucket = single(run.resources, 'aws:s3/bucket:Bucket');
      expect(bucket.inputs.forceDestroy).to.equal(false);
      expect(bucketArn).to.equal(`arn:aws:s3:::${run.outputs.bucket_name}`);
      expect(single(run.resources, 'aws:s3/bucketVersioning:BucketVersioning').inputs).to.deep.include({
        bucket: run.outputs.bucket_name,
        versioningConfiguration: { status: 'Enabled' },
      });
      const sse = single(run.resources, 'aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration').inputs;
      expect(sse.bucket).to.equal(run.outputs.bucket_name);
      expect(sse.rules).to.deep.equal([{ applyServerSideEncryptionByDefault: { sseAlgorithm: 'AES256' } }]);
      expect(single(run.resources, 'aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock').inputs).to.deep.equal({
        bucket: run.outputs.bucket_name,
        blockPublicAcls: true,
        blockPublicPolicy: true,
        ignorePublicAcls: true,
        restrictPublicBuckets: true,
      });
    });

    it("denies every request that does not use TLS, and any PUT under the create-only prefixes (runs/, history/, registry/log/, accuracy/, a model version's folder) that could overwrite", () => {
      const policy = single(run.resources, 'aws:s3/bucketPolicy:BucketPolicy');
      expect(policy.inputs.bucket).to.equal(run.outputs.bucket_name);
      expect(statements(policy.inputs.policy)).to.deep.equal([
        {
          Sid: 'DenyOverwritesOfCreateOnlyPrefixes',
          Effect: 'Deny',
          Principal: '*',
          Action: ['s3:PutObject'],
          Resource: [`${bucketArn}/runs/*`, `${bucketArn}/history/*`, `${bucketArn}/registry/log/*`, `${bucketArn}/accuracy/*`, `${bucketArn}/models/*/*`],
          Condition: { Null: { 's3:if-none-match': 'true' } },
        },
        {
          Sid: 'DenyInsecureTransport',
          Effect: 'Deny',
          Principal: '*',
          Action: ['s3:*'],
          Resource: [bucketArn, `${bucketArn}/*`],
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        },
      ]);
    });

    it('has lifecycle rules that expire nothing but the run claims (so nothing under runs/ goes away)', () => {
      const { rules } = single(run.resources, 'aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration').inputs;
      expect(rules).to.have.length.greaterThan(0);
      for (const rule of rules) {
        expect(rule.status).to.equal('Enabled');
        if (rule.id === 'expire-run-claims') {
          expect(rule.filter).to.deep.equal({ prefix: 'claims/' });
          expect(rule.expiration).to.deep.equal({ days: 7 });
          continue;
        }
        expect(rule, rule.id).to.not.have.any.keys('expiration', 'noncurrentVersionExpiration');
      }
      const transition = rules.find((r: any) => r.noncurrentVersionTransitions);
      expect(transition.noncurrentVersionTransitions).to.deep.equal([{ noncurrentDays: 30, storageClass: 'STANDARD_IA' }]);
    });
  });

  describe('queues', () => {
    it('encrypts both queues with SQS-managed keys and long-polls them', () => {
      for (const queue of ofType(run.resources, 'aws:sqs/queue:Queue')) {
        expect(queue.inputs, queue.name).to.include({ sqsManagedSseEnabled: true, receiveWaitTimeSeconds: 20 });
        expect(queue.inputs, queue.name).to.not.have.property('kmsMasterKeyId');
        expect(queue.inputs.maxMessageSize, queue.name).to.be.at.least(64 * 1024);
      }
      expect(ofType(run.resources, 'aws:sqs/queue:Queue')).to.have.lengthOf(2);
    });

    it('keeps DLQ messages 14 days, longer than the work queue keeps its own', () => {
      const work = single(run.resources, 'aws:sqs/queue:Queue', '-work').inputs;
      const dlq = single(run.resources, 'aws:sqs/queue:Queue', '-dlq').inputs;
      expect(dlq.messageRetentionSeconds).to.equal(14 * DAY);
      expect(work.messageRetentionSeconds).to.be.below(dlq.messageRetentionSeconds);
    });

    it('gives the work queue a visibility timeout a few worker heartbeats long: a crashed run resumes within 30 s', () => {
      const work = single(run.resources, 'aws:sqs/queue:Queue', '-work').inputs;
      expect(work.visibilityTimeoutSeconds).to.equal(30);
      expect(work.visibilityTimeoutSeconds).to.equal(3 * QUEUE_DEFAULTS.heartbeatSeconds);
    });

    it('redrives the work queue to the DLQ after maxReceiveCount, and the DLQ accepts only the work queue', () => {
      const work = single(run.resources, 'aws:sqs/queue:Queue', '-work').inputs;
      expect(JSON.parse(work.redrivePolicy)).to.deep.equal({ deadLetterTargetArn: dlqArn, maxReceiveCount: 3 });
      const allow = single(run.resources, 'aws:sqs/redriveAllowPolicy:RedriveAllowPolicy').inputs;
      expect(allow.queueUrl).to.equal(run.outputs.dlq_url);
      expect(JSON.parse(allow.redriveAllowPolicy)).to.deep.equal({ redrivePermission: 'byQueue', sourceQueueArns: [workArn] });
    });

    it('takes maxReceiveCount from the stack config', async () => {
      const changed = await changedRun();
      const work = single(changed.resources, 'aws:sqs/queue:Queue', '-work').inputs;
      const changedDlqArn = single(changed.resources, 'aws:sqs/queue:Queue', '-dlq').state.arn;
      expect(JSON.parse(work.redrivePolicy)).to.deep.equal({ deadLetterTargetArn: changedDlqArn, maxReceiveCount: 7 });
    });
  });

  describe('upload notification', () => {
    it('sends s3:ObjectCreated:* for incoming/*.csv to the work queue', () => {
      const notification = single(run.resources, 'aws:s3/bucketNotification:BucketNotification').inputs;
      expect(notification.bucket).to.equal(run.outputs.bucket_name);
      expect(notification.queues).to.deep.equal([
        { id: 'incoming-csv-to-work-queue', queueArn: workArn, events: ['s3:ObjectCreated:*'], filterPrefix: 'incoming/', filterSuffix: '.csv' },
      ]);
      expect(notification).to.not.have.any.keys('topics', 'lambdaFunctions');
      // Object events also reach EventBridge, for the API's run-finished rule (test/infra/api.test.ts).
      expect(notification.eventbridge).to.equal(true);
    });

    it('lets only S3, for this bucket in this account, send to the work queue (Allow statements only)', () => {
      const policy = single(run.resources, 'aws:sqs/queuePolicy:QueuePolicy');
      expect(policy.inputs.queueUrl).to.equal(run.outputs.queue_url);
      const all = statements(policy.inputs.policy);
      expect(all.map((s) => s.Effect)).to.deep.equal(['Allow']);
      expect(all[0]).to.deep.include({
        Principal: { Service: 's3.amazonaws.com' },
        Action: ['sqs:SendMessage'],
        Resource: [workArn],
        Condition: { ArnEquals: { 'aws:SourceArn': bucketArn }, StringEquals: { 'aws:SourceAccount': ACCOUNT } },
      });
    });

    it('is created after the queue policy (S3 validates the destination when the notification is put)', () => {
      const policy = single(run.resources, 'aws:sqs/queuePolicy:QueuePolicy');
      const notification = single(run.resources, 'aws:s3/bucketNotification:BucketNotification');
      expect(notification.dependencies).to.include(policy.urn);
      expect(run.resources.indexOf(notification)).to.be.greaterThan(run.resources.indexOf(policy));
    });
  });
});
