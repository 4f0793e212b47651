#!/usr/bin/env node
import { availableParallelism } from 'node:os';

// Image folders' files are read on libuv's threads (and decoded there by sharp where the addon
// has no libjpeg): as many as the cores, set before libuv starts them, which is why the program
// is imported only after this line.
process.env.UV_THREADPOOL_SIZE ??= String(Math.max(4, availableParallelism()));
const { main } = await import('./program.js');

process.exitCode = await main(process.argv.slice(2));
