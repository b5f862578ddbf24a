import seedrandom from 'seedrandom';

/** A seeded stream of random numbers (Alea): the same seed and name always give the same sequence. */
export interface RandomStream {
  /** Uniform in [0, 1), 53 bits. */
  uniform(): number;
  /** Standard normal (Box-Muller). */
  normal(): number;
  /** A permutation of 0..n-1 (Fisher-Yates). */
  permutation(n: number): Uint32Array;
}

/** Independent streams per purpose (`init`, `shuffle`, `dropout`), so that changing one use leaves the others' draws alone. */
export function randomStream(seed: number, purpose: string): RandomStream {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer; got ${seed}`);
  const next = seedrandom.alea(`${seed}/${purpose}`);
  let spare: number | undefined;
  const uniform = () => next.double();
  return {
    uniform,
    normal(): number {
      if (spare !== undefined) {
        const v = spare;
        spare = undefined;
        return v;
      }
      let u = 0;
      while (u === 0) u = uniform();
      const radius = Math.sqrt(-2 * Math.log(u));
      const angle = 2 * Math.PI * uniform();
      spare = radius * Math.sin(angle);
      return radius * Math.cos(angle);
    },
    permutation(n: number): Uint32Array {
      const p = new Uint32Array(n);
      for (let i = 0; i < n; i++) p[i] = i;
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(uniform() * (i + 1));
        const t = p[i]!;
        p[i] = p[j]!;
        p[j] = t;
      }
      return p;
    },
  };
}
