import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { native } from './native.js';
import * as ops from './ops.js';
import { tidy, zeros } from './tensor.js';

/**
 * Which BLAS libtorch multiplies matrices with. Debian's libtorch calls whatever `libblas.so.3`
 * the system selects (update-alternatives): netlib's reference BLAS where only `libblas3` is
 * installed, about 30 times slower than OpenBLAS on a 2048 x 2048 product, and rounding
 * differently, so a run's numbers depend on it (docs/engine.md). A pip or conda libtorch carries
 * MKL inside and loads no shared BLAS.
 */
export interface BlasInfo {
  /** OpenBLAS, reference BLAS (netlib), MKL, BLIS, ATLAS, FlexiBLAS, or built into libtorch. */
  name: string;
  /** The shared library loaded (its real path), or null where libtorch carries its own. */
  path: string | null;
}

const KNOWN: [RegExp, string][] = [
  [/openblas/i, 'OpenBLAS'],
  [/mkl/i, 'MKL'],
  [/blis/i, 'BLIS'],
  [/atlas/i, 'ATLAS'],
  [/flexiblas/i, 'FlexiBLAS'],
  [/\/blas\/libblas\.so/, 'reference BLAS (netlib)'],
];

/** The BLAS of the shared libraries a process has mapped (real paths), by name. */
export function classifyBlas(libraries: readonly string[]): BlasInfo {
  const blas = libraries.filter((p) =>
    /lib(open)?blas|libmkl|libblis|libsatlas|libtatlas|libflexiblas/.test(p),
  );
  for (const [pattern, name] of KNOWN) {
    const path = blas.find((p) => pattern.test(p));
    if (path !== undefined) return { name, path };
  }
  const other = blas[0];
  return other !== undefined
    ? { name: 'another BLAS', path: other }
    : { name: 'built into libtorch (no shared BLAS loaded)', path: null };
}

/** The BLAS this process's libtorch uses, from the libraries it has mapped (Linux). */
export function loadedBlas(): BlasInfo {
  native();
  const maps = '/proc/self/maps';
  if (!existsSync(maps)) return { name: 'unknown (no /proc/self/maps)', path: null };
  const libraries = new Set<string>();
  for (const line of readFileSync(maps, 'utf8').split('\n')) {
    const path = line.slice(line.indexOf('/'));
    if (line.includes('/') && path.includes('.so')) {
      try {
        libraries.add(realpathSync(path));
      } catch {
        libraries.add(path);
      }
    }
  }
  return classifyBlas([...libraries]);
}

/**
 * Sustained GFLOP/s of an fp32 matrix product of n x n matrices through libtorch (a linear layer
 * without bias, as the classifier's): the median of `rounds` after one warm-up.
 */
export function matmulGflops(n = 1024, rounds = 3): number {
  const times: number[] = [];
  tidy(() => {
    const x = zeros([n, n]).uniform_(-1, 1);
    const w = zeros([n, n]).uniform_(-1, 1);
    ops.linear(x, w, null).dispose();
    for (let i = 0; i < rounds; i++) {
      const start = performance.now();
      ops.linear(x, w, null).dispose();
      times.push(performance.now() - start);
    }
  });
  times.sort((a, b) => a - b);
  const ms = times[times.length >> 1] ?? Number.NaN;
  return (2 * n ** 3) / (ms * 1e6);
}
