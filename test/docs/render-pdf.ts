/**
 * `npm run docs:pdf`: the scaling plan as PDF (A4, 2 cm margins, 11 pt) in out/docs/: the whole plan, and its text part
 * alone (which the brief limits to two pages).
 */
import fs from 'node:fs';
import path from 'node:path';
import { PLAN_FILE, renderMarkdownPdf, textPart } from './pdf.js';
import { REPO_ROOT } from './render.js';

const outDir = path.join(REPO_ROOT, 'out', 'docs');
const plan = fs.readFileSync(PLAN_FILE, 'utf8');
const full = path.join(outDir, 'scaling-plan.pdf');
const text = path.join(outDir, 'scaling-plan-text.pdf');
const fullPages = await renderMarkdownPdf(plan, full);
const textPages = await renderMarkdownPdf(textPart(plan), text);
console.log(`${path.relative(REPO_ROOT, full)}: ${fullPages} pages`);
console.log(`${path.relative(REPO_ROOT, text)}: ${textPages} pages (text part; limit 2)`);
