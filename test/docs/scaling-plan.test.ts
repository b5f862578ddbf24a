import { expect } from 'chai';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pageCount, PLAN_FILE, planHtml, renderMarkdownPdf, textPart } from './pdf.js';

/** What the brief asks the plan to answer: each must appear in the text part, marked built or planned. */
const REQUIREMENTS = [
  'Auditable predictions',
  'retraining',
  'Rollback',
  'Training data from the pipeline',
  'market close',
  'Scaling with data and requests',
  'Near-real-time',
  'High availability',
  'RESTful endpoint',
  'Cost',
  '1 TB a month',
];

describe('docs/scaling-plan.md (npm run docs:pdf)', () => {
  const plan = fs.readFileSync(PLAN_FILE, 'utf8');
  const text = textPart(plan);

  it('answers every requirement of the brief in its text part, each marked built or planned', () => {
    for (const req of REQUIREMENTS) expect(text, req).to.contain(req);
    const paragraphs = text.split(/\n\n/).filter((p) => /^\*\*[A-Z]/.test(p) && !p.startsWith('**For the team') && !p.startsWith('**Cost') && !p.startsWith('**What'));
    expect(paragraphs.length).to.be.greaterThan(8);
    for (const p of paragraphs) expect(p, p.slice(0, 60)).to.match(/\*(Built|Planned):\*/);
  });

  it('keeps file paths out of the text part (they belong in the appendix)', () => {
    expect(text).not.to.match(/\b(worker|infra|model|shared|test)\/[\w-]+\.ts\b/);
  });

  it('states the page count of its text part, and the rendered text part has at most 2 A4 pages', async function () {
    this.timeout(180_000);
    const stated = /prints on (\d+) A4 pages/.exec(text);
    expect(stated, 'the plan states its page count').to.not.equal(null);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'scaling-plan-'));
    try {
      const pages = await renderMarkdownPdf(text, path.join(dir, 'text.pdf'));
      expect(pages).to.be.at.most(2);
      expect(pages, 'the stated count is the rendered one').to.equal(Number(stated![1]));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('renders with the A4, 2 cm, 11 pt print rules', () => {
    const html = planHtml(text);
    expect(html).to.contain('size: A4').and.to.contain('margin: 2cm').and.to.contain('font-size: 11pt');
  });

  it('counts the pages of a PDF (the helper the limit relies on)', async () => {
    const { PDFDocument } = await import('pdf-lib');
    const doc = await PDFDocument.create();
    doc.addPage();
    doc.addPage();
    doc.addPage();
    expect(await pageCount(await doc.save())).to.equal(3);
  });
});
