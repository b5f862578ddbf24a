import type { AuthParams, RecordedRequest } from '../../worker/runtime/request-log.js';

/** One IAM authorization a request needs: the action, on one resource, with the request's condition keys. */
export interface Requirement {
  action: string;
  /** The resource ARN, or '*' for actions without resource-level permissions. */
  resource: string;
  /** Request context keys beyond the global ones the evaluator adds (`aws:SecureTransport`). */
  context: Record<string, string | string[]>;
  /** Why this one is needed, when the action alone does not say (shown in the evaluator's lines). */
  why?: string;
}

/**
 * Where the requests are evaluated: the account and region the stack is deployed to, and the renames from the
 * local stack's names to the stack's (the end-to-end tests run against `crypto-open-local`, the policies name
 * `fleet-data-...`). A bucket or queue not renamed is taken as it is.
 */
export interface Target {
  accountId: string;
  region: string;
  /** local bucket name -> stack bucket name. */
  buckets?: Record<string, string>;
  /** local queue name -> stack queue name; a renamed queue is also moved into `accountId`/`region`. */
  queues?: Record<string, string>;
  /** local cluster label -> the stack's cluster name (the worker's task-protection call names no cluster of its own). */
  clusters?: Record<string, string>;
  /** RunTask: task definition family -> its ARN (with revision) and the roles it names (task, execution). */
  taskDefinitions?: Record<string, { arn: string; roles: string[] }>;
}

