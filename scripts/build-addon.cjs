// Builds the native addon with node-gyp, offline: node-gyp is told to use the headers of the Node
// that runs this script (its install prefix) instead of downloading them.
'use strict';
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const prefix = path.dirname(path.dirname(process.execPath));
const headers = path.join(prefix, 'include', 'node', 'node_api.h');
if (!fs.existsSync(headers)) {
  console.error(
    `featshift: Node's headers are missing (${headers}); install the Node.js development headers.`,
  );
  process.exit(1);
}

// npm hands its bundled node-gyp to install scripts; fall back to one on PATH.
const gypScript = process.env.npm_config_node_gyp;
const [command, args] = gypScript ? [process.execPath, [gypScript]] : ['node-gyp', []];
const jobs = String(Math.max(1, require('node:os').availableParallelism?.() ?? 2));
const result = spawnSync(command, [...args, 'rebuild', `--nodedir=${prefix}`, '-j', jobs], {
  stdio: 'inherit',
  cwd: path.join(__dirname, '..'),
});
process.exit(result.status ?? 1);
