import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestContext } from 'node:test';

/**
 * Runs `fn` on a fresh tmpfs mounted with `options` (such as 'size=96k' or 'size=1m,ro'), and
 * unmounts it after. Mounting needs root (CI has it); elsewhere the test is skipped.
 */
export function withTmpfs(t: TestContext, options: string, fn: (mountPoint: string) => void): void {
  const mountPoint = mkdtempSync(join(tmpdir(), 'featshift-tmpfs-'));
  const mounted =
    process.getuid?.() === 0 &&
    spawnSync('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', mountPoint]).status === 0;
  if (!mounted) {
    t.skip('mounting a tmpfs needs root');
    return;
  }
  try {
    fn(mountPoint);
  } finally {
    spawnSync('umount', [mountPoint]);
    rmSync(mountPoint, { recursive: true, force: true });
  }
}
