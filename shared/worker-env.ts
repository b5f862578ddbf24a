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
  /** The git commit the code was built from (the image's OCI revision label). */
  codeCommit: 'CODE_COMMIT',
  /** Seconds; the visibility timeout is a few heartbeats long. */
  heartbeatSeconds: 'HEARTBEAT_SECONDS',
  visibilityTimeoutSeconds: 'VISIBILITY_TIMEOUT_SECONDS',
  /** Set by ECS on Fargate; enables task scale-in protection while a message is held. */
  ecsAgentUri: 'ECS_AGENT_URI',
  logLevel: 'LOG_LEVEL',
  /** The queue's redrive maxReceiveCount, so the last attempt can leave an error record. */
  maxReceiveCount: 'MAX_RECEIVE_COUNT',
  /** Graceful stop budget in seconds: an unfinished run is handed back after it. Below the ECS task's stopTimeout. */
  stopBudgetSeconds: 'STOP_BUDGET_SECONDS',
  waitTimeSeconds: 'WAIT_TIME_SECONDS',
  /** `anchored` (default) or `integrated`. */
  predictionMode: 'PREDICTION_MODE',
  workerId: 'WORKER_ID',
  /** The largest upload a worker reads, in bytes; a larger one is refused as invalid input, naming the limit. */
  maxUploadBytes: 'MAX_UPLOAD_BYTES',
  /** Rows a symbol without a scaler needs in the history before extend-scalers fits it (default 30); named in its skip reason. */
  coldStartMinRows: 'COLD_START_MIN_ROWS',
  /** An upload with more symbols than this is split into shards by symbol, one queue message each (default 2000). */
  shardSymbols: 'SHARD_SYMBOLS',
  /** An upload larger than this many bytes is sharded too (default 128 MiB). */
  shardBytes: 'SHARD_BYTES',
  /** Days covered by `daily/latest_preds.csv` (default 60). */
  dailyWindowDays: 'DAILY_WINDOW_DAYS',
  /** `tensorflow`, `wasm` or `cpu`: forces one TF.js backend (default: the fastest that starts). */
  tfjsBackend: 'TFJS_BACKEND',
  /** Endpoints of S3-compatible services (the SDK's own variable names); unset on AWS. */
  s3Endpoint: 'AWS_ENDPOINT_URL_S3',
  sqsEndpoint: 'AWS_ENDPOINT_URL_SQS',
  /** `true` for stores that need path-style S3 addressing (the embedded stack). */
  s3ForcePathStyle: 'S3_FORCE_PATH_STYLE',
  /** A JSON-lines file: every AWS request the process makes is recorded there (the IAM tests read it). */
  requestLog: 'AWS_REQUEST_LOG',
  /** Who the recorded requests are made as (`worker`, `operator`, ...). */
  requestPrincipal: 'AWS_REQUEST_PRINCIPAL',
} as const;

/** Defaults shared by the queue definition (infra) and the consumer (worker). */
export const QUEUE_DEFAULTS = {
  /**
   * A crashed worker's message is visible again at most visibilityTimeoutSeconds after its last heartbeat: another
   * worker resumes the run within about 30 s. Heartbeats every 10 s keep a live run's message (and its claim) held.
   */
  heartbeatSeconds: 10,
  visibilityTimeoutSeconds: 30,
  waitTimeSeconds: 20,
  maxReceiveCount: 3,
  /** 2 GiB: far above a daily upload of 10,000 symbols (about 1 MB); larger files are backfills to split. */
  maxUploadBytes: 2 * 1024 ** 3,
  /** The ECS task definition's stopTimeout: SIGKILL this long after SIGTERM (Fargate allows at most 120 s). */
  ecsStopTimeoutSeconds: 60,
  /** The worker's own budget after SIGTERM: it hands an unfinished message back and exits inside ecsStopTimeoutSeconds. */
  stopBudgetSeconds: 45,
  /** The cold-start rule's threshold (`npm run model -- extend-scalers --min-rows`). */
  coldStartMinRows: 30,
  shardSymbols: 2000,
  shardBytes: 128 * 1024 ** 2,
} as const;

/**
 * Names of the Pulumi stack's outputs (`pulumi stack output --json`), read by every command run with `--target aws`.
 */
export const STACK_OUTPUT = {
  testUrl: 'test_url',
  predUrl: 'pred_url',
  bucket: 'bucket_name',
  queueUrl: 'queue_url',
  dlqUrl: 'dlq_url',
  region: 'region',
  cluster: 'cluster_name',
  service: 'service_name',
  repositoryUrl: 'repository_url',
  imageRef: 'image_ref',
  teamPolicyArn: 'team_policy_arn',
  operatorPolicyArn: 'operator_policy_arn',
  dashboard: 'dashboard_name',
  imageCommit: 'image_commit',
  alarmTopicArn: 'alarm_topic_arn',
  /** The REST API's base URL (IAM-authorized), the policy that may call it, and the run-finished SNS topic. */
  apiUrl: 'api_url',
  apiInvokePolicyArn: 'api_invoke_policy_arn',
  completionTopicArn: 'completion_topic_arn',
} as const;

/** The API's environment (the Lambda's, set by infra/api.ts; the local server passes the same values in code). */
export const API_ENV = {
  bucket: 'BUCKET',
  /** The largest CSV body POST /runs takes, in bytes (default API_DEFAULTS.maxBodyBytes). */
  maxBodyBytes: 'API_MAX_BODY_BYTES',
  /** Seconds a presigned URL stays valid. */
  presignSeconds: 'API_PRESIGN_SECONDS',
} as const;

export const API_DEFAULTS = {
  /**
   * 4 MiB: the Lambda's synchronous payload limit is 6 MB, and a body API Gateway passes base64-encoded grows by a
   * third. Larger files go through POST /runs/uploads (a presigned PUT straight to S3).
   */
  maxBodyBytes: 4 * 1024 * 1024,
  presignSeconds: 900,
} as const;
