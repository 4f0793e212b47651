import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The repository root, from the compiled test's place under dist/test/. */
export const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));

export const cliPath = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));

/** The featshift command as npm installs it: Node on cliPath, with tcmalloc preloaded. */
export const commandPath = `${repoRoot}bin/featshift`;

export function readFixture<T>(name: string): T {
  return JSON.parse(readFileSync(`${repoRoot}test/fixtures/${name}`, 'utf8')) as T;
}
