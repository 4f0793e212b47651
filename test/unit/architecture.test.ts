import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { repoRoot } from '../helpers/paths.js';

/**
 * The layering the README promises, checked on the sources: which module may load which at run
 * time (type-only imports are erased and do not count; dynamic imports load on demand).
 */
const SRC = join(repoRoot, 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory()
      ? sources(join(dir, e.name))
      : e.name.endsWith('.ts')
        ? [join(dir, e.name)]
        : [],
  );
}

const files = sources(SRC);
const rel = (path: string): string => relative(SRC, path).replace(/\\/g, '/');

/** The modules a file loads when it loads: static imports that are not `import type`. */
function staticImports(file: string): { local: string[]; packages: string[] } {
  const text = readFileSync(file, 'utf8');
  const local: string[] = [];
  const packages: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\b)[^;]*?from\s+'([^']+)';/gms)) {
    const spec = m[1] ?? '';
    if (spec.startsWith('.')) local.push(rel(resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
    else packages.push(spec);
  }
  for (const m of text.matchAll(/^export\s+(?!type\b)[^;]*?from\s+'([^']+)';/gms)) {
    const spec = m[1] ?? '';
    if (spec.startsWith('.')) local.push(rel(resolve(dirname(file), spec.replace(/\.js$/, '.ts'))));
  }
  return { local, packages };
}

const graph = new Map(files.map((f) => [rel(f), staticImports(f)]));

/** Every module (and package) loaded, transitively, when `start` loads. */
function closure(start: string): { modules: Set<string>; packages: Set<string> } {
  const modules = new Set<string>();
  const packages = new Set<string>();
  const todo = [start];
  while (todo.length > 0) {
    const next = todo.pop() as string;
    if (modules.has(next)) continue;
    modules.add(next);
    const node = graph.get(next);
    assert.ok(node, `${next} is imported but does not exist`);
    for (const p of node.packages) packages.add(p);
    todo.push(...node.local);
  }
  return { modules, packages };
}

/**
 * The folders and what each may load at run time (the README's "Layout"): a graph without
 * cycles, the engine under the models under the trainer under the sweep under the command line;
 * data apart; the family over the models' layer plans; the run folder, the analysis and the
 * report over the family and the run folder.
 */
/** The command line and the library's entry point may load every layer. */
const EVERY_LAYER = [
  'sweep',
  'report',
  'analysis',
  'run',
  'train',
  'models',
  'family',
  'data',
  'engine',
  'util',
  'errors.ts',
] as const;

const LAYERS: Record<string, readonly string[]> = {
  'errors.ts': [],
  types: [],
  util: [],
  engine: ['util', 'errors.ts'],
  models: ['engine', 'util', 'errors.ts'],
  family: ['models', 'util', 'errors.ts'],
  data: ['util', 'errors.ts'],
  train: ['models', 'engine', 'data', 'family', 'util', 'errors.ts'],
  run: ['train', 'models', 'family', 'data', 'util', 'errors.ts'],
  analysis: ['run', 'family', 'util', 'errors.ts'],
  report: ['analysis', 'run', 'family', 'util', 'errors.ts'],
  sweep: ['analysis', 'run', 'train', 'models', 'family', 'data', 'engine', 'util', 'errors.ts'],
  cli: EVERY_LAYER,
  'index.ts': EVERY_LAYER,
};

const folderOf = (file: string): string => file.split('/')[0] as string;

describe('the architecture, as the README states it', () => {
  it('every import follows the stated layers, folder by folder', () => {
    const wrong: string[] = [];
    for (const [file, { local }] of graph) {
      const from = folderOf(file);
      const allowed = LAYERS[from];
      assert.ok(allowed, `${file} is in a folder the layers do not name`);
      for (const target of local) {
        const to = folderOf(target);
        if (to !== from && !allowed.includes(to)) wrong.push(`${file} -> ${target}`);
      }
    }
    assert.deepEqual(wrong, []);
  });

  it('the family and the models load no engine where they describe widths and costs', () => {
    for (const start of [
      'family/skew-normal.ts',
      'family/linear.ts',
      'family/hold.ts',
      'family/members.ts',
      'models/vgg-plan.ts',
      'models/vgg-base.ts',
    ]) {
      const engine = [...closure(start).modules].filter((m) => m.startsWith('engine/'));
      assert.deepEqual(engine, [], `${start} loads ${engine.join(', ')}`);
    }
  });

  it('the run folder, the analysis and the report load neither the engine nor the trainer nor the sweep runner', () => {
    const starts = [...graph.keys()].filter(
      (f) => f.startsWith('run/') || f.startsWith('report/') || f.startsWith('analysis/'),
    );
    assert.ok(starts.length > 5);
    for (const start of starts) {
      const { modules } = closure(start);
      const bad = [...modules].filter(
        (m) =>
          m.startsWith('engine/') ||
          m === 'train/trainer.ts' ||
          m === 'sweep/sweep.ts' ||
          m.startsWith('sweep/distributed/'),
      );
      assert.deepEqual(bad, [], `${start} loads ${bad.join(', ')}`);
    }
  });

  it('only the sweep and the command line use the sweep runner', () => {
    for (const [file, { local }] of graph) {
      if (file.startsWith('sweep/') || file.startsWith('cli/') || file === 'index.ts') continue;
      assert.ok(!local.includes('sweep/sweep.ts'), `${file} imports the sweep runner`);
    }
  });

  it('spells the run folder file names once, in src/run/files.ts', () => {
    for (const file of files) {
      if (rel(file) === 'run/files.ts') continue;
      const text = readFileSync(file, 'utf8');
      for (const name of [
        'config.json',
        'results.jsonl',
        'environment.json',
        'failed.json',
        'halving.json',
      ]) {
        assert.ok(!text.includes(`'${name}'`), `${rel(file)} spells '${name}'`);
      }
      assert.ok(!/`arch_\$\{/.test(text), `${rel(file)} spells a checkpoint name`);
    }
  });

  it('loads no heavy library before a command needs it', () => {
    const { packages } = closure('cli/main.ts');
    for (const heavy of ['bullmq', 'ioredis', 'playwright-core']) {
      assert.ok(!packages.has(heavy), `featshift's CLI loads ${heavy} at start`);
    }
  });

  it('builds the report page from TypeScript, without markup strings', () => {
    const page = readFileSync(join(SRC, 'report', 'page', 'app.ts'), 'utf8');
    assert.ok(!/innerHTML|outerHTML|insertAdjacentHTML|document\.write/.test(page));
  });
});
