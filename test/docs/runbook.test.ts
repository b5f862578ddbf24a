import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { DOCS_DIR, REPO_ROOT } from './render.js';
import { commandRows, entryOf } from './runbook-table.js';

/**
 * Commands of the runbook whose covering test is still being written (marked TODO-COVERAGE in the table). Each entry
 * must match a pending row exactly; empty this list as the tests land, and the check below then holds for every row.
 */
const PENDING_ALLOWED: readonly string[] = [];

describe('docs/runbook.md: every command names a test that runs or covers it', () => {
  const runbook = fs.readFileSync(path.join(DOCS_DIR, 'runbook.md'), 'utf8');
  const rows = commandRows(runbook);
  const scripts = (JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;

  it('has a command table covering each step the runbook walks through', () => {
    const steps = new Set(rows.map((r) => r.step));
    for (const step of ['deploy', 'smoke', 'drop a CSV', 'submit over the API', 'find predictions', 'inspect the DLQ', 'redrive the DLQ', 'scale', 'forecast now', 'load history', 'extend scalers', 'train', 'approve', 'promote', 'roll back', 'realized accuracy', 'tear down']) {
      expect([...steps], step).to.include(step);
    }
  });

  it('lists every command of the table in the runbook text, and every npm command of the text in the table', () => {
    const body = runbook.slice(0, runbook.indexOf('<!-- commands -->'));
    for (const r of rows) expect(body, r.command).to.contain(r.command);
    const tableCommands = new Set(rows.map((r) => r.command));
    const npmLines = [...body.matchAll(/^(npm (?:start|run)[^#\n]*?)\s*(?:#.*)?$/gm)].map((m) => m[1]!.trim());
    for (const line of npmLines) expect([...tableCommands], line).to.include(line);
  });

  it('names, for each covered command, test files that exist and mention its entry file and words', () => {
    for (const r of rows.filter((row) => !row.pending)) {
      expect(r.tests, `${r.command}: covered by`).to.not.be.empty;
      const texts = r.tests.map((t) => {
        const file = path.join(REPO_ROOT, t);
        expect(fs.existsSync(file), `${r.command}: ${t} exists`).to.equal(true);
        return fs.readFileSync(file, 'utf8');
      });
      const npm = entryOf(r.command, scripts);
      if (npm) {
        expect(scripts, `${r.command}: package.json has the script`).to.have.property(npm.script);
        expect(npm.entry, `${r.command}: the script runs an entry file`).to.be.a('string');
        expect(texts.some((t) => t.includes(npm.entry!)), `${r.command}: a named test imports ${npm.entry}`).to.equal(true);
      }
      for (const word of r.words) expect(texts.some((t) => t.includes(word)), `${r.command}: a named test mentions ${word}`).to.equal(true);
    }
  });

  it('fails on a TODO-COVERAGE row unless PENDING_ALLOWED names it (the list is emptied as the tests land)', () => {
    const pending = rows.filter((r) => r.pending).map((r) => r.command);
    expect(pending.filter((c) => !PENDING_ALLOWED.includes(c)), 'pending rows not in PENDING_ALLOWED').to.deep.equal([]);
    expect(PENDING_ALLOWED.filter((c) => !pending.includes(c)), 'PENDING_ALLOWED entries that are covered now (remove them)').to.deep.equal([]);
  });
});
