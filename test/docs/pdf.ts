import fs from 'node:fs';
import path from 'node:path';
import { marked } from 'marked';
import { PDFDocument } from 'pdf-lib';
import { DOCS_DIR, printToPdf } from './render.js';

/** The scaling plan as PDF: markdown (marked) -> HTML with print CSS -> headless Chromium -> PDF; pages counted with pdf-lib. */

export const PLAN_FILE = path.join(DOCS_DIR, 'scaling-plan.md');
/** The comment that ends the plan's text part: everything after it is the appendix (no length limit). */
export const TEXT_PART_END = '<!-- end of the text part';

/** The brief's limit: A4, 2 cm margins, 11 pt body text. Tables (appendix only) are set smaller. */
export const PRINT_CSS = `
@page { size: A4; margin: 2cm; }
html { font-size: 11pt; }
body { margin: 0; font-family: "DejaVu Serif", serif; font-size: 11pt; line-height: 1.3; color: #111; }
h1 { font-size: 15pt; margin: 0 0 6pt; }
h2 { font-size: 12.5pt; margin: 10pt 0 4pt; }
h3 { font-size: 11.5pt; margin: 10pt 0 4pt; }
p { margin: 0 0 5pt; text-align: left; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 9.5pt; }
table { border-collapse: collapse; font-family: "DejaVu Sans", sans-serif; font-size: 8pt; margin: 4pt 0 8pt; width: 100%; }
th, td { border: 0.5pt solid #999; padding: 2pt 3pt; vertical-align: top; text-align: left; }
img { max-width: 100%; }
blockquote { margin: 4pt 0; padding: 2pt 8pt; border-left: 3pt solid #c77c02; background: #fff6e5; }
`;

/** The text part of the plan: from the start to the marker (throws when the marker is missing). */
export function textPart(markdown: string): string {
  const end = markdown.indexOf(TEXT_PART_END);
  if (end < 0) throw new Error(`scaling-plan.md: no "${TEXT_PART_END} ..." comment ends the text part`);
  return markdown.slice(0, end);
}

/** A standalone HTML page; relative links and images resolve against `baseDir`. */
export function planHtml(markdown: string, baseDir: string = DOCS_DIR): string {
  const body = marked.parse(markdown, { async: false, gfm: true });
  const base = `file://${baseDir.endsWith('/') ? baseDir : `${baseDir}/`}`;
  return `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><base href="${base}"><title>Scaling plan</title><style>${PRINT_CSS}</style></head>\n<body>\n${body}</body></html>\n`;
}

/** Renders markdown to `pdfFile` (the HTML is written beside it) and returns the PDF's page count. */
export async function renderMarkdownPdf(markdown: string, pdfFile: string): Promise<number> {
  fs.mkdirSync(path.dirname(pdfFile), { recursive: true });
  const htmlFile = pdfFile.replace(/\.pdf$/, '.html');
  fs.writeFileSync(htmlFile, planHtml(markdown));
  printToPdf(path.resolve(htmlFile), path.resolve(pdfFile));
  return pageCount(fs.readFileSync(pdfFile));
}

export async function pageCount(pdf: Uint8Array): Promise<number> {
  return (await PDFDocument.load(pdf, { updateMetadata: false })).getPageCount();
}
