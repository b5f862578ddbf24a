// The dependency rules of docs/architecture.md, as ESLint `no-restricted-imports` blocks keyed by folder.
// Shared by eslint.config.js and by the test that proves a wrong import fails (test/lint/layers.test.ts).
const AWS = { group: ['@aws-sdk/*', '@smithy/*', 'sqs-consumer'], message: 'no AWS here: the engine and shared code know no queue or bucket' };
const TF = { group: ['@tensorflow/*', 'h5wasm'], message: 'no TF.js here: shared code is types and pure functions' };
const PULUMI = { group: ['@pulumi/*'], message: '@pulumi/* belongs to infra/ only' };
const folder = (name, why) => ({ group: [`**/${name}/**`, `**/${name}/*`], message: why });

const rule = (...patterns) => ({ 'no-restricted-imports': ['error', { patterns }] });

export const layerRules = [
  {
    files: ['shared/**/*.ts'],
    rules: rule(
      AWS,
      TF,
      PULUMI,
      folder('model', 'shared/ imports nothing of the project'),
      folder('worker', 'shared/ imports nothing of the project'),
      folder('infra', 'shared/ imports nothing of the project'),
      { group: ['pino', 'fast-csv'], message: 'shared/ has no dependencies' },
    ),
  },
  { files: ['model/**/*.ts'], rules: rule(AWS, PULUMI, folder('worker', 'the engine knows no worker'), folder('infra', 'the engine knows no infra')) },
  {
    files: ['infra/**/*.ts'],
    rules: rule(folder('worker', 'infra/ imports no worker code: share names through shared/'), folder('model', 'infra/ imports no engine code')),
  },
  {
    files: ['worker/runtime/**/*.ts', 'worker/tasks/**/*.ts'],
    rules: rule(
      PULUMI,
      folder('ops', 'the runtime (the image) does not import operator commands'),
      folder('local', 'the runtime does not import the local stack'),
      folder('cli', 'flags belong to entry files'),
      folder('commands', 'nothing imports an entry file'),
    ),
  },
  {
    files: ['worker/ops/**/*.ts'],
    rules: rule(
      PULUMI,
      folder('local', 'operator libraries do not import the local stack'),
      folder('cli', 'flags belong to entry files'),
      folder('commands', 'nothing imports an entry file'),
    ),
  },
  { files: ['worker/local/**/*.ts'], rules: rule(PULUMI, folder('cli', 'flags belong to entry files'), folder('commands', 'nothing imports an entry file')) },
  { files: ['worker/cli/**/*.ts'], rules: rule(PULUMI, folder('commands', 'nothing imports an entry file')) },
  { files: ['worker/commands/**/*.ts'], rules: rule(PULUMI) },
  {
    // The API is what the Lambda bundles: no TF.js (the engine), no operator or local-stack code.
    files: ['worker/api/**/*.ts'],
    rules: rule(
      PULUMI,
      TF,
      folder('model', 'the API reads records, it runs no engine'),
      folder('ops', 'operator work belongs to the console routes (worker/console)'),
      folder('local', 'the API does not import the local stack'),
      folder('cli', 'flags belong to entry files'),
      folder('commands', 'nothing imports an entry file'),
      folder('console', 'the Lambda bundles no console'),
    ),
  },
  {
    files: ['worker/console/**/*.ts'],
    rules: rule(
      PULUMI,
      TF,
      folder('local', 'the console does not import the local stack'),
      folder('cli', 'flags belong to entry files'),
      folder('commands', 'nothing imports an entry file'),
    ),
  },
];
