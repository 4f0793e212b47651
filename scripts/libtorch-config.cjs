// Tells binding.gyp where libtorch is and how to compile against it.
//   node scripts/libtorch-config.cjs include|libdir|libs|defines
// LIBTORCH=<dir> (a libtorch with include/ and lib/, such as site-packages/torch of a pip
// install, CUDA builds included) wins; otherwise Debian's libtorch-dev under /usr.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

function fail(message) {
  process.stderr.write(
    `\nfeatshift: ${message}\n` +
      'Get a libtorch in one of two ways:\n' +
      '  - Debian 12: sudo apt-get install libtorch-dev   (or: bash scripts/setup-debian.sh)\n' +
      '  - any other libtorch (CUDA included): LIBTORCH=/path/to/libtorch npm ci\n' +
      '    e.g. LIBTORCH=$(python3 -c "import torch, os; print(os.path.dirname(torch.__file__))")\n\n',
  );
  process.exit(1);
}

function locate() {
  const custom = process.env.LIBTORCH;
  if (custom) {
    const root = path.resolve(custom);
    const include = path.join(root, 'include');
    const lib = path.join(root, 'lib');
    if (!fs.existsSync(path.join(include, 'torch', 'csrc', 'api', 'include', 'torch', 'torch.h'))) {
      fail(`LIBTORCH=${custom} has no include/torch/csrc/api/include/torch/torch.h`);
    }
    if (!fs.existsSync(lib)) fail(`LIBTORCH=${custom} has no lib/ folder`);
    return { include: [include, path.join(include, 'torch', 'csrc', 'api', 'include')], lib };
  }
  const include = '/usr/include/torch/csrc/api/include';
  const multiarch = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib'];
  const lib = multiarch.find((d) => fs.existsSync(path.join(d, 'libtorch.so')));
  if (!fs.existsSync(path.join(include, 'torch', 'torch.h')) || !lib) {
    fail("no libtorch found: neither LIBTORCH is set nor Debian's libtorch-dev installed");
  }
  return { include: ['/usr/include', include], lib };
}

// libtorch must be compiled against with its own C++ ABI: pip wheels before 2.7 used the old one.
function cxx11Abi(lib) {
  const c10 = path.join(lib, 'libc10.so');
  try {
    const symbols = execFileSync('nm', ['-D', '--defined-only', c10], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
    return /__cxx11/.test(symbols) ? 1 : 0;
  } catch {
    return 1;
  }
}

function hasLib(lib, name) {
  return fs.existsSync(path.join(lib, `lib${name}.so`));
}

const where = locate();
const what = process.argv[2];
if (what === 'include') console.log(where.include.join(' '));
else if (what === 'libdir') console.log(where.lib);
else if (what === 'libs') {
  const libs = ['torch', 'torch_cpu', 'c10'];
  if (hasLib(where.lib, 'torch_cuda')) libs.push('torch_cuda', 'c10_cuda');
  const flags = libs.map((l) => `-l${l}`);
  // Keep libtorch_cuda linked even though the addon calls nothing in it directly: it registers
  // the CUDA backend when loaded.
  if (hasLib(where.lib, 'torch_cuda')) flags.unshift('-Wl,--no-as-needed');
  console.log([`-L${where.lib}`, `-Wl,-rpath,${where.lib}`, ...flags].join(' '));
} else if (what === 'defines') {
  const defines = [`_GLIBCXX_USE_CXX11_ABI=${cxx11Abi(where.lib)}`];
  if (hasLib(where.lib, 'torch_cuda')) defines.push('FEATSHIFT_WITH_CUDA=1');
  console.log(defines.join(' '));
} else fail(`libtorch-config: unknown query '${what}'`);
