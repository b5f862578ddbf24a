// Loaded by `npm run test:e2e` only: every AWS request that the worker, the commands and the team's clients make in
// the suite is recorded (worker/runtime/request-log.ts), for the IAM check that runs next (`npm run test:iam`).
import fs from 'node:fs';
import { WORKER_ENV } from '../shared/worker-env.js';
import { REQUEST_LOG_FILE } from './helpers/paths.js';

export function mochaGlobalSetup(): void {
  fs.rmSync(REQUEST_LOG_FILE, { force: true });
  process.env[WORKER_ENV.requestLog] = REQUEST_LOG_FILE;
}
