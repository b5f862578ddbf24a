import { expect } from 'chai';
import { CONFIG_DEFAULTS, cronProblem, parseInfraConfig, InfraConfigError } from '../../infra/config.js';

const source = (values: Record<string, string>) => ({ get: (key: string) => values[key] });

describe('infra config', () => {
  it('gives every key its default when the stack sets nothing', () => {
    expect(parseInfraConfig(source({}))).to.deep.equal({ ...CONFIG_DEFAULTS, alarmEmail: undefined });
    // Two warm tasks by default: one per Availability Zone (high availability).
    expect(CONFIG_DEFAULTS).to.include({ minWorkers: 2, maxReceiveCount: 3, workerCpu: 512, workerMemory: 1024, oldestMessageAlarmSeconds: 300 });
  });

  it('parses set values', () => {
    const config = parseInfraConfig(
      source({
        minWorkers: '0',
        maxWorkers: '10',
        maxReceiveCount: '5',
        workerCpu: '256',
        workerMemory: '512',
        backlogPerWorker: '2.5',
        alarmEmail: 'a@b.io',
        logRetentionDays: '14',
        forceDestroy: 'true',
        oldestMessageAlarmSeconds: '120',
        reconcileCron: 'cron(0 3 * * ? *)',
        reconcileRequeue: 'true',
        marketCloseCron: ' cron(10 0 * * ? *) ',
        trainCron: 'cron(30 2 ? * SUN *)',
        trainCpu: '8192',
        trainMemory: '16384',
        accuracyAlarmDays: '5',
      }),
    );
    expect(config).to.deep.equal({
      minWorkers: 0,
      maxWorkers: 10,
      maxReceiveCount: 5,
      workerCpu: 256,
      workerMemory: 512,
      backlogPerWorker: 2.5,
      alarmEmail: 'a@b.io',
      logRetentionDays: 14,
      forceDestroy: true,
      oldestMessageAlarmSeconds: 120,
      reconcileCron: 'cron(0 3 * * ? *)',
      reconcileRequeue: true,
      marketCloseCron: 'cron(10 0 * * ? *)',
      trainCron: 'cron(30 2 ? * SUN *)',
      trainCpu: 8192,
      trainMemory: 16384,
      accuracyAlarmDays: 5,
    });
  });

  it('schedules the forecast a few minutes after the 00:00 UTC close, the training weekly, the reconciler daily', () => {
    expect(CONFIG_DEFAULTS).to.include({
      marketCloseCron: 'cron(5 0 * * ? *)',
      trainCron: 'cron(0 1 ? * MON *)',
      reconcileCron: 'cron(30 2 * * ? *)',
      reconcileRequeue: false,
    });
    expect(CONFIG_DEFAULTS).to.include({ trainCpu: 4096, trainMemory: 8192, accuracyAlarmDays: 3 });
    for (const key of ['marketCloseCron', 'trainCron', 'reconcileCron'] as const) expect(cronProblem(CONFIG_DEFAULTS[key]), key).to.equal(undefined);
  });

  const rejected: Array<[Record<string, string>, string, RegExp]> = [
    [{ minWorkers: '-1' }, 'minWorkers', /integer in \[0, 1000\]/],
    [{ maxWorkers: 'two' }, 'maxWorkers', /"two"/],
    [{ minWorkers: '3', maxWorkers: '2' }, 'maxWorkers', />= minWorkers \(3\)/],
    [{ maxReceiveCount: '0' }, 'maxReceiveCount', /integer/],
    [{ workerCpu: '300' }, 'workerCpu', /one of 256, 512/],
    [{ workerCpu: '1024', workerMemory: '1024' }, 'workerMemory', /1024 MiB with 1024 CPU units/],
    [{ workerCpu: '512', workerMemory: '1536' }, 'workerMemory', /steps of 1024/],
    [{ backlogPerWorker: '0' }, 'backlogPerWorker', /> 0/],
    [{ logRetentionDays: '10' }, 'logRetentionDays', /accepts 1, 3, 5/],
    [{ oldestMessageAlarmSeconds: '30' }, 'oldestMessageAlarmSeconds', /integer in \[60, /],
    [{ forceDestroy: 'yes' }, 'forceDestroy', /true or false/],
    [{ alarmEmail: 'ops' }, 'alarmEmail', /e-mail address/],
    [{ marketCloseCron: '5 0 * * ? *' }, 'marketCloseCron', /not of the form cron\(\.\.\.\).*"5 0 \* \* \? \*"/],
    [{ marketCloseCron: 'cron(5 0 * * *)' }, 'marketCloseCron', /needs 6 fields, found 5/],
    [{ trainCron: 'cron(0 1 * * MON *)' }, 'trainCron', /exactly one of day-of-month .* must be "\?"/],
    [{ reconcileCron: 'cron(0 1 ? * ? *)' }, 'reconcileCron', /exactly one of day-of-month/],
    [{ reconcileCron: 'cron(0 1 * * ? *);' }, 'reconcileCron', /not of the form/],
    [{ trainCron: 'cron(0 1 ? * MON$ *)' }, 'trainCron', /field "MON\$" holds a character/],
    [{ reconcileRequeue: 'yes' }, 'reconcileRequeue', /true or false/],
    [{ trainCpu: '3000' }, 'trainCpu', /one of 256, 512/],
    [{ trainCpu: '4096', trainMemory: '4096' }, 'trainMemory', /4096 MiB with 4096 CPU units/],
    [{ accuracyAlarmDays: '0' }, 'accuracyAlarmDays', /integer in \[1, 365\]/],
    [{ accuracyAlarmDays: '2.5' }, 'accuracyAlarmDays', /"2\.5"/],
  ];
  for (const [values, key, message] of rejected) {
    it(`rejects ${JSON.stringify(values)} naming "${key}"`, () => {
      const parse = () => parseInfraConfig(source(values));
      expect(parse).to.throw(InfraConfigError, message).with.property('key', key);
      expect(parse).to.throw(`config "${key}"`);
    });
  }
});
