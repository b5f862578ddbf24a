import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Rendering of the documents in docs/: Graphviz diagrams to SVG, the scaling plan to PDF (headless Chromium). */

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DOCS_DIR = path.join(REPO_ROOT, 'docs');
export const DIAGRAMS_DIR = path.join(DOCS_DIR, 'diagrams');

/** The `.dot` sources under docs/diagrams/, sorted. */
export function diagramSources(dir: string = DIAGRAMS_DIR): string[] {
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.dot'))
    .sort()
    .map((f) => path.join(dir, f));
}

/** `dot -Tsvg` of one source, as text. Throws with Graphviz's message when the source does not parse. */
export function renderDot(source: string, dot = process.env.DOT ?? 'dot'): string {
  try {
    return execFileSync(dot, ['-Tsvg', source], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${path.relative(REPO_ROOT, source)}: dot failed: ${(e.stderr ?? e.message).trim()}`, { cause: err });
  }
}

/** The SVG committed beside a source. */
export const svgPathOf = (source: string): string => source.replace(/\.dot$/, '.svg');

export const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';

/** Prints an HTML file to PDF with headless Chromium (page size and margins come from the page's own @page CSS). */
export function printToPdf(htmlFile: string, pdfFile: string, chromium = CHROMIUM): void {
  const profile = fs.mkdtempSync(path.join(path.dirname(pdfFile), '.chromium-'));
  try {
    execFileSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--no-first-run',
        `--user-data-dir=${profile}`,
        '--no-pdf-header-footer',
        `--print-to-pdf=${pdfFile}`,
        `file://${htmlFile}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'], timeout: 120_000 },
    );
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (!fs.existsSync(pdfFile)) throw new Error(`chromium wrote no ${pdfFile}`);
}
