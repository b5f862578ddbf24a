import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as pulumi from '@pulumi/pulumi';
import { parseInfraConfig } from './config.js';
import { sourceRevision } from './provenance.js';
import { createStack } from './stack.js';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

// The stack outputs: `pulumi stack output --json`, with the names in shared/worker-env.ts (STACK_OUTPUT).
export default createStack({
  config: parseInfraConfig(new pulumi.Config()),
  // Relative, so the image's recorded build inputs do not differ between machines.
  imageContext: path.relative(process.cwd(), repoRoot) || '.',
  revision: sourceRevision(repoRoot),
});
