import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { classifyBlas } from '../../src/engine/blas.js';
import { settleNumerics } from '../../src/run/folder.js';
import { UsageError } from '../../src/errors.js';

describe('the BLAS libtorch multiplies with', () => {
  it('is named from the libraries a process has mapped', () => {
    const lib = '/usr/lib/x86_64-linux-gnu';
    const cases: [string[], string][] = [
      [[`${lib}/openblas-pthread/libblas.so.3`, `${lib}/libgomp.so.1`], 'OpenBLAS'],
      [[`${lib}/blas/libblas.so.3.11.0`], 'reference BLAS (netlib)'],
      [['/opt/intel/lib/libmkl_rt.so.2'], 'MKL'],
      [[`${lib}/blis-openmp/libblas.so.3`], 'BLIS'],
      [
        [`${lib}/libtorch_cpu.so.1.13`, `${lib}/libc.so.6`],
        'built into libtorch (no shared BLAS loaded)',
      ],
    ];
    for (const [libraries, name] of cases) assert.equal(classifyBlas(libraries).name, name);
    assert.equal(classifyBlas([`${lib}/libc.so.6`]).path, null);
  });

  it('is part of a run’s numerics: a resume under another one is refused, an older run is not checked', () => {
    const runtime = { threads: null, device: 'cpu' };
    const openblas = {
      name: 'OpenBLAS',
      path: '/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3',
    };
    const reference = {
      name: 'reference BLAS (netlib)',
      path: '/usr/lib/x86_64-linux-gnu/blas/libblas.so.3',
    };
    const stored = settleNumerics(runtime, undefined, 2, openblas);
    assert.deepEqual(stored, { threads: 2, deviceKind: 'cpu', blas: openblas });
    assert.deepEqual(settleNumerics(runtime, stored, 2, openblas), stored);
    assert.throws(
      () => settleNumerics(runtime, stored, 2, reference),
      (e: unknown) =>
        e instanceof UsageError && /trained with OpenBLAS .* uses reference BLAS/.test(e.message),
    );
    const older = { threads: 2, deviceKind: 'cpu' };
    assert.deepEqual(settleNumerics(runtime, older, 2, reference), older);
  });
});
