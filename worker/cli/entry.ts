import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is worker/cli/entry.ts, or dist/worker/cli/entry.js when compiled). */
export const REPO_ROOT = (() => {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const up = path.resolve(here, '../..');
  return path.basename(up) === 'dist' ? path.dirname(up) : up;
})();

/**
 * True when the module at `moduleUrl` is the process's entry point (`node --import tsx <file>` or `node <file>`), so an
 * entry file can export its `main` for in-process tests and still run when started as a command.
 */
export function isEntry(moduleUrl: string): boolean {
  const argv1 = process.argv[1];
  if (!argv1) return false;
  const real = (p: string) => {
    try {
      return fs.realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  return real(fileURLToPath(moduleUrl)) === real(argv1);
}

/** What a command prints, so tests can run it in-process and read its output. */
export interface CommandIo {
  out: (line: string) => void;
  err: (line: string) => void;
  env: NodeJS.ProcessEnv;
}

export const processIo: CommandIo = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  env: process.env,
};

/** Runs an entry's main when the file is the process's entry point; the exit code is main's. */
export function runIfEntry(moduleUrl: string, main: (argv: string[], io: CommandIo) => Promise<number>): void {
  if (!isEntry(moduleUrl)) return;
  main(process.argv.slice(2), processIo).then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
