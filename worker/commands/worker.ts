/** The worker process: `node dist/worker/commands/worker.js` in the image. Config from the environment. */
import { execFileSync } from 'node:child_process';
import { WORKER_ENV } from '../../shared/worker-env.js';
import { createWorkerApp } from '../runtime/app.js';
import { workerConfigFromEnv } from '../runtime/config.js';

/** Outside an image (the local stack), the commit of the checkout the worker runs from. */
function gitCommit(): string {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    return 'unknown';
  }
}

async function main(): Promise<void> {
  const env = { ...process.env };
  env[WORKER_ENV.codeCommit] ||= gitCommit();
  env[WORKER_ENV.codeVersion] ||= `local@${env[WORKER_ENV.codeCommit]}`;
  const app = await createWorkerApp(workerConfigFromEnv(env));
  const shutdown = (signal: string) => {
    app.log.info('worker.stopping', { signal });
    app
      .stop()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        app.log.error('worker.stop-failed', { error: err });
        process.exit(1);
      });
  };
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
  app.worker.start();
}

main().catch((err: unknown) => {
  const e = err as Error;
  process.stdout.write(
    `${JSON.stringify({ level: 'error', time: new Date().toISOString(), event: 'worker.crashed', error: { type: e.name, message: e.message, stack: e.stack } })}\n`,
  );
  process.exit(1);
});
