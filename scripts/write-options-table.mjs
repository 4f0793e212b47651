// Rewrites the study options table of docs/study.md from src/run/study-options.ts (built in dist/).
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceOptionsTable } from '../dist/src/cli/study-flags.js';

const path = new URL('../docs/study.md', import.meta.url);
writeFileSync(path, replaceOptionsTable(readFileSync(path, 'utf8')));
