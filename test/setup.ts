// Loaded by mocha before any spec (.mocharc.json). The TF.js backend is process-global and chosen by the entry point
// of a process; for the test process that is here (TFJS_BACKEND forces one, as for the commands).
import { initBackend } from '../model/backend.js';
import { backendFromEnv } from '../worker/cli/model-args.js';

export const mochaHooks = {
  async beforeAll(): Promise<void> {
    await initBackend(backendFromEnv(process.env));
  },
};
