import {
  ChangeMessageVisibilityCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { expect } from 'chai';
import { makeSqsClient } from '../../../worker/runtime/aws-clients.js';
import type { LocalStack } from '../../../worker/local/stack.js';
import { queueDepth, tempStack } from '../../helpers/local-stack.js';

/** The work queue's redrive policy and the fixes of worker/local/sqs-compat.ts, through the SQS protocol. */
describe('local SQS: redrive policy and receive counts', () => {
  let stack: LocalStack;
  let cleanup: () => Promise<void>;
  let sqs: SQSClient;

  before(async () => {
    ({ stack, cleanup } = await tempStack({ visibilityTimeoutSeconds: 1, maxReceiveCount: 2 }));
    sqs = makeSqsClient(stack.clients);
  });
  after(async () => {
    sqs?.destroy();
    await cleanup?.();
  });

  async function receiveOne(queueUrl: string, waitSeconds = 2): Promise<Message | undefined> {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        WaitTimeSeconds: waitSeconds,
        VisibilityTimeout: 1,
        MessageSystemAttributeNames: ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SentTimestamp', 'DeadLetterQueueSourceArn'],
        MessageAttributeNames: ['All'],
      }),
    );
    return Messages[0];
  }

  /** Deletes everything, waiting out messages still in flight. */
  async function drain(queueUrl: string): Promise<void> {
    for (;;) {
      const depth = await queueDepth(sqs, queueUrl);
      if (depth.visible + depth.inFlight === 0) return;
      const m = await receiveOne(queueUrl, 1);
      if (m) await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: m.ReceiptHandle! }));
    }
  }
  afterEach(async () => {
    await drain(stack.queueUrl);
    await drain(stack.dlqUrl);
  });

  it('returns system attributes asked for with MessageSystemAttributeNames', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: 'attrs' }));
    const m = await receiveOne(stack.queueUrl);
    expect(m?.Attributes?.ApproximateReceiveCount).to.equal('1');
    expect(Number(m?.Attributes?.ApproximateFirstReceiveTimestamp)).to.be.closeTo(Date.now(), 10_000);
  });

  it('moves a message received maxReceiveCount times without a delete to the DLQ, with its id and receive history', async () => {
    const sent = await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: 'always fails' }));
    const first = await receiveOne(stack.queueUrl);
    expect(first?.Attributes?.ApproximateReceiveCount).to.equal('1');
    const second = await receiveOne(stack.queueUrl, 3);
    expect(second?.MessageId).to.equal(sent.MessageId);
    expect(second?.Attributes?.ApproximateReceiveCount).to.equal('2');

    const dead = await receiveOne(stack.dlqUrl, 5);
    expect(dead?.MessageId, 'SQS moves the message itself').to.equal(sent.MessageId);
    expect(dead?.Body).to.equal('always fails');
    expect(dead?.Attributes?.DeadLetterQueueSourceArn).to.equal('arn:aws:sqs:us-east-1:000000000000:crypto-open-work');
    expect(dead?.Attributes?.ApproximateReceiveCount, 'two on the work queue, one here').to.equal('3');
    expect(dead?.Attributes?.ApproximateFirstReceiveTimestamp).to.equal(first?.Attributes?.ApproximateFirstReceiveTimestamp);
    expect(await queueDepth(sqs, stack.queueUrl)).to.deep.equal({ visible: 0, inFlight: 0 });
  });

  it('does not count ChangeMessageVisibility (a heartbeat) as a receive', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: 'heartbeats' }));
    const m = await receiveOne(stack.queueUrl);
    for (let i = 0; i < 3; i++) {
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: stack.queueUrl, ReceiptHandle: m!.ReceiptHandle!, VisibilityTimeout: 1 }));
    }
    // The long poll (3 s) waits out the last 1 s visibility timeout.
    const again = await receiveOne(stack.queueUrl, 3);
    expect(again?.MessageId, 'redelivered, not dead-lettered').to.equal(m?.MessageId);
    expect(again?.Attributes?.ApproximateReceiveCount).to.equal('2');
  });

  it('returns a long poll for several messages with what is there, each message once', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: 'one' }));
    await sqs.send(new SendMessageCommand({ QueueUrl: stack.queueUrl, MessageBody: 'two' }));
    // Visibility (1 s) ends within the wait (3 s): a poll that kept collecting would return them twice.
    const { Messages = [] } = await sqs.send(new ReceiveMessageCommand({ QueueUrl: stack.queueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 3 }));
    expect(Messages.map((m) => m.Body).sort()).to.deep.equal(['one', 'two']);
  });
});
