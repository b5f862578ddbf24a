import fs from 'node:fs';
import { expect } from 'chai';
import { MODEL_POINTER_KEY } from '../../../shared/layout.js';
import type { RunManifest } from '../../../shared/manifest.js';
import { resolveModelFiles } from '../../../worker/cli/model-args.js';
import { publishModelVersion } from '../../../worker/ops/model-publish.js';
import { withCorruptedCheck } from '../../helpers/model-variant.js';
import { repoRoot, shared } from '../../helpers/paths.js';
import { eventually, inProcessWorker, queueCounts, readJson, runsWith, spawnWorker, startTestStack, upload, type TestStack } from '../../helpers/test-stack.js';

const TEST_CSV = fs.readFileSync(shared('data/crypto_test.csv'));

describe('the worker checks a model version on its own backend before serving it', () => {
  let stack: TestStack;
  let bad: string;
  before(async () => {
    stack = await startTestStack();
    const { files } = await resolveModelFiles({}, {}, repoRoot);
    bad = (await publishModelVersion(stack.objects, withCorruptedCheck(files), MODEL_POINTER_KEY, false)).version;
  });
  after(async () => stack?.close());

  it('at a model switch: keeps serving the version it has, and logs the failed check (an alarm counts it)', async () => {
    const worker = await inProcessWorker(stack);
    try {
      expect(worker.logs.find((l) => l.event === 'model.check-passed')).to.include({ model: stack.modelVersion });
      await stack.objects.putJson(MODEL_POINTER_KEY, { version: bad, prefix: `models/${bad}/` });
      const etag = await upload(stack, 'incoming/switch.csv', TEST_CSV);
      const manifest = await eventually(async () => {
        for (const k of await runsWith(stack, 'manifest.json')) {
          const m = await readJson<RunManifest>(stack, k);
          if (m.input.etag === etag) return m;
        }
        return undefined;
      }, 'the run');
      expect(manifest.model.version, 'served by the version that passed').to.equal(stack.modelVersion);
      const failed = worker.logs.find((l) => l.event === 'model.check-failed');
      expect(failed).to.include({ level: 'error', model: bad, keptInService: stack.modelVersion });
      expect((failed!.error as { message: string }).message).to.match(/failed its check on the \w+ backend: 1 of 16 windows/);
    } finally {
      await worker.stop();
      await stack.objects.putJson(MODEL_POINTER_KEY, { version: stack.modelVersion, prefix: `models/${stack.modelVersion}/` });
    }
  });

  it('at start: exits non-zero and leaves the message on the queue', async () => {
    await stack.objects.putJson(MODEL_POINTER_KEY, { version: bad, prefix: `models/${bad}/` });
    await upload(stack, 'incoming/at-start.csv', TEST_CSV);
    const w = spawnWorker(stack, 'worker-bad-model');
    const exit = await w.exited;
    expect(exit.code).to.equal(1);
    const crashed = w.logs.find((l) => l.event === 'worker.crashed');
    expect((crashed?.error as { message?: string } | undefined)?.message).to.match(new RegExp(`model version ${bad} failed its check`));
    expect(
      w.logs.some((l) => l.event === 'worker.polling'),
      'never polled',
    ).to.equal(false);
    expect((await queueCounts(stack, stack.stack.queueUrl)).visible).to.equal(1);
  });
});
