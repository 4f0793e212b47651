/**
 * A mistake in what the user asked for (an option value, an argument, an input file): the CLI
 * prints its message on one line and exits with code 2, without a stack trace.
 */
export class UsageError extends Error {
  /** The option or argument at fault, without dashes (such as `depth`), when there is one. */
  readonly option: string | undefined;

  constructor(message: string, option?: string) {
    super(message);
    this.name = 'UsageError';
    this.option = option;
  }
}
