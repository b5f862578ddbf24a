/**
 * The environment contract between the deployment (Pulumi task definition, local stack) and the worker.
 * Names only: parsing lives with the worker.
 */
export const WORKER_ENV = {
  queueUrl: 'WORK_QUEUE_URL',
  dlqUrl: 'DLQ_URL',
  bucket: 'BUCKET',
  /** Key of the model pointer in the bucket (default `models/current.json`). */
  modelPointerKey: 'MODEL_POINTER_KEY',
  /** Image tag or digest, or a git commit: recorded in every manifest. */
  codeVersion: 'CODE_VERSION',
  /** Seconds; the visibility timeout is a few heartbeats long. */
  heartbeatSeconds: 'HEARTBEAT_SECONDS',
  visibilityTimeoutSeconds: 'VISIBILITY_TIMEOUT_SECONDS',
  /** Set by ECS on Fargate; enables task scale-in protection while a message is held. */
  ecsAgentUri: 'ECS_AGENT_URI',
  logLevel: 'LOG_LEVEL',
} as const;

/** Defaults shared by the queue definition (infra) and the consumer (worker). */
export const QUEUE_DEFAULTS = {
  heartbeatSeconds: 20,
  visibilityTimeoutSeconds: 90,
  waitTimeSeconds: 20,
  maxReceiveCount: 3,
  /** ECS allows at most 120 s on Fargate; the worker exits well inside it. */
  stopTimeoutSeconds: 60,
} as const;
