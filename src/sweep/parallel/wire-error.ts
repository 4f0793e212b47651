import { errorFields, errorFrom, type ErrorFields } from '../../data/errors.js';
import { EngineError, OutOfMemoryError } from '../../engine/errors.js';
import { UsageError } from '../../errors.js';
import { ArchitectureError, CheckpointError, type ArchitectureField } from '../../models/errors.js';

/**
 * An error as it crosses from a training process to the sweep: its class by name and the fields
 * that class carries (a loader thread's errors cross as their ErrorFields part), so that the
 * receiver rethrows the same class (a DataError still exits 2 and names its file, a damaged
 * checkpoint is still one, an OutOfMemoryError is still told from another libtorch failure).
 * Classes the sweep does not tell apart come back as a plain Error under their own name.
 */
export interface WireError extends ErrorFields {
  /** UsageError: the option at fault. */
  option?: string;
  /** ArchitectureError: the part of the description at fault. */
  field?: ArchitectureField;
  /** CheckpointError: the checkpoint. */
  path?: string;
}

export function toWire(error: unknown): WireError {
  const wire: WireError = errorFields(error);
  if (error instanceof UsageError && error.option !== undefined) wire.option = error.option;
  if (error instanceof ArchitectureError) wire.field = error.field;
  if (error instanceof CheckpointError) wire.path = error.path;
  return wire;
}

export function fromWire(wire: WireError): Error {
  let error: Error;
  switch (wire.name) {
    case 'UsageError':
      error = new UsageError(wire.message, wire.option);
      break;
    case 'ArchitectureError':
      error = new ArchitectureError(wire.message, wire.field ?? 'widths');
      break;
    case 'CheckpointError':
      error = new CheckpointError(wire.message, wire.path ?? '');
      break;
    case 'OutOfMemoryError':
      error = new OutOfMemoryError(wire.message);
      break;
    case 'EngineError':
      error = new EngineError(wire.message);
      break;
    default:
      // A DataError, or a class the sweep does not tell apart (its stack included).
      return errorFrom(wire);
  }
  if (wire.stack !== undefined) error.stack = wire.stack;
  return error;
}

/**
 * On a queue an error crosses as a job's failedReason, a string: the wire form after a marker,
 * so that the coordinator and `featshift status` rebuild its class and fields.
 */
const QUEUE_MARK = 'featshift-error:';

/** The Error a queue job fails with, carrying `error` (without its stack) in its message. */
export function toQueueError(error: unknown): Error {
  const wire = toWire(error);
  delete wire.stack;
  const carried = new Error(`${QUEUE_MARK}${JSON.stringify(wire)}`);
  if (error instanceof Error && error.stack !== undefined) carried.stack = error.stack;
  return carried;
}

/** The error a job failed with, rebuilt (an error thrown elsewhere: a plain Error of the text). */
export function fromQueueReason(reason: string): Error {
  if (!reason.startsWith(QUEUE_MARK)) return new Error(reason);
  try {
    return fromWire(JSON.parse(reason.slice(QUEUE_MARK.length)) as WireError);
  } catch {
    return new Error(reason);
  }
}

/** A job's failedReason as people read it: 'DataError: cannot read ...'. */
export function queueReasonText(reason: string): string {
  const error = fromQueueReason(reason);
  return error.name === 'Error' ? error.message : `${error.name}: ${error.message}`;
}
