/** `npm run docs`: renders every docs/diagrams/*.dot to the SVG committed beside it (`dot -Tsvg`). */
import fs from 'node:fs';
import path from 'node:path';
import { diagramSources, renderDot, REPO_ROOT, svgPathOf } from './render.js';

for (const source of diagramSources()) {
  const svg = svgPathOf(source);
  fs.writeFileSync(svg, renderDot(source));
  console.log(`${path.relative(REPO_ROOT, source)} -> ${path.relative(REPO_ROOT, svg)}`);
}