export class ActionMappingError extends Error {
  override readonly name = 'ActionMappingError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

const where = (r: RecordedRequest) => `${r.service}:${r.operation} by '${r.principal}'`;

function need<K extends keyof AuthParams>(r: RecordedRequest, k: K): NonNullable<AuthParams[K]> {
  const v = r.params[k];
  if (v === undefined || v === null || v === '') throw new ActionMappingError(`${where(r)} has no ${k}: cannot name the resource it acts on`);
  return v as NonNullable<AuthParams[K]>;
}

// ---------- ARNs ----------

export const bucketArn = (bucket: string) => `arn:aws:s3:::${bucket}`;
export const objectArn = (bucket: string, key: string) => `arn:aws:s3:::${bucket}/${key}`;

const renamedBucket = (bucket: string, t: Target) => t.buckets?.[bucket] ?? bucket;

export interface QueueRef {
  arn: string;
  region: string;
  accountId: string;
  name: string;
}

/**
 * Queue URL -> queue ARN. AWS form `https://sqs.<region>.amazonaws.com/<account>/<name>` (also the legacy
 * `https://<region>.queue.amazonaws.com/...`); the local stack's `http://127.0.0.1:<port>/<account>/<name>` carries
 * no region, so `fallbackRegion` (the client's) is used.
 */
export function queueFromUrl(url: string, fallbackRegion: string): QueueRef {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch (err) {
    throw new ActionMappingError(`not a queue URL: ${JSON.stringify(url)}`, { cause: err });
  }
  const parts = parsed.pathname.split('/').filter(Boolean);
  if (parts.length !== 2 || !/^\d{12}$/.test(parts[0]!) || !/^[A-Za-z0-9_-]{1,80}(\.fifo)?$/.test(parts[1]!)) {
    throw new ActionMappingError(`queue URL ${JSON.stringify(url)}: expected a path /<12-digit account>/<queue name>`);
  }
  const [accountId, name] = parts as [string, string];
  const host = parsed.hostname.match(/^sqs\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/) ?? parsed.hostname.match(/^([a-z0-9-]+)\.queue\.amazonaws\.com(\.cn)?$/);
  const region = host?.[1] ?? fallbackRegion;
  return { arn: `arn:aws:sqs:${region}:${accountId}:${name}`, region, accountId, name };
}

function queueArn(r: RecordedRequest, t: Target): string {
  let q: QueueRef;
  if (r.params.queueUrl) q = queueFromUrl(r.params.queueUrl, r.region);
  else {
    const name = need(r, 'queueName');
    q = { name, region: r.region, accountId: r.params.queueOwner ?? t.accountId, arn: '' };
  }
  const renamed = t.queues?.[q.name];
  if (renamed !== undefined) return `arn:aws:sqs:${t.region}:${t.accountId}:${renamed}`;
  return `arn:aws:sqs:${q.region}:${q.accountId}:${q.name}`;
}

/** `name` or an ARN (`arn:aws:ecs:<region>:<account>:cluster/<name>`) -> { name, arn }. */
function cluster(r: RecordedRequest, t: Target): { name: string; arn: string } {
  const raw = r.params.cluster ?? 'default';
  const given = t.clusters?.[raw] ?? raw;
  const name = given.startsWith('arn:') ? given.slice(given.indexOf(':cluster/') + ':cluster/'.length) : given;
  return { name, arn: given.startsWith('arn:') ? given : `arn:aws:ecs:${t.region}:${t.accountId}:cluster/${name}` };
}

// ---------- S3 ----------

/** GetObject and HeadObject: reading a version is its own action. */
function readObject(r: RecordedRequest, t: Target): Requirement[] {
  const bucket = renamedBucket(need(r, 'bucket'), t);
  const resource = objectArn(bucket, need(r, 'key'));
  const versionId = r.params.versionId;
  return [versionId ? { action: 's3:GetObjectVersion', resource, context: { 's3:versionid': versionId } } : { action: 's3:GetObject', resource, context: {} }];
}

/**
 * HeadObject is authorized as GetObject (there is no s3:HeadObject). It is how code asks "does this key exist?",
 * and S3 answers that question with 404 only to a caller who may also list the bucket: without s3:ListBucket a
 * missing key answers 403 Forbidden, which code reads as a failure.
 */
function headObject(r: RecordedRequest, t: Target): Requirement[] {
  const bucket = renamedBucket(need(r, 'bucket'), t);
  return [...readObject(r, t), { action: 's3:ListBucket', resource: bucketArn(bucket), context: {}, why: 'so that a missing key answers 404, not 403' }];
}

/** Condition keys of a write: If-None-Match / If-Match (conditional writes) and the SSE header. */
function writeContext(p: AuthParams, creation: boolean): Record<string, string> {
  const c: Record<string, string> = { 's3:ObjectCreationOperation': String(creation) };
  if (p.ifNoneMatch !== undefined) c['s3:if-none-match'] = p.ifNoneMatch;
  if (p.ifMatch !== undefined) c['s3:if-match'] = p.ifMatch;
  if (p.serverSideEncryption !== undefined) c['s3:x-amz-server-side-encryption'] = p.serverSideEncryption;
  return c;
}

/**
 * PutObject and CompleteMultipartUpload create the object: `s3:ObjectCreationOperation` true, and the conditional
 * headers as condition keys. CreateMultipartUpload and UploadPart take no conditional headers (false).
 */
const putObject =
  (creation: boolean) =>
  (r: RecordedRequest, t: Target): Requirement[] => {
    const bucket = renamedBucket(need(r, 'bucket'), t);
    return [{ action: 's3:PutObject', resource: objectArn(bucket, need(r, 'key')), context: writeContext(creation ? r.params : {}, creation) }];
  };

function deleteObject(r: RecordedRequest, t: Target): Requirement[] {
  const bucket = renamedBucket(need(r, 'bucket'), t);
  const resource = objectArn(bucket, need(r, 'key'));
  if (r.params.versionId) return [{ action: 's3:DeleteObjectVersion', resource, context: { 's3:versionid': r.params.versionId } }];
  return [{ action: 's3:DeleteObject', resource, context: r.params.ifMatch ? { 's3:if-match': r.params.ifMatch } : {} }];
}

/** DeleteObjects is authorized per object, as DeleteObject (or DeleteObjectVersion). */
function deleteObjects(r: RecordedRequest, t: Target): Requirement[] {
  const bucket = renamedBucket(need(r, 'bucket'), t);
  return need(r, 'objects').map((o): Requirement =>
    o.versionId
      ? { action: 's3:DeleteObjectVersion', resource: objectArn(bucket, o.key), context: { 's3:versionid': o.versionId } }
      : { action: 's3:DeleteObject', resource: objectArn(bucket, o.key), context: {} },
  );
}

/** List operations act on the bucket; the prefix, delimiter and max-keys become condition keys when sent. */
const listBucket =
  (action: string) =>
  (r: RecordedRequest, t: Target): Requirement[] => {
    const c: Record<string, string> = {};
    if (r.params.prefix !== undefined) c['s3:prefix'] = r.params.prefix;
    if (r.params.delimiter !== undefined) c['s3:delimiter'] = r.params.delimiter;
    if (r.params.maxKeys !== undefined) c['s3:max-keys'] = String(r.params.maxKeys);
    return [{ action, resource: bucketArn(renamedBucket(need(r, 'bucket'), t)), context: c }];
  };

/** `bucket/key[?versionId=v]` (URL-encoded, optional leading '/') -> parts. */
export function parseCopySource(source: string): { bucket: string; key: string; versionId?: string } {
  const [path, query] = source.replace(/^\//, '').split('?', 2) as [string, string | undefined];
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw new ActionMappingError(`CopySource ${JSON.stringify(source)}: expected <bucket>/<key>`);
  const versionId = query ? (new URLSearchParams(query).get('versionId') ?? undefined) : undefined;
  return { bucket: path.slice(0, slash), key: decodeURIComponent(path.slice(slash + 1)), ...(versionId ? { versionId } : {}) };
}

/**
 * CopyObject reads the source (GetObject, or GetObjectVersion for a versioned source) and writes the destination
 * (PutObject with `s3:x-amz-copy-source`). A bucket policy that requires If-None-Match makes copies into it fail:
 * 403 without the header, 501 with it (S3 user guide, "Enforce conditional writes").
 */
function copyObject(r: RecordedRequest, t: Target): Requirement[] {
  const src = parseCopySource(need(r, 'copySource'));
  const srcArn = objectArn(renamedBucket(src.bucket, t), src.key);
  const read: Requirement = src.versionId
    ? { action: 's3:GetObjectVersion', resource: srcArn, context: { 's3:versionid': src.versionId }, why: 'the copy source' }
    : { action: 's3:GetObject', resource: srcArn, context: {}, why: 'the copy source' };
  const dest = putObject(true)(r, t)[0]!;
  return [read, { ...dest, context: { ...dest.context, 's3:x-amz-copy-source': need(r, 'copySource') } }];
}

// ---------- SQS ----------

/** Each SQS operation is its own action on the queue; the batch forms use the single-message action. */
const onQueue =
  (action: string, why?: string) =>
  (r: RecordedRequest, t: Target): Requirement[] => [{ action, resource: queueArn(r, t), context: {}, ...(why ? { why } : {}) }];

// ---------- ECS ----------

/** Task ids or ARNs -> task ARNs of the cluster; `ecs:cluster` is the cluster's ARN. */
function taskProtection(action: string) {
  return (r: RecordedRequest, t: Target): Requirement[] => {
    const c = cluster(r, t);
    return need(r, 'tasks').map((task) => ({
      action,
      resource: task.startsWith('arn:') ? task : `arn:aws:ecs:${t.region}:${t.accountId}:task/${c.name}/${task}`,
      context: { 'ecs:cluster': c.arn },
    }));
  };
}

const passRole = (role: string, service: string, why: string): Requirement => ({
  action: 'iam:PassRole',
  resource: role,
  context: { 'iam:PassedToService': service },
  why,
});

/**
 * RunTask is authorized on the task definition's revision ARN, in a cluster (`ecs:cluster`), and passes the
 * definition's roles (iam:PassRole to ecs-tasks.amazonaws.com). Neither the revision nor the roles are in a
 * request that names only the family, so the target declares them.
 */
function runTask(r: RecordedRequest, t: Target): Requirement[] {
  const given = need(r, 'taskDefinition');
  const family = given.startsWith('arn:') ? given.slice(given.indexOf(':task-definition/') + ':task-definition/'.length).split(':')[0]! : given.split(':')[0]!;
  const declared = t.taskDefinitions?.[family];
  if (!declared)
    throw new ActionMappingError(
      `${where(r)}: task definition family '${family}' is not in target.taskDefinitions (its revision ARN and the roles RunTask passes)`,
    );
  const revisionArn = given.startsWith('arn:') ? given : given.includes(':') ? `arn:aws:ecs:${t.region}:${t.accountId}:task-definition/${given}` : declared.arn;
  const roles = [...new Set([...declared.roles, ...(r.params.overrideRoleArns ?? [])])];
  return [
    { action: 'ecs:RunTask', resource: revisionArn, context: { 'ecs:cluster': cluster(r, t).arn } },
    ...roles.map((role) => passRole(role, 'ecs-tasks.amazonaws.com', 'a role the task runs with')),
  ];
}

// ---------- others ----------

/** PutMetricData has no resource-level permissions ('*'); a policy scopes it with `cloudwatch:namespace`. */
function putMetricData(r: RecordedRequest): Requirement[] {
  return [{ action: 'cloudwatch:PutMetricData', resource: '*', context: { 'cloudwatch:namespace': need(r, 'namespace') } }];
}

/** Needs no permission: AWS answers it even under an explicit deny. Mapped so the evaluator confirms that. */
function getCallerIdentity(): Requirement[] {
  return [{ action: 'sts:GetCallerIdentity', resource: '*', context: {}, why: 'needs no permission' }];
}

const scheduleArn = (r: RecordedRequest, t: Target) =>
  `arn:aws:scheduler:${t.region}:${t.accountId}:schedule/${r.params.groupName ?? 'default'}/${need(r, 'scheduleName')}`;

/** Creating or updating a schedule also passes its target's role to the scheduler. */
const writeSchedule =
  (action: string) =>
  (r: RecordedRequest, t: Target): Requirement[] => [
    { action, resource: scheduleArn(r, t), context: {} },
    passRole(need(r, 'targetRoleArn'), 'scheduler.amazonaws.com', "the schedule's target role"),
  ];
const onSchedule =
  (action: string) =>
  (r: RecordedRequest, t: Target): Requirement[] => [{ action, resource: scheduleArn(r, t), context: {} }];

/** FunctionName: a name, a full ARN, or `<account>:function:<name>`; the qualifier (version or alias) is part of the resource. */
function invokeFunction(r: RecordedRequest, t: Target): Requirement[] {
  const given = need(r, 'functionName');
  const base = given.startsWith('arn:')
    ? given
    : given.includes(':function:')
      ? `arn:aws:lambda:${t.region}:${given}`
      : `arn:aws:lambda:${t.region}:${t.accountId}:function:${given}`;
  return [{ action: 'lambda:InvokeFunction', resource: r.params.qualifier ? `${base}:${r.params.qualifier}` : base, context: {} }];
}

/** An IAM-authorized API Gateway call: `arn:aws:execute-api:<region>:<account>:<api>/<stage>/<METHOD>/<path>`. */
function executeApi(r: RecordedRequest, t: Target): Requirement[] {
  const path = need(r, 'path').replace(/^\//, '');
  return [
    {
      action: 'execute-api:Invoke',
      resource: `arn:aws:execute-api:${t.region}:${t.accountId}:${need(r, 'apiId')}/${need(r, 'stage')}/${need(r, 'method').toUpperCase()}/${path}`,
      context: {},
    },
  ];
}

type Mapper = (r: RecordedRequest, t: Target) => Requirement[];

/** `<service>:<Operation>` -> what it needs. An operation not here fails the evaluation: add it with its grant. */
export const OPERATIONS: Readonly<Record<string, Mapper>> = {
  's3:GetObject': readObject,
  's3:HeadObject': headObject,
  's3:PutObject': putObject(true),
  's3:CreateMultipartUpload': putObject(false),
  's3:UploadPart': putObject(false),
  's3:CompleteMultipartUpload': putObject(true),
  's3:AbortMultipartUpload': (r, t) => [
    { action: 's3:AbortMultipartUpload', resource: objectArn(renamedBucket(need(r, 'bucket'), t), need(r, 'key')), context: {} },
  ],
  's3:CopyObject': copyObject,
  's3:DeleteObject': deleteObject,
  's3:DeleteObjects': deleteObjects,
  's3:ListObjectsV2': listBucket('s3:ListBucket'),
  's3:ListObjects': listBucket('s3:ListBucket'),
  's3:ListObjectVersions': listBucket('s3:ListBucketVersions'),

  'sqs:ReceiveMessage': onQueue('sqs:ReceiveMessage'),
  'sqs:DeleteMessage': onQueue('sqs:DeleteMessage'),
  'sqs:DeleteMessageBatch': onQueue('sqs:DeleteMessage', 'batch form of DeleteMessage'),
  'sqs:ChangeMessageVisibility': onQueue('sqs:ChangeMessageVisibility'),
  'sqs:ChangeMessageVisibilityBatch': onQueue('sqs:ChangeMessageVisibility', 'batch form of ChangeMessageVisibility'),
  // Message attributes need no permission of their own; an SSE-KMS queue would add kms:GenerateDataKey (this stack uses SSE-SQS).
  'sqs:SendMessage': onQueue('sqs:SendMessage'),
  'sqs:SendMessageBatch': onQueue('sqs:SendMessage', 'batch form of SendMessage'),
  'sqs:GetQueueAttributes': onQueue('sqs:GetQueueAttributes'),
  'sqs:GetQueueUrl': onQueue('sqs:GetQueueUrl'),
  'sqs:PurgeQueue': onQueue('sqs:PurgeQueue'),

  'ecs:UpdateTaskProtection': taskProtection('ecs:UpdateTaskProtection'),
  'ecs:GetTaskProtection': taskProtection('ecs:GetTaskProtection'),
  'ecs:RunTask': runTask,

  'cloudwatch:PutMetricData': putMetricData,
  'sts:GetCallerIdentity': getCallerIdentity,

  'scheduler:CreateSchedule': writeSchedule('scheduler:CreateSchedule'),
  'scheduler:UpdateSchedule': writeSchedule('scheduler:UpdateSchedule'),
  'scheduler:GetSchedule': onSchedule('scheduler:GetSchedule'),
  'scheduler:DeleteSchedule': onSchedule('scheduler:DeleteSchedule'),

  'lambda:Invoke': invokeFunction,
  'execute-api:Invoke': executeApi,
};

/** What one recorded request needs; throws for an operation the table does not know. */
export function requirementsFor(r: RecordedRequest, t: Target): Requirement[] {
  const mapper = OPERATIONS[`${r.service}:${r.operation}`];
  if (!mapper) throw new ActionMappingError(`${where(r)}: no IAM mapping for this operation; add it to OPERATIONS in actions.ts, with its grant`);
  return mapper(r, t);
}
