import { spawnSync } from 'node:child_process';

/** Whether this machine has tcmalloc (setup-debian.sh installs libtcmalloc-minimal4). */
export const tcmallocHere = /libtcmalloc(_minimal)?\.so\.4\b/.test(
  spawnSync('/sbin/ldconfig', ['-p'], { encoding: 'utf8' }).stdout,
);
