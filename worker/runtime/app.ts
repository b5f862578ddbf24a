import { initBackend } from '../../model/backend.js';
import { createInference } from '../../model/inference.js';
import { InferencePool, usesInferencePool } from '../../model/inference-pool.js';
import { ModelCheckFailedError, runModelCheck } from '../../model/self-check.js';
import type { InferenceEngine, LoadedModel } from '../../model/types.js';
import { makeS3Client, makeSqsClient } from './aws-clients.js';
import { RunClaims } from './claims.js';
import type { WorkerConfig } from './config.js';
import { QueueWorker } from './consumer.js';
import { createLogger, type Logger } from './log.js';
import { ModelSource } from './model-source.js';
import { ScaleInProtection } from './protection.js';
import { BucketObjects } from './s3-objects.js';

export interface WorkerApp {
  worker: QueueWorker;
  log: Logger;
  /** Stops polling (see QueueWorker.stop) and closes the SDK clients. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Wires a worker from its parsed config: SDK clients, the TF.js backend, the model in service (warmed now when the
 * bucket has one), and the queue consumer.
 */
export async function createWorkerApp(config: WorkerConfig, log: Logger = createLogger({ worker: config.workerId }, config.logLevel)): Promise<WorkerApp> {
  const s3 = makeS3Client(config.aws);
  const sqs = makeSqsClient(config.aws);
  const backend = await initBackend(config.backend);
  // One inference thread per core, for the life of the process (each model version gets an engine on them); native
  // TensorFlow runs its kernels on every core itself.
  const pool = usesInferencePool(backend.name) ? new InferencePool({ backend: backend.name }) : undefined;
  const objects = new BucketObjects(s3, config.bucket);
  const engines = new WeakMap<LoadedModel, InferenceEngine>();
  const inference = (model: LoadedModel): InferenceEngine => {
    let e = engines.get(model);
    if (!e) engines.set(model, (e = createInference(model, 'fast', pool)));
    return e;
  };
  const models = new ModelSource(objects, config.modelPointerKey, {
    release: (model) => {
      engines.get(model)?.dispose();
      model.layers.dispose();
    },
    // The numbers this worker's backend and engine give must be the reference's before the version serves.
    verify: async (model) => {
      const result = await runModelCheck(model.check, inference(model));
      if (!result.ok) throw new ModelCheckFailedError(model.metadata.version, result, backend.name);
      log.info('model.check-passed', { model: model.metadata.version, backend: backend.name, windows: result.windows, maxAbsDiff: result.maxAbsDiff });
    },
    onRefused: (version, err, kept) => log.error('model.check-failed', { model: version, keptInService: kept, backend: backend.name, error: err }),
  });
  try {
    const model = await models.current();
    log.info('worker.ready', {
      backend: backend.name,
      inferenceThreads: pool?.size ?? 0,
      backendFallbacks: backend.fallbacks,
      model: model.metadata.version,
      codeVersion: config.codeVersion,
    });
  } catch (err) {
    // A version that fails its check here would fail every run: the worker does not start (its messages stay queued).
    if (err instanceof ModelCheckFailedError) {
      s3.destroy();
      sqs.destroy();
      await pool?.close();
      throw err;
    }
    log.warn('worker.ready', { backend: backend.name, model: null, note: 'no model yet: loaded on the first message', error: err });
  }
  const worker = new QueueWorker({
    config,
    sqs,
    log,
    protection: new ScaleInProtection(config.ecsAgentUri, log, { requestLog: config.aws.requestLog }),
    deps: {
      config,
      objects,
      claims: new RunClaims(objects, {
        workerId: config.workerId,
        ttlMs: config.visibilityTimeoutSeconds * 1000,
        renewEveryMs: config.heartbeatSeconds * 1000,
        log,
      }),
      models,
      inference,
      backend: backend.name,
      sqs,
      log,
    },
  });
  let stopping: Promise<void> | undefined;
  return {
    worker,
    log,
    stop: () =>
      (stopping ??= worker.stop().finally(() => {
        s3.destroy();
        sqs.destroy();
        return pool?.close();
      })),
  };
}
