import { createRequire } from 'node:module';
import path from 'node:path';
import { requireBundle, tf } from './tf-core.js';

export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** Why a preferred backend was not used, one entry per backend tried before this one. */
  fallbacks: string[];
}

const require = createRequire(import.meta.url);
let active: Promise<BackendChoice> | undefined;

async function tryBackend(name: BackendName): Promise<void> {
  // Each backend registers itself when loaded; loaded only when tried, so that the fallbacks cost nothing
  // when the first choice works.
  if (name === 'tensorflow') {
    // Optional dependency: absent wherever its libtensorflow download failed at install.
    requireBundle('@tensorflow/tfjs-node');
  } else if (name === 'wasm') {
    const wasm = requireBundle<typeof import('@tensorflow/tfjs-backend-wasm')>('@tensorflow/tfjs-backend-wasm');
    const dist = path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm'));
    wasm.setWasmPaths(dist + path.sep);
  } else {
    requireBundle('@tensorflow/tfjs-backend-cpu');
  }
  if (!(await tf.setBackend(name))) throw new Error(`tf.setBackend('${name}') returned false`);
  await tf.ready();
}

/**
 * Picks the fastest backend that works here, once per process: tfjs-node, else wasm, else pure-JS CPU.
 * `only` (or env TFJS_BACKEND) forces one, e.g. for tests and benchmarks.
 */
export function initBackend(only: BackendName | undefined = parseBackendEnv()): Promise<BackendChoice> {
  active ??= (async () => {
    const fallbacks: string[] = [];
    for (const name of only ? [only] : BACKEND_ORDER) {
      try {
        await tryBackend(name);
        return { name, fallbacks };
      } catch (err) {
        fallbacks.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    throw new Error(`no TensorFlow.js backend could start (${fallbacks.join('; ')})`);
  })();
  return active;
}

/** Switches the process to another backend (tests and benchmarks compare backends in one process). */
export async function switchBackend(name: BackendName): Promise<BackendChoice> {
  active = undefined;
  return initBackend(name);
}

function parseBackendEnv(): BackendName | undefined {
  const v = process.env.TFJS_BACKEND;
  if (!v) return undefined;
  if (!(BACKEND_ORDER as readonly string[]).includes(v)) {
    throw new Error(`TFJS_BACKEND must be one of ${BACKEND_ORDER.join(', ')}; got ${JSON.stringify(v)}`);
  }
  return v as BackendName;
}
