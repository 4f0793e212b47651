import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from './helpers/paths.js';

/**
 * The GPU check's CPU path (scripts/device/gpu-check.sh, docs/engine.md): what it takes to a GPU
 * machine packed from the npm registry and this tree, unpacked in a copy of the tree that has no
 * node_modules and no build, its addon compiled there with the compiler alone against a libtorch
 * given by path, and every step of the check run on the CPU.
 */
const run = (
  command: string,
  args: string[],
  options: { cwd: string; env?: NodeJS.ProcessEnv },
): ReturnType<typeof spawnSync> =>
  spawnSync(command, args, {
    ...options,
    encoding: 'utf8',
    env: { ...process.env, ...options.env },
    timeout: 10 * 60 * 1000,
  });

/** What stays here: installed dependencies, builds, run folders, the packing itself. */
const LEFT_BEHIND = new Set([
  '.git',
  'node_modules',
  'build',
  '.device',
  'runs',
  'test-artifacts',
  'gpu-check-out',
]);

/** Debian's libtorch-dev as a libtorch folder (include/ and lib/), as LIBTORCH takes one. */
function libtorchByPath(dir: string): string {
  const lib = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'].find((d) =>
    existsSync(join(d, 'libtorch.so')),
  );
  assert.ok(lib, "Debian's libtorch-dev is installed");
  mkdirSync(dir);
  symlinkSync('/usr/include', join(dir, 'include'));
  symlinkSync(lib, join(dir, 'lib'));
  return dir;
}

describe('the GPU check, on its CPU path', () => {
  it('packs Node.js, the dependencies and a dataset, builds the addon there and runs every step', () => {
    const tmp = mkdtempSync(join(tmpdir(), 'featshift-device-'));
    const tree = join(tmp, 'tree');
    const root = repoRoot;
    const packed = run('bash', ['scripts/device/pack.sh', join(tree, '.device')], { cwd: root });
    assert.equal(packed.status, 0, `${String(packed.stdout)}${String(packed.stderr)}`);
    // The tree as the device tool carries it: the sources and dist/, no dependencies, no build.
    cpSync(root, tree, {
      recursive: true,
      filter: (path) => !LEFT_BEHIND.has(relative(root, path).split(sep)[0] ?? ''),
    });
    assert.ok(!existsSync(join(tree, 'node_modules')) && !existsSync(join(tree, 'build')));
    const out = join(tmp, 'out');
    const check = run('bash', ['scripts/device/gpu-check.sh'], {
      cwd: tree,
      env: {
        OUT: out,
        FEATSHIFT_CHECK_DEVICE: 'cpu',
        FEATSHIFT_CHECK_QUICK: '1',
        LIBTORCH: libtorchByPath(join(tmp, 'libtorch')),
      },
    });
    const log = existsSync(join(out, 'log.txt')) ? readFileSync(join(out, 'log.txt'), 'utf8') : '';
    assert.equal(check.status, 0, `${String(check.stdout)}\n${log.slice(-4000)}`);
    const table = readFileSync(join(out, 'table.md'), 'utf8');
    for (const step of ['node', 'torch', 'build', 'doctor', 'parity', 'engine', 'sweep'])
      assert.match(table, new RegExp(`^\\| ${step} \\| ok \\| \\d+ s \\|$`, 'm'));
    // The packed Node ran the check, and the addon was compiled against the libtorch given.
    assert.match(log, new RegExp(`^v${process.versions.node}$`, 'm'));
    assert.match(log, /compile-addon: g\+\+ against .*libtorch\/lib/);
    assert.ok(existsSync(join(tree, 'build', 'Release', 'featshift_native.node')));
    // The engine table: this machine's limit, and featshift against PyTorch with an interval.
    assert.match(table, /^\| 3x3 conv \| \d+ \| - \|$/m);
    // Both ratios: the fastest steps in lockstep, and the median steps of separate runs.
    assert.match(
      table,
      /^\| vgg16\/8 \| [\d.]+ \| [\d.]+ \| [\d.]+x \[[\d.]+, [\d.]+\] \| [\d.]+x \[[\d.]+, [\d.]+\] \|/m,
    );
    assert.match(table, /one after another \d+ s, as two sweeps at once on the one device \d+ s/);
    for (const sweep of ['sweep-serial', 'sweep-at-once-a', 'sweep-at-once-b'])
      assert.ok(existsSync(join(out, sweep, 'results.jsonl')), sweep);
  });
});
