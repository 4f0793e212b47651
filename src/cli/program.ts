import { Command, CommanderError } from 'commander';
import { DataError } from '../data/errors.js';
import { EngineError } from '../engine/errors.js';
import { UsageError } from '../errors.js';
import { packageVersion } from '../run/folder.js';
import { printable } from '../util/printable.js';
import { analyzeCommand } from './analyze-command.js';
import { planCommand } from './plan-command.js';
import { dataCommand } from './data-command.js';
import { doctorCommand } from './doctor-command.js';
import { familyCommand } from './family-command.js';
import { sweepCommand } from './sweep-command.js';
import { reportCommand, viewCommand } from './report-command.js';
import { ArchitectureError, CheckpointError, type ArchitectureField } from '../models/errors.js';
import { statusCommand, workerCommand } from './queue-commands.js';

const USAGE_EXIT = 2;

export function buildProgram(): Command {
  const program = new Command('featshift')
    .description(
      "Shift a CNN's features over its layers with a skew normal, train every variant, compare.\n" +
        'Mundt et al., "Rethinking Layer-wise Feature Amounts in CNN Architectures" (NeurIPS 2018 CRACT).',
    )
    .version(packageVersion())
    .showSuggestionAfterError(true)
    .configureOutput({
      // One line per error: commander puts its suggestion on a line of its own.
      outputError: (text, write) => {
        write(`${text.trim().replace(/\s*\n\s*/g, ' ')} (see --help)\n`);
      },
    });
  program.addCommand(familyCommand());
  program.addCommand(sweepCommand());
  program.addCommand(analyzeCommand());
  program.addCommand(planCommand());
  program.addCommand(reportCommand());
  program.addCommand(viewCommand());
  program.addCommand(workerCommand());
  program.addCommand(statusCommand());
  program.addCommand(doctorCommand());
  program.addCommand(dataCommand());
  // Every subcommand exits through the handler below instead of calling process.exit itself.
  const configure = (c: Command): void => {
    c.exitOverride();
    if (c !== program) c.configureOutput(program.configureOutput());
    c.showSuggestionAfterError(true);
    c.commands.forEach(configure);
  };
  configure(program);
  return program;
}

/** The flag that sets each part of a VGG's description (the width list and colours have none). */
const ARCHITECTURE_FLAGS: Record<ArchitectureField, string | undefined> = {
  widths: undefined,
  classes: 'classes',
  patchSize: 'patch-size',
  colors: undefined,
};

export async function main(argv: string[]): Promise<number> {
  // A closed pipe (`featshift family | head`) ends the output quietly.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0);
    throw error;
  });
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    // A command may report failure through process.exitCode (doctor does).
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its one-line message (or the help / version).
      return error.exitCode === 0 ? 0 : USAGE_EXIT;
    }
    // Messages carry names from outside (files, a lock's host): one line, no terminal escapes.
    if (error instanceof UsageError) {
      const where = error.option ? ` (--${error.option})` : '';
      process.stderr.write(`featshift: error${where}: ${printable(error.message)}\n`);
      return USAGE_EXIT;
    }
    // The model's own errors, in its terms: named here by the flag that sets what they name.
    if (error instanceof ArchitectureError) {
      const flag = ARCHITECTURE_FLAGS[error.field];
      process.stderr.write(
        `featshift: error${flag ? ` (--${flag})` : ''}: ${printable(error.message)}\n`,
      );
      return USAGE_EXIT;
    }
    if (error instanceof CheckpointError) {
      process.stderr.write(`featshift: error (--resume): ${printable(error.message)}\n`);
      return USAGE_EXIT;
    }
    if (error instanceof DataError) {
      process.stderr.write(`featshift: ${printable(error.message)}\n`);
      return error.unreachable ? 1 : USAGE_EXIT;
    }
    if (error instanceof EngineError) {
      process.stderr.write(
        `featshift: libtorch: ${printable(error.message.split('\n')[0] ?? '')}\n`,
      );
      return 1;
    }
    // Anything else is featshift's own failure (or the system's): one line, exit code 1, never 2.
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`featshift: ${printable(message.split('\n')[0] ?? '')}\n`);
    if (process.env.FEATSHIFT_DEBUG && error instanceof Error)
      process.stderr.write(`${error.stack ?? ''}\n`);
    return 1;
  }
}
