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
