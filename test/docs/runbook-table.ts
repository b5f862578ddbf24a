/** The command table of docs/runbook.md (read by test/docs/runbook.test.ts and runbook.e2e.test.ts). */

export const PENDING = 'TODO-COVERAGE';

export interface CommandRow {
  step: string;
  where: string;
  command: string;
  tests: string[];
  words: string[];
  pending: boolean;
}

/** The backticked items of a table cell. */
const ticked = (cell: string): string[] => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);

/** The rows of the table between `<!-- commands -->` and `<!-- /commands -->`. */
export function commandRows(markdown: string): CommandRow[] {
  const start = markdown.indexOf('<!-- commands -->');
  const end = markdown.indexOf('<!-- /commands -->');
  if (start < 0 || end < start) throw new Error('runbook.md: no <!-- commands --> ... <!-- /commands --> table');
  const lines = markdown
    .slice(start, end)
    .split('\n')
    .filter((l) => l.startsWith('|'))
    .slice(2);
  return lines.map((line) => {
    // Split on cell bars, not on a bar inside a backticked command.
    const cells = line
      .slice(1, -1)
      .split(/\|(?=(?:[^`]*`[^`]*`)*[^`]*$)/)
      .map((c) => c.trim());
    if (cells.length !== 5) throw new Error(`runbook.md: a command row needs 5 cells: ${line}`);
    const [step, where, command, covered, words] = cells as [string, string, string, string, string];
    const [cmd] = ticked(command);
    if (!cmd) throw new Error(`runbook.md: no backticked command in: ${line}`);
    return { step, where, command: cmd, tests: ticked(covered), words: ticked(words), pending: covered.includes(PENDING) };
  });
}

/** For `npm start` / `npm run <script>`: the entry file its package.json script runs, as tests import it (`commands/dlq`). */
export function entryOf(command: string, scripts: Record<string, string>): { script: string; entry: string | undefined } | undefined {
  const m = /^npm (?:start|run ([\w:-]+))/.exec(command);
  if (!m) return undefined;
  const script = m[1] ?? 'start';
  const file = /(worker\/[\w/-]+)\.ts/.exec(scripts[script] ?? '')?.[1];
  return { script, entry: file?.replace(/^worker\//, '') };
}

