import {
  closeSync,
  fstatSync,
  ftruncateSync,
  openSync,
  readFileSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** native/file-lock.cc, typed. */
interface LockModule {
  lockExclusive(fd: number): boolean;
}

const ADDON = fileURLToPath(new URL('../../../build/Release/featshift_lock.node', import.meta.url));

let addon: LockModule | undefined;
const lockModule = (): LockModule => {
  addon ??= createRequire(import.meta.url)(ADDON) as LockModule;
  return addon;
};

/** A lock this process holds; `release` removes the file and lets go. */
export interface HeldLock {
  release(): void;
}

/**
 * Takes an exclusive lock on `path` for this process, writing `owner` (one line, ending in a
 * newline) into the file; returns
 * undefined with what the file says of its holder when another process holds it.
 *
 * The lock is the kernel's (flock), not the file's existence: a holder that dies, even by
 * SIGKILL, lets go at once, so a lock left behind by a killed process is simply taken, by exactly
 * one of those that try, with no judgement of whether its pid is alive. The file is removed on
 * release; a taker that locked a file just removed (another path now, or none) tries again.
 */
export function tryLockFile(path: string, owner: string): { held: HeldLock } | { heldBy: string } {
  for (;;) {
    const fd = openSync(path, 'a+');
    let kept = false;
    try {
      if (!lockModule().lockExclusive(fd)) return { heldBy: readOwner(path) };
      // Removed by its last holder after this process opened it: lock the file there now.
      if (inode(path) !== fstatSync(fd).ino) continue;
      ftruncateSync(fd, 0);
      writeSync(fd, owner);
      kept = true; // closing the descriptor would let go
      return {
        held: {
          release: () => {
            // Removed while still held, so that no one locks a file about to vanish unnoticed.
            try {
              unlinkSync(path);
            } catch (error) {
              if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
            } finally {
              closeSync(fd);
            }
          },
        },
      };
    } finally {
      if (!kept) closeSync(fd);
    }
  }
}

function inode(path: string): number | undefined {
  try {
    return statSync(path).ino;
  } catch {
    return undefined;
  }
}

/**
 * What the holder wrote of itself. A holder writes its line just after it locks, so a taker
 * refused in between finds the file empty, or a dead holder's leftovers without its newline
 * (older featshifts wrote none): it waits, briefly, for a whole line.
 */
function readOwner(path: string): string {
  let text = readOrEmpty(path);
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (let waited = 0; waited < OWNER_WAIT_MS && !text.endsWith('\n');) {
    Atomics.wait(pause, 0, 0, 5);
    waited += 5;
    text = readOrEmpty(path);
  }
  return text;
}

/** How long a refused taker waits for the holder's line (a write of a few bytes after a lock). */
const OWNER_WAIT_MS = 500;

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}
