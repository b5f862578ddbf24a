import { createRequire } from 'node:module';
import path from 'node:path';
import { requireBundle, tf } from './tf-core.js';

/**
 * The one owner of TensorFlow.js's backend, which is process-global (per thread: each inference thread owns
 * its own). Callers pass the choice in; nothing here reads the environment or flags.
 */
export type BackendName = 'tensorflow' | 'wasm' | 'cpu';
export const BACKEND_ORDER: readonly BackendName[] = ['tensorflow', 'wasm', 'cpu'];

export interface BackendChoice {
  name: BackendName;
  /** Why a preferred backend was not used, one entry per backend tried before this one. */
  fallbacks: string[];
}

export class BackendError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BackendError';
  }
}

const require = createRequire(import.meta.url);
let active: Promise<BackendChoice> | undefined;
let activeName: BackendName | undefined;

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
 * Starts TensorFlow.js's backend once per process (thread): `only` forces one (an entry file passes what its
 * flag or environment says); without it, the fastest that works here: tfjs-node, else wasm, else pure-JS CPU.
 * Later calls return the same choice; asking for another backend than the one running is an error (tests and
 * benchmarks use `switchBackend`).
 */
export function initBackend(only?: BackendName): Promise<BackendChoice> {
  if (only !== undefined && !BACKEND_ORDER.includes(only)) {
    return Promise.reject(new BackendError(`backend must be one of ${BACKEND_ORDER.join(', ')}; got ${JSON.stringify(only)}`));
  }
  if (active) {
    return active.then((choice) => {
      if (only !== undefined && choice.name !== only) throw new BackendError(`the ${choice.name} backend is already running; cannot start ${only} as well`);
      return choice;
    });
  }
  const started = (async () => {
    const fallbacks: string[] = [];
    for (const name of only ? [only] : BACKEND_ORDER) {
      try {
        await tryBackend(name);
        activeName = name;
        return { name, fallbacks };
      } catch (err) {
        fallbacks.push(`${name}: ${(err as Error).message.split('\n')[0]}`);
      }
    }
    throw new BackendError(`no TensorFlow.js backend could start (${fallbacks.join('; ')})`);
  })();
  active = started;
  // A failed start may be retried (e.g. with another choice).
  started.catch(() => {
    if (active === started) active = undefined;
  });
  return started;
}

/** The backend this thread runs, once `initBackend` has settled. */
export function activeBackendName(): BackendName | undefined {
  return activeName;
}

/** Switches the process to another backend (tests and benchmarks compare backends in one process). */
export async function switchBackend(name: BackendName): Promise<BackendChoice> {
  active = undefined;
  activeName = undefined;
  return initBackend(name);
}

/** An entry file's flag or environment value as a backend choice: undefined when empty (pick the fastest). */
export function parseBackendName(value: string | undefined, source: string): BackendName | undefined {
  if (value === undefined || value === '') return undefined;
  if (!(BACKEND_ORDER as readonly string[]).includes(value)) {
    throw new BackendError(`${source} must be one of ${BACKEND_ORDER.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return value as BackendName;
}
