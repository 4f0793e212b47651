/**
 * A dataset file that is missing, damaged or not what it claims to be: one line, naming the file.
 * Bad input (a damaged file, a folder that is not a dataset) is the user's to fix and exits with
 * code 2 as every bad input does; `unreachable` marks what the machine could not do (a download
 * that failed), which exits with 1.
 */
export class DataError extends Error {
  readonly file: string | undefined;
  readonly unreachable: boolean;

  constructor(message: string, file?: string, options: { unreachable?: boolean } = {}) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'DataError';
    this.file = file;
    this.unreachable = options.unreachable ?? false;
  }
}
