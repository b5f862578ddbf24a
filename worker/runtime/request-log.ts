import fs from 'node:fs';
import path from 'node:path';

/**
 * What one AWS request needs for authorization, copied out of the command's input (never a reference to it).
 * Only the fields IAM looks at: names of the resource, and the request values that become condition keys.
 */
export interface AuthParams {
  // S3
  bucket?: string;
  key?: string;
  /** Kept as the value: `s3:versionid` is a condition key; its presence alone switches GetObject to GetObjectVersion. */
  versionId?: string;
  prefix?: string;
  delimiter?: string;
  maxKeys?: number;
  /** CopyObject / UploadPartCopy: `<bucket>/<key>[?versionId=<id>]`, URL-encoded as sent. */
  copySource?: string;
  /** DeleteObjects: every key (and version) of the batch; each is authorized on its own. */
  objects?: { key: string; versionId?: string }[];
  ifNoneMatch?: string;
  ifMatch?: string;
  serverSideEncryption?: string;
  // SQS
  queueUrl?: string;
  queueName?: string;
  queueOwner?: string;
  hasMessageAttributes?: boolean;
  /** Batch operations: how many entries. */
  entries?: number;
  // CloudWatch
  namespace?: string;
  // ECS
  cluster?: string;
  tasks?: string[];
  taskDefinition?: string;
  /** RunTask overrides that pass a role. */
  overrideRoleArns?: string[];
  // EventBridge Scheduler
  scheduleName?: string;
  groupName?: string;
  targetRoleArn?: string;
  // Lambda
  functionName?: string;
  qualifier?: string;
  // API Gateway (execute-api, signed HTTP rather than an SDK command: recorded with RequestLog.add)
  apiId?: string;
  stage?: string;
  method?: string;
  path?: string;
}

export interface RecordedRequest {
  /** Who made it, as the test names it: 'worker', 'team', 'operator:dlq', ... */
  principal: string;
  /** The IAM service prefix: 's3', 'sqs', 'ecs', ... */
  service: string;
  /** The API operation: the command's name without `Command` ('HeadObject'). */
  operation: string;
  /** The client's region (SQS local queue URLs carry none). */
  region: string;
  params: AuthParams;
  /**
   * Global condition keys of a request made by a service, not by code (S3 publishing an event to the queue:
   * `aws:SourceArn`, `aws:SourceAccount`), for requests added with RequestLog.add.
   */
  context?: Record<string, string>;
}

/** SDK v3 client name -> IAM service prefix, for the clients this project uses or plans to. */
const SERVICE_OF_CLIENT: Record<string, string> = {
  S3Client: 's3',
  SQSClient: 'sqs',
  ECSClient: 'ecs',
  CloudWatchClient: 'cloudwatch',
  STSClient: 'sts',
  SchedulerClient: 'scheduler',
  LambdaClient: 'lambda',
};

/** Where requests are recorded, and as whom (`worker`, `operator`, `team`, ...). */
export interface RequestLogSettings {
  /** A JSON-lines file, appended to by every process that records (one line per request). */
  file: string;
  principal: string;
}

/** The part of an SDK v3 client the recorder uses. */
interface RecordableClient {
  middlewareStack: { add(middleware: unknown, options: { step: 'initialize'; priority: 'high'; name: string }): void; identify(): string[] };
  config: { region: string | (() => Promise<string>) };
}

const MIDDLEWARE_NAME = 'iamRequestLog';

