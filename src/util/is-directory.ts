import { statSync } from 'node:fs';

/** Whether `path` names a folder (following links); false when it does not exist. */
export function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
