/**
 * `npm run model -- <verb> ...`: the model registry (list, publish, approve, reject, use, rollback, log, shadow),
 * export, realized accuracy,
 * plus the target flags (local stack by default, `--target aws`). Every verb prints the version ids it touched.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { MODEL_POINTER_KEY } from '../../shared/layout.js';
import type { ChangeLogEntry } from '../../shared/registry.js';
import { REPO_ROOT, runIfEntry, type CommandIo } from '../cli/entry.js';
import { MODEL_ARGS, resolveModelFiles } from '../cli/model-args.js';
import { resolveStackTarget, STACK_ARGS, STACK_ARGS_HELP } from '../cli/stack-args.js';
import { accuracyReport } from '../ops/accuracy-report.js';
import { exportModelVersion, scalersFileFor } from '../ops/model-export.js';
import { publishModelVersion } from '../ops/model-publish.js';
import { listModelVersions } from '../ops/model-versions.js';
import { principalOf } from '../ops/principal.js';
import {
  initialStatus,
  readChangeLog,
  readStatusRecord,
  recordNewVersion,
  requireReason,
  reviewVersion,
  rollbackVersion,
  setShadowVersion,
  statusOf,
  useApprovedVersion,
  type RegistryContext,
} from '../ops/registry.js';
import { describeStackError, type StackTarget } from '../ops/stack.js';
import { makeS3Client } from '../runtime/aws-clients.js';
import { BucketObjects } from '../runtime/s3-objects.js';
import { parseAsOf } from '../tasks/train.js';
import { main as extendScalersMain } from './model-extend-scalers.js';

const USAGE = `usage: npm run model -- <verb> [options]
  list                              the versions under models/ with their status; * marks the one in service
  publish [--model DIR | --h5 FILE --scaler FILE]
                                    upload a version (default: MODEL_DIR, else ../shared/model_out); the team's own
                                    imported model is recorded approved, a trained one candidate; the version in
                                    service does not change
  approve VERSION --reason TEXT     review: approved (may be put in service)
  reject VERSION --reason TEXT      review: rejected
  use VERSION --reason TEXT         put an approved version in service; workers switch on their next message
  rollback [--to VERSION] --reason TEXT
                                    back to the version in service before the current one (from the change log)
  log                               the change log, oldest first
  export VERSION --h5 FILE [--scalers FILE]
                                    a Keras 2.2.4 HDF5 file and the scalers as JSON (default FILE.scalers.json)
  shadow VERSION --reason TEXT | shadow --off --reason TEXT
                                    workers also run VERSION on live uploads, its outputs under runs/<id>/shadow/
  accuracy [--days 30] [--to YYYY-MM-DD]
                                    realized MAD per version next to the naive forecast on the same symbol-days
  extend-scalers [--min-rows 30] [--as-of YYYY-MM-DD]
                                    scalers for the history's new symbols, as a candidate version (--help: its flags)
${STACK_ARGS_HELP}`;

const VERBS = ['list', 'publish', 'approve', 'reject', 'use', 'rollback', 'log', 'export', 'shadow', 'accuracy'] as const;
type Verb = (typeof VERBS)[number];
/** Verbs that take a VERSION argument (required), and those that need --reason. */
const WITH_VERSION: readonly Verb[] = ['approve', 'reject', 'use', 'export'];

const OPTIONS = {
  ...STACK_ARGS,
  ...MODEL_ARGS,
  reason: { type: 'string' },
  /** rollback: the version to return to; accuracy: the last day of the window. */
  to: { type: 'string' },
  scalers: { type: 'string' },
  off: { type: 'boolean' },
  days: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true; strict: true }>>['values'];

interface VerbContext {
  values: Values;
  version: string | undefined;
  target: StackTarget;
  objects: BucketObjects;
  registry: () => Promise<RegistryContext>;
  io: CommandIo;
}

const describeEntry = (e: ChangeLogEntry): string =>
  `${e.at}  ${e.action.padEnd(8)} ${e.version}  ${e.previous ?? '-'} -> ${e.inService ?? '-'}  ${e.status}  by ${e.principal}: ${e.reason}`;

