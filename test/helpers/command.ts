import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import type { CommandIo } from '../../worker/cli/entry.js';
import { repoRoot } from './paths.js';

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command's `main` in this process, capturing what it prints (the exit code is main's return value). */
export async function runInProcess(
  main: (argv: string[], io: CommandIo) => Promise<number>,
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<CommandResult> {
  let stdout = '';
  let stderr = '';
  const code = await main(argv, { out: (l) => (stdout += `${l}\n`), err: (l) => (stderr += `${l}\n`), env });
  return { code, stdout, stderr };
}

/** Runs an entry file as its own process, as npm runs it (`node --import tsx <file>`). */
export async function runSpawned(entry: string, argv: string[], env: NodeJS.ProcessEnv = process.env, timeoutMs = 120_000): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['--import', 'tsx', path.join(repoRoot, entry), ...argv], {
      cwd: repoRoot,
      env,
      timeout: timeoutMs,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}
