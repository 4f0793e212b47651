/**
 * Errors of the compute engine. The native addon throws instances of these classes (they are
 * registered with it when it loads), so callers tell an out-of-memory condition from another
 * libtorch failure by class, never by message text.
 */

/** libtorch refused or failed an operation (a shape mismatch, an unknown device, ...). */
export class EngineError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineError';
  }
}

/** An allocation failed: the device (GPU memory) or the host (RAM) is full. */
export class OutOfMemoryError extends EngineError {
  constructor(message: string) {
    super(message);
    this.name = 'OutOfMemoryError';
  }
}
