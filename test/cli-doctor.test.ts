import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { runCli } from './helpers/cli.js';
import { cliPath } from './helpers/paths.js';
import { tcmallocHere } from './helpers/tcmalloc.js';
import { hugePagesWords } from '../src/cli/doctor-command.js';

describe('featshift doctor', () => {
  it('reports the engine and passes its self-test', () => {
    const r = runCli(['doctor', '--threads', '1']);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^featshift doctor: ok/);
    assert.match(r.stdout, /libtorch\s+\d+\.\d+/);
    assert.match(r.stdout, /threads\s+1 of \d+ cores/);
    assert.match(r.stdout, /devices\s+cpu/);
    // The setup installs libtcmalloc-minimal4: tensors live in its page heap (docs/engine.md).
    assert.match(r.stdout, /memory\s+cpu: .* tensors from tcmalloc's page heap/);
    // The setup installs libjpeg: image folders' JPEGs go through the library Pillow uses.
    assert.match(r.stdout, /JPEG\s+libjpeg-turbo \d/);
    assert.match(r.stdout, /self-test\s+conv2d forward and backward: ok/);
    assert.match(r.stdout, /huge pages\s+(always|madvise|never|unknown)/);
  });

  it('says whether large tensors get huge pages', () => {
    assert.equal(
      hugePagesWords('always [madvise] never\n', 'tcmalloc'),
      'madvise: large tensors take whole 2 MiB pages',
    );
    assert.equal(
      hugePagesWords('[always] madvise never\n', 'block-cache'),
      'always: large tensors take whole 2 MiB pages',
    );
    assert.match(
      hugePagesWords('always madvise [never]\n', 'tcmalloc'),
      /^never: .* move base pages/,
    );
    assert.match(hugePagesWords(undefined, 'tcmalloc'), /^unknown/);
    assert.match(hugePagesWords('[always] madvise never\n', 'libtorch'), /^not asked for/);
  });

  it('says where tensors live when the block cache holds them', () => {
    const r = runCli(['doctor', '--threads', '1'], {
      env: { FEATSHIFT_HOST_ALLOCATOR: 'block-cache' },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /tensors from featshift's block cache \(install libtcmalloc-minimal4: small models train faster with it\)/,
    );
  });

  it('names the allocators when FEATSHIFT_HOST_ALLOCATOR names none', () => {
    const r = runCli(['doctor'], { env: { FEATSHIFT_HOST_ALLOCATOR: 'jemalloc' } });
    assert.equal(r.status, 2, r.stdout + r.stderr);
    assert.equal(
      r.stderr,
      'featshift: error: FEATSHIFT_HOST_ALLOCATOR=jemalloc is not an allocator: use auto, tcmalloc, block-cache or libtorch, or leave it unset\n',
    );
  });

  it(
    'runs on tcmalloc through the featshift command, on glibc on Node directly',
    {
      skip: tcmallocHere ? false : 'no tcmalloc on this machine',
    },
    () => {
      const command = runCli(['doctor', '--threads', '1']);
      assert.equal(command.status, 0, command.stdout + command.stderr);
      assert.match(
        command.stdout,
        /\n {2}malloc\s+tcmalloc, for the whole process \(preloaded\)\n/,
      );
      const direct = spawnSync(process.execPath, [cliPath, 'doctor', '--threads', '1'], {
        encoding: 'utf8',
      });
      assert.equal(direct.status, 0, direct.stdout + direct.stderr);
      assert.match(
        direct.stdout,
        /\n {2}malloc\s+glibc's for libtorch's other buffers: the featshift command preloads tcmalloc/,
      );
    },
  );

  it('leaves the process on glibc when FEATSHIFT_HOST_ALLOCATOR chooses another allocator', () => {
    const r = runCli(['doctor', '--threads', '1'], {
      env: { FEATSHIFT_HOST_ALLOCATOR: 'libtorch' },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /tensors from libtorch's own allocator/);
    assert.match(r.stdout, /\n {2}malloc\s+glibc's\n/);
  });
});
