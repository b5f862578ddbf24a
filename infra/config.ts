import { QUEUE_DEFAULTS } from '../shared/worker-env.js';

/** The stack's settings, parsed once from the project's Pulumi config (`pulumi config set <key> <value>`). */
export interface InfraConfig {
  /**
   * Tasks kept running when idle. 2 (the default) keeps one in each Availability Zone; 1 halves the idle cost and
   * loses a zone's outage; 0 trades minutes of wake-up latency for near-zero idle cost.
   */
  minWorkers: number;
  maxWorkers: number;
  /** Deliveries of one message before SQS moves it to the DLQ. */
  maxReceiveCount: number;
  /** Fargate task size: CPU units (1024 = 1 vCPU) and memory in MiB, a combination Fargate accepts. */
  workerCpu: number;
  workerMemory: number;
  /** Target of the scaling policy: queued plus in-flight messages per running task. */
  backlogPerWorker: number;
  /** Receives the DLQ alarm when set (the address must confirm the SNS subscription). */
  alarmEmail: string | undefined;
  logRetentionDays: number;
  /** Lets `pulumi destroy` delete a bucket and a repository that still hold objects or images. */
  forceDestroy: boolean;
  /** The oldest message of the work queue waiting longer than this raises an alarm (the near-real-time signal). */
  oldestMessageAlarmSeconds: number;
  /** EventBridge Scheduler expressions (UTC) of the daily reconciler, the market-close forecast and the weekly retraining. */
  reconcileCron: string;
  /** The scheduled reconciler also requeues the missing uploads (its task role may then send to the work queue). */
  reconcileRequeue: boolean;
  /** Crypto's daily candle closes at 00:00 UTC: the forecast command is sent a few minutes after. */
  marketCloseCron: string;
  trainCron: string;
  /** The training task's size (CPU units, MiB), a combination Fargate accepts. */
  trainCpu: number;
  trainMemory: number;
  /** The version in service doing worse than the naive baseline this many days in a row raises an alarm. */
  accuracyAlarmDays: number;
}

export const CONFIG_DEFAULTS = {
  minWorkers: 2,
  maxWorkers: 4,
  maxReceiveCount: QUEUE_DEFAULTS.maxReceiveCount,
  workerCpu: 512,
  workerMemory: 1024,
  backlogPerWorker: 5,
  logRetentionDays: 30,
  forceDestroy: false,
  oldestMessageAlarmSeconds: 300,
  reconcileCron: 'cron(30 2 * * ? *)',
  reconcileRequeue: false,
  marketCloseCron: 'cron(5 0 * * ? *)',
  trainCron: 'cron(0 1 ? * MON *)',
  trainCpu: 4096,
  trainMemory: 8192,
  accuracyAlarmDays: 3,
} as const satisfies Omit<InfraConfig, 'alarmEmail'>;

/** What the parser reads: `pulumi.Config` in the program, a plain map in tests. */
export interface ConfigSource {
  get(key: string): string | undefined;
}

export class InfraConfigError extends Error {
  constructor(
    readonly key: string,
    message: string,
  ) {
    super(`config "${key}": ${message}`);
    this.name = 'InfraConfigError';
  }
}

/** Memory (MiB) Fargate accepts for each CPU size. */
const FARGATE_MEMORY: Readonly<Record<number, { min: number; max: number; step: number; also?: readonly number[] }>> = {
  256: { min: 1024, max: 2048, step: 1024, also: [512] },
  512: { min: 1024, max: 4096, step: 1024 },
  1024: { min: 2048, max: 8192, step: 1024 },
  2048: { min: 4096, max: 16384, step: 1024 },
  4096: { min: 8192, max: 30720, step: 1024 },
  8192: { min: 16384, max: 61440, step: 4096 },
  16384: { min: 32768, max: 122880, step: 8192 },
};

const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];

