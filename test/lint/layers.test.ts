import { expect } from 'chai';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';
import { layerRules } from '../../eslint.layers.js';
import { repoRoot } from '../helpers/paths.js';

/** The layer rules of eslint.config.js, on sources that exist only here, placed in each folder they govern. */
describe('layer rules (no-restricted-imports, as npm test lints)', () => {
  const eslint = new ESLint({
    cwd: repoRoot,
    overrideConfigFile: true,
    overrideConfig: [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser } }, ...layerRules],
  });
  const lint = async (filePath: string, code: string): Promise<string[]> => {
    const [result] = await eslint.lintText(code, { filePath });
    return result!.messages.map((m) => `${m.ruleId}: ${m.message}`);
  };

  const wrong: [string, string][] = [
    ['model/probe.ts', "import { S3Client } from '@aws-sdk/client-s3';"],
    ['model/probe.ts', "import { Consumer } from 'sqs-consumer';"],
    ['model/probe.ts', "import { handleMessage } from '../worker/runtime/handler.js';"],
    ['shared/probe.ts', "import { tf } from '../model/tf-core.js';"],
    ['shared/probe.ts', "import * as tf from '@tensorflow/tfjs-core';"],
    ['shared/probe.ts', "import { SQSClient } from '@aws-sdk/client-sqs';"],
    ['shared/probe.ts', "import * as pulumi from '@pulumi/pulumi';"],
    ['worker/runtime/probe.ts', "import * as aws from '@pulumi/aws';"],
    ['worker/runtime/probe.ts', "import { listDlq } from '../ops/dlq.js';"],
    ['worker/runtime/probe.ts', "import { startLocalStack } from '../local/stack.js';"],
    ['worker/runtime/probe.ts', "import { resolveStackTarget } from '../cli/stack-args.js';"],
    ['worker/ops/probe.ts', "import { LOCAL_STACK } from '../local/constants.js';"],
    ['infra/probe.ts', "import { workerConfigFromEnv } from '../worker/runtime/config.js';"],
    ['infra/probe.ts', "import { predictCsv } from '../model/engine.js';"],
  ];
  for (const [file, code] of wrong) {
    it(`refuses in ${file}: ${code}`, async () => {
      const messages = await lint(file, code);
      expect(messages, 'one layer violation').to.have.length(1);
      expect(messages[0]).to.match(/^no-restricted-imports: /);
    });
  }

  it('accepts the allowed direction: commands -> worker -> model -> shared, infra -> shared', async () => {
    expect(await lint('worker/commands/probe.ts', "import { listDlq } from '../ops/dlq.js';\nimport { main } from '../local/start.js';")).to.deep.equal([]);
    expect(
      await lint('worker/runtime/probe.ts', "import { predictCsv } from '../../model/engine.js';\nimport { S3Client } from '@aws-sdk/client-s3';"),
    ).to.deep.equal([]);
    expect(await lint('model/probe.ts', "import { PermanentFailure } from '../shared/failures.js';")).to.deep.equal([]);
    expect(await lint('infra/probe.ts', "import { PREFIX } from '../shared/layout.js';\nimport * as aws from '@pulumi/aws';")).to.deep.equal([]);
  });
});
