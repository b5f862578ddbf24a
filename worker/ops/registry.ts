import { randomBytes } from 'node:crypto';
import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import type { ModelMetadata } from '../../model/types.js';
import { modelPrefix } from '../../shared/layout.js';
import {
  changeLogKey,
  REGISTRY,
  rollbackTarget,
  versionStatusKey,
  type ChangeAction,
  type ChangeLogEntry,
  type VersionStatus,
  type VersionStatusRecord,
} from '../../shared/registry.js';
import { isNotFound } from '../runtime/failures.js';
import { readModelPointer, type ModelPointer } from '../runtime/model-source.js';
import type { BucketObjects } from '../runtime/s3-objects.js';
import { readShadowPointer } from '../runtime/shadow.js';

/**
 * The operator's side of the registry (shared/registry.ts): reviews, changes of the version in service, the log.
 * Every change of status or of the version in service appends one create-only entry to `registry/log/`.
 */

export class RegistryError extends Error {
  override readonly name = 'RegistryError';
}

export interface RegistryContext {
  objects: BucketObjects;
  pointerKey: string;
  /** Who acts (worker/ops/principal.ts). */
  principal: string;
  now?: () => Date;
}

const readJson = async <T>(objects: BucketObjects, key: string): Promise<T | undefined> => {
  try {
    return JSON.parse(Buffer.from((await objects.getBytes(key)).body).toString('utf8')) as T;
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
};

export function requireReason(reason: string | undefined, what: string): string {
  const r = reason?.trim();
  if (!r) throw new RegistryError(`${what} needs --reason "<why>" (it goes into the change log)`);
  return r;
}

/** The version's metadata.json, or undefined when it is not published. */
export function readVersionMetadata(objects: BucketObjects, version: string): Promise<ModelMetadata | undefined> {
  if (!/^[\w.-]+$/.test(version)) throw new RegistryError(`${JSON.stringify(version)} is not a model version id`);
  return readJson<ModelMetadata>(objects, `${modelPrefix(version)}metadata.json`);
}

async function requirePublished(objects: BucketObjects, version: string): Promise<ModelMetadata> {
  const m = await readVersionMetadata(objects, version);
  if (!m) throw new RegistryError(`model version ${version} is not published under s3://${objects.bucket}/${modelPrefix(version)}`);
  return m;
}

export function readStatusRecord(objects: BucketObjects, version: string): Promise<VersionStatusRecord | undefined> {
  return readJson<VersionStatusRecord>(objects, versionStatusKey(version));
}

/** A version's status: its record's, else `candidate` (trained or published, never reviewed). */
export async function statusOf(objects: BucketObjects, version: string): Promise<VersionStatus> {
  return (await readStatusRecord(objects, version))?.status ?? 'candidate';
}

/** Every log entry, oldest first (the keys start with the ISO time). */
export async function readChangeLog(objects: BucketObjects): Promise<ChangeLogEntry[]> {
  const keys: string[] = [];
  for await (const page of paginateListObjectsV2({ client: objects.s3 }, { Bucket: objects.bucket, Prefix: REGISTRY.log })) {
    for (const o of page.Contents ?? []) if (o.Key!.endsWith('.json')) keys.push(o.Key!);
  }
  keys.sort();
  const out: ChangeLogEntry[] = [];
  for (const key of keys) {
    const e = await readJson<ChangeLogEntry>(objects, key);
    if (e) out.push(e);
  }
  return out;
}

/** What a decision relies on, from the version's own files: its training record's hold-out comparison, its sources. */
export function versionEvidence(m: ModelMetadata): Record<string, unknown> {
  const t = m.training;
  if (t?.kind === 'train') {
    return {
      trainedAsOf: t.provenance.asOf ?? null,
      codeCommit: t.provenance.codeCommit ?? null,
      validation: t.validation.map((v) => ({ symbol: v.symbol, rows: v.rows, mad: v.mad, naive: v.naive, baseline: v.baseline })),
    };
  }
  if (t) return { derived: t.kind, baseVersion: t.baseVersion };
  return { sources: m.sources, importedBy: m.importedBy };
}

interface Change {
  action: ChangeAction;
  version: string;
  previous: string | null;
  inService: string | null;
  status: VersionStatus;
  reason: string;
  evidence: Record<string, unknown>;
}

async function appendLog(ctx: RegistryContext, change: Change): Promise<ChangeLogEntry> {
  const at = (ctx.now?.() ?? new Date()).toISOString();
  const id = randomBytes(4).toString('hex');
  const entry: ChangeLogEntry = { schema: 'crypto-open-fleet/registry-log/1', id, at, principal: ctx.principal, ...change };
  await ctx.objects.createJson(changeLogKey(at, id), entry);
  return entry;
}

async function writeStatus(
  ctx: RegistryContext,
  version: string,
  status: VersionStatus,
  reason: string,
  evidence: Record<string, unknown>,
  entry: ChangeLogEntry,
): Promise<VersionStatusRecord> {
  const prior = await readStatusRecord(ctx.objects, version);
  const record: VersionStatusRecord = {
    schema: 'crypto-open-fleet/registry-version/1',
    version,
    status,
    reason,
    principal: ctx.principal,
    at: entry.at,
    evidence,
    reviews: [...(prior?.reviews ?? []), { status, reason, principal: ctx.principal, at: entry.at, logEntry: changeLogKey(entry.at, entry.id) }],
  };
  await ctx.objects.putJson(versionStatusKey(version), record);
  return record;
}

const inServiceNow = async (ctx: RegistryContext): Promise<string | null> => (await readModelPointer(ctx.objects, ctx.pointerKey))?.version ?? null;

/**
 * Records a newly uploaded version: `candidate` (trained or derived), or `approved` with `reason` for an import of the
 * team's own model. A version that already has a record keeps it (nothing is logged again).
 */
export async function recordNewVersion(
  ctx: RegistryContext,
  version: string,
  action: 'publish' | 'import' | 'train',
  status: 'candidate' | 'approved',
  reason: string,
): Promise<{ record: VersionStatusRecord; logged: boolean }> {
  const m = await requirePublished(ctx.objects, version);
  const existing = await readStatusRecord(ctx.objects, version);
  if (existing) return { record: existing, logged: false };
  const inService = await inServiceNow(ctx);
  const evidence = versionEvidence(m);
  const entry = await appendLog(ctx, { action, version, previous: inService, inService, status, reason, evidence });
  return { record: await writeStatus(ctx, version, status, reason, evidence, entry), logged: true };
}

/** The team's own imported model is approved at import; trained and derived versions are candidates. */
export function initialStatus(m: ModelMetadata): { status: 'candidate' | 'approved'; reason: string } {
  if (m.training) return { status: 'candidate', reason: `${m.training.kind === 'train' ? 'trained' : 'derived'} by ${m.training.trainer}, not yet reviewed` };
  return {
    status: 'approved',
    reason: `the team's own model, imported from ${m.sources.h5.file} (sha256 ${m.sources.h5.sha256.slice(0, 12)}) and ${m.sources.scaler.file} (sha256 ${m.sources.scaler.sha256.slice(0, 12)})`,
  };
}

/** `approve` / `reject`: records the review. The version in service cannot be rejected (roll back first). */
export async function reviewVersion(
  ctx: RegistryContext,
  version: string,
  status: 'approved' | 'rejected',
  reason: string,
  extraEvidence: Record<string, unknown> = {},
): Promise<{ record: VersionStatusRecord; entry: ChangeLogEntry }> {
  const m = await requirePublished(ctx.objects, version);
  const inService = await inServiceNow(ctx);
  if (status === 'rejected' && inService === version)
    throw new RegistryError(`model version ${version} is in service: roll back (or use another version) before rejecting it`);
  const evidence = { ...versionEvidence(m), ...extraEvidence };
  const entry = await appendLog(ctx, {
    action: status === 'approved' ? 'approve' : 'reject',
    version,
    previous: inService,
    inService,
    status,
    reason,
    evidence,
  });
  return { record: await writeStatus(ctx, version, status, reason, evidence, entry), entry };
}

async function switchTo(
  ctx: RegistryContext,
  version: string,
  action: 'use' | 'rollback',
  reason: string,
  extraEvidence: Record<string, unknown>,
): Promise<{ pointer: ModelPointer; entry: ChangeLogEntry }> {
  const m = await requirePublished(ctx.objects, version);
  const status = await statusOf(ctx.objects, version);
  if (status !== 'approved')
    throw new RegistryError(
      `model version ${version} is ${status}: only an approved version can be put in service (npm run model -- approve ${version} --reason ...)`,
    );
  const previous = await inServiceNow(ctx);
  const pointer: ModelPointer = { version, prefix: modelPrefix(version) };
  await ctx.objects.putJson(ctx.pointerKey, pointer);
  const entry = await appendLog(ctx, { action, version, previous, inService: version, status, reason, evidence: { ...versionEvidence(m), ...extraEvidence } });
  return { pointer, entry };
}

/** `use`: puts an approved version in service; workers switch on their next message. */
export function useApprovedVersion(
  ctx: RegistryContext,
  version: string,
  reason: string,
  evidence: Record<string, unknown> = {},
): Promise<{ pointer: ModelPointer; entry: ChangeLogEntry }> {
  return switchTo(ctx, version, 'use', reason, evidence);
}

/** `rollback [--to v]`: by default the version in service before the current one, from the log. */
export async function rollbackVersion(
  ctx: RegistryContext,
  reason: string,
  to?: string,
  evidence: Record<string, unknown> = {},
): Promise<{ pointer: ModelPointer; entry: ChangeLogEntry; from: string | null }> {
  const current = await inServiceNow(ctx);
  let target = to;
  if (target === undefined) {
    if (!current) throw new RegistryError('no version is in service: nothing to roll back from');
    target = rollbackTarget(await readChangeLog(ctx.objects), current);
    if (!target) throw new RegistryError(`the change log names no version in service before ${current}: pass --to <version>`);
  }
  if (target === current) throw new RegistryError(`model version ${target} is already in service`);
  const r = await switchTo(ctx, target, 'rollback', reason, evidence);
  return { ...r, from: current };
}

/** `shadow VERSION` / `shadow --off`: the version workers also run on live uploads (outputs beside the published ones). */
export async function setShadowVersion(
  ctx: RegistryContext,
  version: string | null,
  reason: string,
): Promise<{ entry: ChangeLogEntry; previous: string | null }> {
  const previous = (await readShadowPointer(ctx.objects)) ?? null;
  const inService = await inServiceNow(ctx);
  if (version === null) {
    if (previous === null) throw new RegistryError('no version is in shadow');
    await ctx.objects.putJson(REGISTRY.shadowPointer, { version: null, off: true });
    const entry = await appendLog(ctx, {
      action: 'unshadow',
      version: previous,
      previous: inService,
      inService,
      status: await statusOf(ctx.objects, previous),
      reason,
      evidence: {},
    });
    return { entry, previous };
  }
  const m = await requirePublished(ctx.objects, version);
  const status = await statusOf(ctx.objects, version);
  if (status === 'rejected') throw new RegistryError(`model version ${version} is rejected: nothing to learn from running it in shadow`);
  if (version === inService) throw new RegistryError(`model version ${version} is in service: a shadow runs beside it`);
  await ctx.objects.putJson(REGISTRY.shadowPointer, { version, prefix: modelPrefix(version) });
  const entry = await appendLog(ctx, { action: 'shadow', version, previous: inService, inService, status, reason, evidence: versionEvidence(m) });
  return { entry, previous };
}