export function parseInfraConfig(source: ConfigSource): InfraConfig {
  const int = (key: keyof typeof CONFIG_DEFAULTS, min: number, max = Number.MAX_SAFE_INTEGER): number => {
    const raw = source.get(key);
    if (raw === undefined || raw === '') return CONFIG_DEFAULTS[key] as number;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      throw new InfraConfigError(key, `expected an integer in [${min}, ${max}], got ${JSON.stringify(raw)}`);
    }
    return value;
  };

  const minWorkers = int('minWorkers', 0, 1000);
  const maxWorkers = int('maxWorkers', 1, 1000);
  if (maxWorkers < minWorkers) throw new InfraConfigError('maxWorkers', `must be >= minWorkers (${minWorkers}), got ${maxWorkers}`);
  const maxReceiveCount = int('maxReceiveCount', 1, 1000);

  const fargateSize = (cpuKey: 'workerCpu' | 'trainCpu', memoryKey: 'workerMemory' | 'trainMemory'): [number, number] => {
    const cpu = int(cpuKey, 256, 16384);
    const memory = FARGATE_MEMORY[cpu];
    if (!memory) throw new InfraConfigError(cpuKey, `expected one of ${Object.keys(FARGATE_MEMORY).join(', ')}, got ${cpu}`);
    const mib = int(memoryKey, 512, 122880);
    const memoryFits = (memory.also ?? []).includes(mib) || (mib >= memory.min && mib <= memory.max && (mib - memory.min) % memory.step === 0);
    if (!memoryFits) {
      throw new InfraConfigError(
        memoryKey,
        `Fargate does not accept ${mib} MiB with ${cpu} CPU units (allowed: ${[...(memory.also ?? []), memory.min].join(', ')} to ${memory.max} in steps of ${memory.step})`,
      );
    }
    return [cpu, mib];
  };
  const [workerCpu, workerMemory] = fargateSize('workerCpu', 'workerMemory');

  const backlogRaw = source.get('backlogPerWorker');
  const backlogPerWorker = backlogRaw === undefined || backlogRaw === '' ? CONFIG_DEFAULTS.backlogPerWorker : Number(backlogRaw);
  if (!Number.isFinite(backlogPerWorker) || backlogPerWorker <= 0) {
    throw new InfraConfigError('backlogPerWorker', `expected a number > 0, got ${JSON.stringify(backlogRaw)}`);
  }

  const logRetentionDays = int('logRetentionDays', 1, 3653);
  if (!LOG_RETENTION_DAYS.includes(logRetentionDays)) {
    throw new InfraConfigError('logRetentionDays', `CloudWatch Logs accepts ${LOG_RETENTION_DAYS.join(', ')}; got ${logRetentionDays}`);
  }

  const bool = (key: 'forceDestroy' | 'reconcileRequeue'): boolean => {
    const raw = source.get(key);
    if (raw === undefined || raw === '') return CONFIG_DEFAULTS[key];
    if (raw !== 'true' && raw !== 'false') throw new InfraConfigError(key, `expected true or false, got ${JSON.stringify(raw)}`);
    return raw === 'true';
  };
  const forceDestroy = bool('forceDestroy');

  const alarmEmail = source.get('alarmEmail') || undefined;
  if (alarmEmail !== undefined && !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(alarmEmail)) {
    throw new InfraConfigError('alarmEmail', `expected an e-mail address, got ${JSON.stringify(alarmEmail)}`);
  }

  const oldestMessageAlarmSeconds = int('oldestMessageAlarmSeconds', 60, 14 * 24 * 3600);

  const cron = (key: 'reconcileCron' | 'marketCloseCron' | 'trainCron'): string => {
    const raw = source.get(key);
    if (raw === undefined || raw === '') return CONFIG_DEFAULTS[key];
    const problem = cronProblem(raw);
    if (problem)
      throw new InfraConfigError(
        key,
        `${problem}; got ${JSON.stringify(raw)} (expected an EventBridge Scheduler cron(minutes hours day-of-month month day-of-week year), in UTC, such as ${JSON.stringify(CONFIG_DEFAULTS[key])})`,
      );
    return raw.trim();
  };
  const [trainCpu, trainMemory] = fargateSize('trainCpu', 'trainMemory');

  return {
    minWorkers,
    maxWorkers,
    maxReceiveCount,
    workerCpu,
    workerMemory,
    backlogPerWorker,
    alarmEmail,
    logRetentionDays,
    forceDestroy,
    oldestMessageAlarmSeconds,
    reconcileCron: cron('reconcileCron'),
    reconcileRequeue: bool('reconcileRequeue'),
    marketCloseCron: cron('marketCloseCron'),
    trainCron: cron('trainCron'),
    trainCpu,
    trainMemory,
    accuracyAlarmDays: int('accuracyAlarmDays', 1, 365),
  };
}

const CRON_FIELD = /^[0-9A-Za-z*?,/#-]+$/;

/**
 * Why `expression` is not a recurring EventBridge Scheduler cron, or undefined when it is: six fields, each of
 * digits, names and the operators `* ? , - / L W #`, and `?` in exactly one of day-of-month and day-of-week.
 * The service itself checks the values' ranges at deploy time.
 */
export function cronProblem(expression: string): string | undefined {
  const m = /^cron\((.*)\)$/.exec(expression.trim());
  if (!m) return 'not of the form cron(...)';
  const fields = m[1]!.trim().split(/\s+/);
  if (fields.length !== 6) return `cron() needs 6 fields, found ${fields.length}`;
  const bad = fields.find((f) => !CRON_FIELD.test(f));
  if (bad !== undefined) return `field ${JSON.stringify(bad)} holds a character cron() does not accept`;
  const [, , dayOfMonth, , dayOfWeek] = fields;
  if ((dayOfMonth === '?') === (dayOfWeek === '?')) return 'exactly one of day-of-month (field 3) and day-of-week (field 5) must be "?"';
  return undefined;
}
