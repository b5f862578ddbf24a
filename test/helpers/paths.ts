import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
/** The team's read-only reference folder beside the repo. */
export const sharedDir = path.resolve(repoRoot, '../shared');
export const shared = (...parts: string[]): string => path.join(sharedDir, ...parts);
export const fixture = (name: string): string => path.join(repoRoot, 'test/fixtures', name);
/** Where the end-to-end suite records every AWS request the product's code makes (read by the IAM check, npm run test:iam). */
export const REQUEST_LOG_FILE = path.join(repoRoot, '.local/test-output/aws-requests.jsonl');
