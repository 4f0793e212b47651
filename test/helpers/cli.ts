import { spawn, spawnSync } from 'node:child_process';
import { commandPath } from './paths.js';

export interface CliResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `featshift` command as a user would, in a separate process. */
export function runCli(
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv } = {},
): CliResult {
  const result = spawnSync(commandPath, args, {
    encoding: 'utf8',
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    maxBuffer: 64 * 1024 * 1024,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/**
 * Starts the CLI and resolves, with the child process, when `until` sees its output (or when it
 * exits first). `exited` gives its exit code, -9 when it was SIGKILLed.
 */
export function startCli(
  args: string[],
  until: (stdout: string) => boolean,
): Promise<{ child: ReturnType<typeof spawn>; exited: Promise<number | null> }> {
  const child = spawn(commandPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((resolve) => {
    child.on('exit', (code, signal) => {
      resolve(signal === 'SIGKILL' ? -9 : code);
    });
  });
  return new Promise((resolve) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (until(out)) resolve({ child, exited });
    });
    void exited.then(() => {
      resolve({ child, exited });
    });
  });
}
