import { versionIdOf, type ModelVersionFiles } from '../../model/model-store.js';
import { scalersFromJson, scalersToJson } from '../../model/scalers.js';
import type { ModelMetadata } from '../../model/types.js';

/**
 * Another valid model version made from `files`: the same network, the scalers without `dropSymbol`. Its content
 * differs, so it has its own version id.
 */
export function variantWithout(files: ModelVersionFiles, dropSymbol: string): Map<string, Buffer> {
  const scalers = scalersFromJson(files.get('scalers.json')!.toString('utf8'), 'scalers.json');
  const symbols = new Map([...scalers.symbols].filter(([s]) => s !== dropSymbol));
  const out = new Map(files);
  out.set('scalers.json', Buffer.from(scalersToJson({ symbols, hypers: scalers.hypers })));
  const metadata = JSON.parse(files.get('metadata.json')!.toString('utf8')) as ModelMetadata;
  const next: ModelMetadata = { ...metadata, version: versionIdOf(out), symbols: [...symbols.keys()] };
  out.set('metadata.json', Buffer.from(`${JSON.stringify(next, null, 2)}\n`));
  return out;
}

/** The same version with one reference output of its check moved off by 0.01: valid files, a failing check. */
export function withCorruptedCheck(files: ModelVersionFiles): Map<string, Buffer> {
  const out = new Map(files);
  const check = JSON.parse(files.get('check.json')!.toString('utf8')) as { expected: number[] };
  check.expected[3]! += 0.01;
  out.set('check.json', Buffer.from(`${JSON.stringify(check)}\n`));
  const metadata = JSON.parse(files.get('metadata.json')!.toString('utf8')) as ModelMetadata;
  out.set('metadata.json', Buffer.from(`${JSON.stringify({ ...metadata, version: versionIdOf(out) }, null, 2)}\n`));
  return out;
}
