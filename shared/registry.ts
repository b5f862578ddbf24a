import { PREFIX } from './layout.js';

/**
 * The model registry, outside `models/<version>/` (which the training task can write) and writable only by the
 * operator: one status record per reviewed version, and an append-only change log of every review and every change
 * of the version in service. A version with no status record is a candidate.
 */

export type VersionStatus = 'candidate' | 'approved' | 'rejected';
export const VERSION_STATUSES: readonly VersionStatus[] = ['candidate', 'approved', 'rejected'];

export const REGISTRY = {
  versions: `${PREFIX.registry}versions/`,
  log: `${PREFIX.registry}log/`,
  /** `{ "version": "<id>", "prefix": "models/<id>/" }`: the version workers also run on live uploads, beside the one in service. */
  shadowPointer: `${PREFIX.registry}shadow.json`,
} as const;

/** `registry/versions/<version>.json`: the version's status, the last review's reason and principal. */
export function versionStatusKey(version: string): string {
  return `${REGISTRY.versions}${version}.json`;
}

/** `registry/log/<ISO time>-<id>.json`: keys sort in time order; each written once (If-None-Match). */
export function changeLogKey(at: string, id: string): string {
  return `${REGISTRY.log}${at}-${id}.json`;
}

export type ChangeAction = 'publish' | 'import' | 'train' | 'approve' | 'reject' | 'use' | 'rollback' | 'shadow' | 'unshadow';

/** One entry of the change log. */
export interface ChangeLogEntry {
  schema: 'crypto-open-fleet/registry-log/1';
  id: string;
  at: string;
  action: ChangeAction;
  /** The caller's AWS identity (ARN), or `local:<user>` on the embedded stack. */
  principal: string;
  /** The version acted on. */
  version: string;
  /** The version in service before and after (equal when the action did not change it). */
  previous: string | null;
  inService: string | null;
  /** The version's status after the action. */
  status: VersionStatus;
  reason: string;
  /** What the decision relied on: the version's training validation, realized accuracy, the source files. */
  evidence: Record<string, unknown>;
}

export interface Review {
  status: VersionStatus;
  reason: string;
  principal: string;
  at: string;
  logEntry: string;
}

/** `registry/versions/<version>.json`. */
export interface VersionStatusRecord {
  schema: 'crypto-open-fleet/registry-version/1';
  version: string;
  status: VersionStatus;
  reason: string;
  principal: string;
  at: string;
  evidence: Record<string, unknown>;
  /** Every status this version has had, oldest first. */
  reviews: Review[];
}

/**
 * The versions in service as a stack, from the log: an entry that puts a version in service pushes it, a rollback
 * pops back to its target (pushing it when it was not on the stack). The top is the version in service; the default
 * rollback target is the one below it, so a second rollback goes further back instead of returning.
 */
export function serviceStack(entries: readonly ChangeLogEntry[]): string[] {
  const stack: string[] = [];
  for (const e of entries) {
    if (e.inService === null || e.inService === e.previous) continue;
    if (stack.length === 0 && e.previous !== null) stack.push(e.previous);
    if (e.action === 'rollback') {
      const at = stack.lastIndexOf(e.inService);
      if (at >= 0) stack.length = at + 1;
      else stack.push(e.inService);
    } else stack.push(e.inService);
  }
  return stack;
}

/** The version to roll back to from `current` (undefined when the log names none before it). */
export function rollbackTarget(entries: readonly ChangeLogEntry[], current: string): string | undefined {
  const stack = serviceStack(entries);
  const at = stack.lastIndexOf(current);
  for (let i = (at >= 0 ? at : stack.length) - 1; i >= 0; i--) if (stack[i] !== current) return stack[i];
  return undefined;
}
