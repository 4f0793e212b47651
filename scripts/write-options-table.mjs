// Rewrites the study options table of docs/study.md from src/run/study-options.ts (built in
// dist/); run from the repository root (npm run docs:options).
import { readFileSync, writeFileSync } from 'node:fs';
import { replaceOptionsTable } from '../dist/src/cli/study-flags.js';

const path = 'docs/study.md';
writeFileSync(path, replaceOptionsTable(readFileSync(path, 'utf8')));
