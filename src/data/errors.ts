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

/** An error as plain fields, to cross from a loader thread (or a process) and be rebuilt there. */
export interface ErrorFields {
  name: string;
  message: string;
  stack?: string;
  /** DataError: the file, and whether the machine could not reach it. */
  file?: string;
  unreachable?: boolean;
}

/** The fields of any error, with a DataError's own. */
export function errorFields(error: unknown): ErrorFields {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const fields: ErrorFields = {
    name: error.name,
    message: error.message,
    ...(error.stack !== undefined ? { stack: error.stack } : {}),
  };
  if (error instanceof DataError) {
    if (error.file !== undefined) fields.file = error.file;
    fields.unreachable = error.unreachable;
  }
  return fields;
}

/** A DataError rebuilt from its fields (the message already names the file). */
function dataErrorFrom(fields: ErrorFields): DataError {
  const error = new DataError(fields.message, undefined, {
    unreachable: fields.unreachable ?? false,
  });
  (error as { file: string | undefined }).file = fields.file;
  return error;
}

/** An error rebuilt from its fields: a DataError as one, anything else as an Error of its name. */
export function errorFrom(fields: ErrorFields): Error {
  let error: Error;
  if (fields.name === 'DataError') error = dataErrorFrom(fields);
  else {
    error = new Error(fields.message);
    error.name = fields.name;
  }
  if (fields.stack !== undefined) error.stack = fields.stack;
  return error;
}
