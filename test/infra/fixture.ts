import * as pulumi from '@pulumi/pulumi';
import { expect } from 'chai';
import { parseInfraConfig } from '../../infra/config.js';
import { sourceRevision } from '../../infra/provenance.js';
import { createStack, type StackOutputs } from '../../infra/stack.js';
import { repoRoot } from '../helpers/paths.js';
import { runMocked, resolveAll, type MockedRun, type Recorded } from './mocks.js';

export const ALARM_EMAIL = 'ops@example.com';

/** What the program reads of the repository it builds (the image's tag and label). */
export const REVISION = sourceRevision(repoRoot);

/** The real entry, `infra/index.ts`, with defaults except an alarm address. */
export const PROGRAM_CONFIG = { alarmEmail: ALARM_EMAIL };

/** A second stack config: every changed value must reach the resources. */
export const CHANGED_CONFIG = {
  minWorkers: '0',
  maxWorkers: '9',
  maxReceiveCount: '7',
  workerCpu: '1024',
  workerMemory: '3072',
  backlogPerWorker: '12',
  logRetentionDays: '90',
  reconcileCron: 'cron(15 4 * * ? *)',
  reconcileRequeue: 'true',
  marketCloseCron: 'cron(2 0 * * ? *)',
  trainCron: 'cron(0 3 ? * SUN *)',
  trainCpu: '8192',
  trainMemory: '16384',
  accuracyAlarmDays: '5',
};

export interface StackRun {
  resources: Recorded[];
  outputs: Record<string, string>;
}

async function settle(run: MockedRun<StackOutputs>): Promise<StackRun> {
  return { resources: run.resources, outputs: await resolveAll(run.outputs) };
}

let program: Promise<StackRun> | undefined;
/** `infra/index.ts` run once per process (an ES module is evaluated once), shared by the test files. */
export function programRun(): Promise<StackRun> {
  program ??= runMocked(PROGRAM_CONFIG, async () => (await import('../../infra/index.js')).default as StackOutputs).then(settle);
  return program;
}

let changed: Promise<StackRun> | undefined;
/** The same program path (config read from the stack config, then `createStack`) with CHANGED_CONFIG. */
export function changedRun(): Promise<StackRun> {
  changed ??= programRun().then(() =>
    runMocked(CHANGED_CONFIG, () => createStack({ config: parseInfraConfig(new pulumi.Config()), imageContext: '.', revision: REVISION })).then(settle),
  );
  return changed;
}

export function ofType(resources: Recorded[], type: string): Recorded[] {
  return resources.filter((r) => r.type === type);
}

/** The single resource of a type (optionally with a name ending), failing clearly when there is not exactly one. */
export function single(resources: Recorded[], type: string, nameEnding = ''): Recorded {
  const found = ofType(resources, type).filter((r) => r.name.endsWith(nameEnding));
  expect(
    found.map((r) => r.name),
    `resources of type ${type} named *${nameEnding}`,
  ).to.have.lengthOf(1);
  return found[0]!;
}

export interface PolicyStatement {
  Sid?: string;
  Effect: string;
  Principal?: unknown;
  Action?: string | string[];
  NotAction?: unknown;
  Resource?: string | string[];
  NotResource?: unknown;
  Condition?: Record<string, Record<string, string | string[]>>;
}

export function statements(policy: unknown): PolicyStatement[] {
  const doc = (typeof policy === 'string' ? JSON.parse(policy) : policy) as { Version: string; Statement: PolicyStatement[] };
  expect(doc.Version).to.equal('2012-10-17');
  return doc.Statement;
}

export const asList = (value: string | string[] | undefined): string[] => (value === undefined ? [] : Array.isArray(value) ? value : [value]);

/** statement Sid -> { actions, resources }, sorted, for exact comparisons. */
export function grants(policy: unknown): Record<string, { actions: string[]; resources: string[] }> {
  return Object.fromEntries(statements(policy).map((s) => [s.Sid ?? '', { actions: asList(s.Action).sort(), resources: asList(s.Resource).sort() }]));
}
