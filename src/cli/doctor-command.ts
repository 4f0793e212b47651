import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { freemem, totalmem, cpus } from 'node:os';
import type { HostAllocator, HostMemory } from '../engine/index.js';
import { UsageError } from '../errors.js';
import * as parse from './parse.js';

const GiB = 1024 ** 3;

const ALLOCATOR_WORDS: Record<HostAllocator, string> = {
  tcmalloc: "tcmalloc's page heap, the large ones from featshift's block cache in huge pages",
  'block-cache':
    "featshift's block cache (install libtcmalloc-minimal4: small models train faster with it)",
  libtorch: "libtorch's own allocator",
};

/** Where libtorch's other buffers come from: the process's malloc (scripts/with-tcmalloc.sh). */
function mallocWords(memory: HostMemory): string {
  if (memory.processMalloc === 'tcmalloc') return 'tcmalloc, for the whole process (preloaded)';
  if (memory.processMalloc === 'other') return 'a preloaded allocator other than tcmalloc';
  return memory.allocator === 'tcmalloc'
    ? "glibc's for libtorch's other buffers: the featshift command preloads tcmalloc, up to 10 % faster on small models (docs/engine.md)"
    : "glibc's";
}

function readHugePagesSetting(): string | undefined {
  try {
    return readFileSync('/sys/kernel/mm/transparent_hugepage/enabled', 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * Whether the kernel gives the block cache's large tensors huge pages, from the contents of
 * /sys/kernel/mm/transparent_hugepage/enabled (undefined where it cannot be read).
 */
export function hugePagesWords(setting: string | undefined, allocator: HostAllocator): string {
  if (allocator === 'libtorch') return "not asked for (libtorch's own allocator holds the tensors)";
  const mode = /\[(\w+)\]/.exec(setting ?? '')?.[1];
  if (mode === undefined) return 'unknown (no /sys/kernel/mm/transparent_hugepage/enabled)';
  if (mode === 'never')
    return "never: large tensors' blocks move base pages, slower under a hypervisor that shadows page tables (docs/engine.md)";
  return `${mode}: large tensors take whole 2 MiB pages`;
}

/** A line of the config that libtorch reports about itself, such as its oneDNN version. */
function configLine(config: string, pattern: RegExp): string | undefined {
  return config
    .split('\n')
    .map((l) => l.trim())
    .find((l) => pattern.test(l));
}

export function doctorCommand(): Command {
  return new Command('doctor')
    .description('check the compute engine: libtorch version and build, threads, devices, memory')
    .option('--threads <N>', 'intra-op threads to use (default: all cores)', parse.positiveInteger)
    .action(async (o: { threads?: number }) => {
      const out: string[] = [];
      const ok = (label: string, value: string): number =>
        out.push(`  ${label.padEnd(14)} ${value}`);
      let healthy = true;
      try {
        // Loaded lazily so that `featshift family` works even where the addon is not built.
        const engine = await import('../engine/index.js');
        const info = engine.buildInfo();
        if (o.threads !== undefined) engine.setThreads(o.threads);
        ok('addon', 'loaded');
        ok('libtorch', info.version);
        ok('oneDNN', info.mkldnn ? (configLine(info.config, /MKL-DNN|oneDNN/i) ?? 'yes') : 'no');
        ok(
          'CUDA',
          info.builtWithCuda
            ? info.cudaAvailable
              ? `yes, ${info.cudaDeviceCount} device(s)`
              : 'built with CUDA, no device visible'
            : 'no (CPU-only libtorch)',
        );
        ok('parallel', configLine(info.parallel, /parallel backend/i) ?? 'unknown');
        ok('threads', `${engine.threads()} of ${cpus().length} cores`);
        const blas = engine.loadedBlas();
        const gflops = engine.matmulGflops(1024);
        ok(
          'BLAS',
          `${blas.name}${blas.path ? ` (${blas.path})` : ''}: a 1024 x 1024 fp32 matrix product at ${gflops.toFixed(0)} GFLOP/s`,
        );
        if (blas.name.startsWith('reference'))
          out.push(
            "  warning        the reference BLAS is tens of times slower than OpenBLAS on the classifier's matrix products: sudo apt-get install libopenblas0-pthread (runs started under one BLAS resume only under it: docs/engine.md)",
          );
        const { jpegDecoder } = await import('../data/image-decode.js');
        ok('JPEG', `${jpegDecoder()} (image folders)`);
        ok('devices', engine.devices().join(', '));
        const memory = engine.hostMemory();
        ok(
          'memory',
          `cpu: ${(freemem() / GiB).toFixed(1)} GiB free of ${(totalmem() / GiB).toFixed(1)} GiB; tensors from ${ALLOCATOR_WORDS[memory.allocator]} (FEATSHIFT_HOST_ALLOCATOR: docs/engine.md)`,
        );
        ok('malloc', mallocWords(memory));
        ok('huge pages', hugePagesWords(readHugePagesSetting(), memory.allocator));
        // A real computation, end to end: a convolution and its gradient.
        const check = engine.tidy(() => {
          const x = engine.ones([1, 1, 3, 3]);
          const w = engine.ones([1, 1, 3, 3]).setRequiresGrad();
          const y = engine.ops.sum(engine.ops.conv2d(x, w, null, 1, 1));
          y.backward();
          return [y.item(), w.grad?.data()[0]];
        });
        // 3x3 ones convolved with 3x3 ones, padding 1: 4 corners x 4 + 4 edges x 6 + 9 = 49.
        const passed = check[0] === 49 && check[1] === 4;
        healthy &&= passed;
        ok(
          'self-test',
          passed ? 'conv2d forward and backward: ok' : `conv2d gave ${String(check)}`,
        );
      } catch (error) {
        if (error instanceof UsageError) throw error; // a setting to fix, not the machine's problem
        healthy = false;
        ok('addon', `NOT LOADED: ${error instanceof Error ? error.message : String(error)}`);
      }
      process.stdout.write(
        `featshift doctor: ${healthy ? 'ok' : 'PROBLEMS FOUND'}\n${out.join('\n')}\n`,
      );
      if (!healthy) process.exitCode = 1;
    });
}
