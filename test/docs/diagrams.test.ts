import { expect } from 'chai';
import fs from 'node:fs';
import path from 'node:path';
import { diagramSources, renderDot, svgPathOf } from './render.js';

/** The SVG as Graphviz writes it, without the comment lines that carry the Graphviz version and the file name. */
const normalise = (svg: string): string => svg.replace(/<!--[\s\S]*?-->/g, '').trim();

describe('docs diagrams (npm run docs)', () => {
  const sources = diagramSources();

  it('has the three diagrams: deployed system, local stack, one run', () => {
    expect(sources.map((s) => path.basename(s))).to.include.members(['deployed-system.dot', 'local-stack.dot', 'run-flow.dot']);
  });

  for (const source of sources) {
    const name = path.basename(source);
    it(`${name} renders, and the committed SVG is what it renders to (run \`npm run docs\` after an edit)`, () => {
      const rendered = renderDot(source);
      expect(rendered).to.match(/<svg[\s>]/);
      const svg = svgPathOf(source);
      expect(fs.existsSync(svg), `${path.basename(svg)} is committed`).to.equal(true);
      expect(normalise(fs.readFileSync(svg, 'utf8')), `${path.basename(svg)} is current`).to.equal(normalise(rendered));
    });
  }
});