const VERB_RUNNERS: Record<Verb, (c: VerbContext) => Promise<void>> = {
  async list({ objects, io, target }) {
    const versions = await listModelVersions(objects, MODEL_POINTER_KEY);
    if (versions.length === 0) io.out(`no model versions under s3://${target.bucket}/models/`);
    for (const v of versions) {
      const status = await statusOf(objects, v.version);
      io.out(
        `${v.current ? '*' : ' '} ${v.version}  ${status.padEnd(9)}  keras ${v.kerasVersion}  ${v.symbols} symbols  h5 ${v.h5Sha256.slice(0, 12)}  scaler ${v.scalerSha256.slice(0, 12)}`,
      );
    }
  },
  async publish({ values, objects, registry, io, target }) {
    const { files, source } = await resolveModelFiles(values, io.env, REPO_ROOT);
    const p = await publishModelVersion(objects, files, MODEL_POINTER_KEY, false);
    const metadata = JSON.parse(files.get('metadata.json')!.toString('utf8'));
    const initial = initialStatus(metadata);
    const { record, logged } = await recordNewVersion(
      await registry(),
      p.version,
      initial.status === 'approved' ? 'import' : 'publish',
      initial.status,
      initial.reason,
    );
    io.out(`published ${p.version} from ${source} to s3://${target.bucket}/${p.prefix}: ${record.status}${logged ? '' : ' (already recorded)'}`);
  },
  async approve({ values, version, registry, io }) {
    const { record } = await reviewVersion(await registry(), version!, 'approved', requireReason(values.reason, 'approve'));
    io.out(`${record.version}: approved`);
  },
  async reject({ values, version, registry, io }) {
    const { record } = await reviewVersion(await registry(), version!, 'rejected', requireReason(values.reason, 'reject'));
    io.out(`${record.version}: rejected`);
  },
  async use({ values, version, registry, io }) {
    const reason = requireReason(values.reason, 'use');
    const { pointer, entry } = await useApprovedVersion(await registry(), version!, reason);
    io.out(`in service: ${pointer.version} (was ${entry.previous ?? 'none'})`);
  },
  async rollback({ values, registry, io }) {
    const reason = requireReason(values.reason, 'rollback');
    const { pointer, from } = await rollbackVersion(await registry(), reason, values.to);
    io.out(`rolled back: ${from ?? 'none'} -> ${pointer.version} (in service)`);
  },
  async log({ objects, io, target }) {
    const entries = await readChangeLog(objects);
    if (entries.length === 0) io.out(`no entries under s3://${target.bucket}/registry/log/`);
    for (const e of entries) io.out(describeEntry(e));
  },
  async export({ values, version, objects, io }) {
    if (!values.h5) throw new Error('export needs --h5 <file> (the HDF5 file to write)');
    const h5 = path.resolve(values.h5);
    const out = await exportModelVersion(objects, version!, h5, values.scalers ? path.resolve(values.scalers) : scalersFileFor(h5));
    const status = (await readStatusRecord(objects, version!))?.status ?? 'candidate';
    io.out(`exported ${version} (${status}) to ${out.h5} and ${out.scalers}`);
  },
  async shadow({ values, version, registry, io }) {
    const reason = requireReason(values.reason, 'shadow');
    const { previous } = await setShadowVersion(await registry(), values.off ? null : version!, reason);
    io.out(values.off ? `shadow off: ${previous}` : `in shadow: ${version}${previous && previous !== version ? ` (was ${previous})` : ''}`);
  },
  async accuracy({ values, objects, io }) {
    const days = values.days === undefined ? 30 : Number(values.days);
    if (!Number.isSafeInteger(days) || days < 1) throw new Error(`--days must be a positive integer; got ${JSON.stringify(values.days)}`);
    const report = await accuracyReport(objects, days, values.to === undefined ? undefined : parseAsOf(values.to, '--to'));
    if (report.versions.length === 0) io.out(`no scored forecasts from ${report.from} to ${report.to}`);
    else io.out(`realized accuracy ${report.from} .. ${report.to} (MAD of forecast_open vs the actual open; naive: tomorrow = today's open)`);
    for (const v of report.versions) {
      io.out(
        `${v.version}  ${v.roles.join('+').padEnd(10)}  MAD ${v.mad.toPrecision(6)}  naive ${v.naiveMad.toPrecision(6)}  ${v.n} forecasts over ${v.days} days (${v.firstDate} .. ${v.lastDate})  worse than naive the last ${v.worseDays} day(s)`,
      );
    }
  },
};

export async function main(argv: string[], io: CommandIo): Promise<number> {
  if (argv[0] === 'extend-scalers') return extendScalersMain(argv.slice(1), io);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    io.err(`model: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) return (io.out(USAGE), 0);
  const [verbArg, version, ...extra] = positionals;
  const verb = VERBS.find((v) => v === verbArg);
  if (!verb) {
    io.err(`model: expected one of ${VERBS.join(', ')}\n${USAGE}`);
    return 2;
  }
  const needsVersion = WITH_VERSION.includes(verb) || (verb === 'shadow' && !values.off);
  if (needsVersion !== Boolean(version) || extra.length > 0) {
    io.err(`model: ${verb} ${needsVersion ? 'takes one VERSION' : 'takes no VERSION argument'}\n${USAGE}`);
    return 2;
  }
  let target: StackTarget;
  try {
    target = resolveStackTarget(values, io.env);
  } catch (err) {
    io.err(`model: ${(err as Error).message}`);
    return 2;
  }
  const objects = new BucketObjects(makeS3Client(target.clients), target.bucket);
  const registry = async (): Promise<RegistryContext> => ({ objects, pointerKey: MODEL_POINTER_KEY, principal: await principalOf(target) });
  try {
    await VERB_RUNNERS[verb]({ values, version, target, objects, registry, io });
    return 0;
  } catch (err) {
    io.err(`model: ${describeStackError(err, target)}`);
    return 1;
  } finally {
    objects.s3.destroy();
  }
}

runIfEntry(import.meta.url, main);
