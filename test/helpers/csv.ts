import fs from 'node:fs';
import { parseString } from 'fast-csv';

/** Parses CSV text into header-keyed records (tests only). */
export function parseCsvText(text: string): Promise<Record<string, string>[]> {
  return new Promise((resolve, reject) => {
    const rows: Record<string, string>[] = [];
    parseString(text, { headers: true })
      .on('data', (r: Record<string, string>) => rows.push(r))
      .on('error', reject)
      .on('end', () => resolve(rows));
  });
}

export function readCsvFile(file: string): Promise<Record<string, string>[]> {
  return parseCsvText(fs.readFileSync(file, 'utf8'));
}
