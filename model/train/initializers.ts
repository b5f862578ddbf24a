import type { RandomStream } from './prng.js';

/**
 * Keras's default initializers, drawn from a seeded stream in float64 and rounded to float32 once, so that
 * the initial weights do not depend on the TensorFlow.js backend.
 */

/** `glorot_uniform` (VarianceScaling(1, fan_avg, uniform)) for a [fanIn, fanOut] kernel: U(-l, l), l = sqrt(6 / (fanIn + fanOut)). */
export function glorotUniform(rng: RandomStream, fanIn: number, fanOut: number): Float32Array {
  const limit = Math.sqrt(6 / (fanIn + fanOut));
  return Float32Array.from({ length: fanIn * fanOut }, () => -limit + 2 * limit * rng.uniform());
}

/**
 * `orthogonal` (gain 1) for a row-major [rows, cols] kernel: a Gaussian matrix made orthonormal along its
 * shorter side, as Keras takes the matching factor of an SVD; here by modified Gram-Schmidt, applied twice
 * for accuracy. Gram-Schmidt keeps the Gaussian's orientation (positive diagonal of R), so the result is
 * Haar-distributed like Keras's.
 */
export function orthogonal(rng: RandomStream, rows: number, cols: number): Float32Array {
  const a = Float64Array.from({ length: rows * cols }, () => rng.normal());
  // Orthonormalise k vectors of length m: the rows when rows <= cols, else the columns.
  const byRows = rows <= cols;
  const k = byRows ? rows : cols;
  const m = byRows ? cols : rows;
  const at = (v: number, i: number) => (byRows ? v * cols + i : i * cols + v);
  for (let v = 0; v < k; v++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let u = 0; u < v; u++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += a[at(v, i)]! * a[at(u, i)]!;
        for (let i = 0; i < m; i++) a[at(v, i)] -= dot * a[at(u, i)]!;
      }
    }
    let norm = 0;
    for (let i = 0; i < m; i++) norm += a[at(v, i)]! ** 2;
    norm = Math.sqrt(norm);
    if (!(norm > 1e-12)) throw new Error(`orthogonal: degenerate draw for a [${rows}, ${cols}] kernel`);
    for (let i = 0; i < m; i++) a[at(v, i)] /= norm;
  }
  return Float32Array.from(a);
}
