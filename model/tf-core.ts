import { createRequire } from 'node:module';
import type * as TfCore from '@tensorflow/tfjs-core';

const require = createRequire(import.meta.url);

/**
 * Loads one of TensorFlow.js's CommonJS bundles (core, backends) the cheap way, which saves about 90 ms of
 * every `npm run predict`:
 * - with `require`, not `import`: an ESM import of a CommonJS file first scans all of it for export names
 *   (tfjs-core is 1.2 MB) and goes through tsx's loader thread; Node shares one module instance either way;
 * - with source maps off while it loads: tsx turns them on for our TypeScript, and Node would then read and
 *   parse each bundle's map (tfjs-core's is 2 MB) only to locate stack frames inside TensorFlow.js.
 */
export function requireBundle<T>(id: string): T {
  const enabled = process.sourceMapsEnabled === true; // undefined before Node 20.7
  process.setSourceMapsEnabled(false);
  try {
    return require(id) as T;
  } finally {
    process.setSourceMapsEnabled(enabled);
  }
}

export const tf = requireBundle<typeof TfCore>('@tensorflow/tfjs-core');
