import { paginateListObjectsV2 } from '@aws-sdk/client-s3';
import { MODEL_POINTER_KEY, modelPrefix, PREFIX } from '../../shared/layout.js';
import { registryVersionKey } from './keys.js';
import type { ApiStore } from './store.js';

/**
 * GET /models: the versions under `models/` (from their metadata.json), the pointer in service, and each version's
 * registry record where there is one. Read here rather than through the model store, which loads TF.js.
 */

interface MetadataFields {
  sources?: { h5?: { sha256?: string }; scaler?: { sha256?: string } };
  keras?: { version?: string };
  symbols?: unknown[];
  createdAt?: string;
}

export interface ModelVersionView {
  version: string;
  current: boolean;
  h5Sha256: string | null;
  scalerSha256: string | null;
  kerasVersion: string | null;
  symbols: number | null;
  registry: Record<string, unknown> | null;
}

export async function modelsView(store: ApiStore): Promise<{ pointer: { version: string; prefix: string } | null; versions: ModelVersionView[] }> {
  const pointer = await store.json<{ version: string; prefix: string }>(MODEL_POINTER_KEY);
  const names: string[] = [];
  for await (const page of paginateListObjectsV2({ client: store.s3 }, { Bucket: store.bucket, Prefix: PREFIX.models, Delimiter: '/' })) {
    for (const p of page.CommonPrefixes ?? []) names.push(p.Prefix!.slice(PREFIX.models.length, -1));
  }
  const versions = await Promise.all(
    names.map(async (version): Promise<ModelVersionView | null> => {
      const m = await store.json<MetadataFields>(`${modelPrefix(version)}metadata.json`);
      if (!m) return null;
      return {
        version,
        current: version === pointer?.version,
        h5Sha256: m.sources?.h5?.sha256 ?? null,
        scalerSha256: m.sources?.scaler?.sha256 ?? null,
        kerasVersion: m.keras?.version ?? null,
        symbols: Array.isArray(m.symbols) ? m.symbols.length : null,
        registry: await store.json<Record<string, unknown>>(registryVersionKey(version)),
      };
    }),
  );
  return {
    pointer: pointer ? { version: pointer.version, prefix: pointer.prefix } : null,
    versions: versions.filter((v): v is ModelVersionView => v !== null),
  };
}
