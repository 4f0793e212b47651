/** A dataset file that is missing, damaged or not what it claims to be: one line, naming the file. */
export class DataError extends Error {
  readonly file: string | undefined;

  constructor(message: string, file?: string) {
    super(file ? `${file}: ${message}` : message);
    this.name = 'DataError';
    this.file = file;
  }
}