type Input = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** The authorization-relevant fields of a command input; unknown commands still get the common ones. */
export function authParams(input: Input): AuthParams {
  const p: AuthParams = {};
  const set = <K extends keyof AuthParams>(k: K, v: AuthParams[K] | undefined) => {
    if (v !== undefined) p[k] = v;
  };
  set('bucket', str(input.Bucket));
  set('key', str(input.Key));
  set('versionId', str(input.VersionId));
  set('prefix', str(input.Prefix));
  set('delimiter', str(input.Delimiter));
  set('maxKeys', typeof input.MaxKeys === 'number' ? input.MaxKeys : undefined);
  set('copySource', str(input.CopySource));
  set('ifNoneMatch', str(input.IfNoneMatch));
  set('ifMatch', str(input.IfMatch));
  set('serverSideEncryption', str(input.ServerSideEncryption));
  const del = input.Delete as { Objects?: { Key?: string; VersionId?: string }[] } | undefined;
  if (del?.Objects) p.objects = del.Objects.map((o) => ({ key: o.Key ?? '', ...(o.VersionId ? { versionId: o.VersionId } : {}) }));

  set('queueUrl', str(input.QueueUrl));
  set('queueName', str(input.QueueName));
  set('queueOwner', str(input.QueueOwnerAWSAccountId));
  const entries = Array.isArray(input.Entries) ? (input.Entries as Input[]) : undefined;
  if (entries) p.entries = entries.length;
  const attrs = (m: unknown) => m !== undefined && m !== null && typeof m === 'object' && Object.keys(m).length > 0;
  if (attrs(input.MessageAttributes) || entries?.some((e) => attrs(e.MessageAttributes))) p.hasMessageAttributes = true;

  set('namespace', str(input.Namespace));
  set('cluster', str(input.cluster));
  if (Array.isArray(input.tasks)) p.tasks = (input.tasks as unknown[]).filter((t): t is string => typeof t === 'string');
  set('taskDefinition', str(input.taskDefinition));
  const overrides = input.overrides as { taskRoleArn?: string; executionRoleArn?: string } | undefined;
  const roles = [overrides?.taskRoleArn, overrides?.executionRoleArn].filter((r): r is string => typeof r === 'string');
  if (roles.length) p.overrideRoleArns = roles;

  // Scheduler's input is PascalCase (Name, GroupName, Target.RoleArn); Lambda's too (FunctionName, Qualifier).
  set('scheduleName', str(input.Name));
  set('groupName', str(input.GroupName));
  set('targetRoleArn', str((input.Target as Input | undefined)?.RoleArn));
  set('functionName', str(input.FunctionName));
  set('qualifier', str(input.Qualifier));
  return p;
}

/**
 * Records each request sent through `client` before it is sent (a request that then fails is recorded too), one JSON
 * line per request, written synchronously so that a process stopped at any point loses nothing. The IAM tests
 * evaluate these lines against the policies the stack declares (test/iam/).
 */
export function attachRequestLog<C extends RecordableClient>(client: C, settings: RequestLogSettings): C {
  if (client.middlewareStack.identify().some((entry) => entry.startsWith(`${MIDDLEWARE_NAME} `))) return client;
  fs.mkdirSync(path.dirname(settings.file), { recursive: true });
  const region = async (): Promise<string> => (typeof client.config.region === 'function' ? client.config.region() : client.config.region);
  client.middlewareStack.add(
    (next: (args: { input: unknown }) => Promise<unknown>, context: { clientName?: string; commandName?: string }) => async (args: { input: unknown }) => {
      const clientName = context.clientName ?? 'unknown client';
      const service = SERVICE_OF_CLIENT[clientName] ?? clientName.replace(/Client$/, '').toLowerCase();
      const operation = (context.commandName ?? 'unknown command').replace(/Command$/, '');
      const line: RecordedRequest = { principal: settings.principal, service, operation, region: await region(), params: authParams(args.input as Input) };
      fs.appendFileSync(settings.file, `${JSON.stringify(line)}\n`);
      return next(args);
    },
    { step: 'initialize', priority: 'high', name: MIDDLEWARE_NAME },
  );
  return client;
}

/** Records a request made outside the SDK (the ECS agent's task-protection endpoint). */
export function recordRequest(settings: RequestLogSettings | undefined, request: Omit<RecordedRequest, 'principal'>): void {
  if (!settings) return;
  fs.mkdirSync(path.dirname(settings.file), { recursive: true });
  fs.appendFileSync(settings.file, `${JSON.stringify({ principal: settings.principal, ...request })}\n`);
}
