import { ChangeMessageVisibilityCommand, type Message, type SQSClient } from '@aws-sdk/client-sqs';
import { Consumer } from 'sqs-consumer';
import type { WorkerConfig } from './config.js';
import { isAbort } from './failures.js';
import { handleMessage, type HandlerDeps } from './handler.js';
import type { Logger } from './log.js';
import type { ScaleInProtection } from './protection.js';

export interface QueueWorkerOptions {
  config: WorkerConfig;
  sqs: SQSClient;
  deps: HandlerDeps;
  protection: ScaleInProtection;
  log: Logger;
}

/**
 * Long-polls the work queue one message at a time (a worker runs one inference at a time, so a batch would only
 * hold messages other workers could take). Heartbeats keep a long run's message
 * invisible. `stop()` is safe to call twice: it aborts an idle long poll, lets an in-flight run finish
 * within the stop budget, and otherwise hands the message back to the queue.
 */
export class QueueWorker {
  private consumer: Consumer | undefined;
  private inFlight: { message: Message; abort: AbortController } | undefined;
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: QueueWorkerOptions) {}

  start(): void {
    if (this.consumer) return;
    const { config, sqs, log } = this.o;
    this.consumer = Consumer.create({
      queueUrl: config.queueUrl,
      sqs,
      batchSize: 1,
      waitTimeSeconds: config.waitTimeSeconds,
      visibilityTimeout: config.visibilityTimeoutSeconds,
      heartbeatInterval: config.heartbeatSeconds,
      messageSystemAttributeNames: ['ApproximateReceiveCount', 'ApproximateFirstReceiveTimestamp', 'SentTimestamp'],
      messageAttributeNames: ['All'],
      pollingCompleteWaitTimeMs: config.stopBudgetSeconds * 1000,
      strictReturn: true,
      preReceiveMessageCallback: async () => log.debug('consumer.receiving'),
      handleMessage: (m) => this.onMessage(m),
    });
    this.consumer.on('error', (err, m) => {
      // stop() aborts the open long poll on purpose; that abort is not an error.
      if (this.stopping && isAbort(err)) return log.debug('consumer.poll-aborted');
      log.error('consumer.error', { error: err, messageId: (m as Message | undefined)?.MessageId });
    });
    this.consumer.on('processing_error', (err, m) => log.warn('message.will-retry', { error: err, messageId: (m as Message | undefined)?.MessageId }));
    this.consumer.start();
    log.info('worker.polling', { queueUrl: config.queueUrl });
  }

  private async onMessage(m: Message): Promise<Message> {
    // In flight before the protection call (up to 5 s): a SIGTERM meanwhile must wait for this run, not abort it.
    const abort = new AbortController();
    this.inFlight = { message: m, abort };
    try {
      await this.o.protection.acquire();
      const outcome = await handleMessage(this.o.deps, m, abort.signal);
      this.o.log.info('message.done', { messageId: m.MessageId, outcome: outcome.kind });
      return m;
    } finally {
      this.inFlight = undefined;
      await this.o.protection.release();
    }
  }

  /** Resolves once the worker holds no message. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    const consumer = this.consumer;
    if (!consumer) return;
    const { log, config, sqs } = this.o;
    const held = this.inFlight;
    // 'stopped' comes once receive, handler and delete are over; the timeout event first if the budget ran out.
    const timedOut = new Promise<boolean>((resolve) => {
      consumer.once('waiting_for_polling_to_complete_timeout_exceeded', () => resolve(true));
      consumer.once('stopped', () => resolve(false));
    });
    consumer.stop({ abort: !held });
    if ((await timedOut) && this.inFlight) {
      const { message: m, abort } = this.inFlight;
      abort.abort(new Error('worker stopping: message handed back to the queue'));
      await sqs.send(new ChangeMessageVisibilityCommand({ QueueUrl: config.queueUrl, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
      log.warn('worker.stopped', { handedBack: m.MessageId });
      return;
    }
    log.info('worker.stopped', { finished: held?.message.MessageId ?? null });
  }
}
