import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { DOCS_DIR, REPO_ROOT } from './render.js';

/** The product's documents: README and every markdown file in docs/. */
const documents = [path.join(REPO_ROOT, 'README.md'), ...fs.readdirSync(DOCS_DIR).filter((f) => f.endsWith('.md')).map((f) => path.join(DOCS_DIR, f))];

/** Backticked repository file paths (`worker/runtime/run.ts`, `docs/diagrams/run-flow.dot`), placeholders and globs left out. */
function repoPaths(markdown: string): string[] {
  const found = [...markdown.matchAll(/`((?:model|worker|infra|shared|test|docs|\.ci)\/[\w./-]+\.(?:ts|js|py|md|dot|svg|txt))`/g)].map((m) => m[1]!);
  return [...new Set(found)];
}

describe('docs name files that exist', () => {
  for (const doc of documents) {
    const name = path.relative(REPO_ROOT, doc);
    it(`${name}: every repository path it names is in the repository`, () => {
      const missing = repoPaths(fs.readFileSync(doc, 'utf8')).filter((p) => !fs.existsSync(path.join(REPO_ROOT, p)));
      expect(missing, `${name} names files that do not exist`).to.deep.equal([]);
    });
  }

  it('no document names an internal issue number', () => {
    for (const doc of documents) {
      const text = fs.readFileSync(doc, 'utf8');
      expect(text, path.relative(REPO_ROOT, doc)).not.to.match(/(^|[\s(])#\d+\b|\bissue\b/im);
    }
  });
});
