/**
 * Errors of the model layer, in its own terms; the command line maps them to flags and exit
 * codes (src/cli/program.ts).
 */

/** What a VGG's description states wrongly: which part, as the model names it. */
export type ArchitectureField = 'widths' | 'classes' | 'patchSize' | 'colors';

/** A width list, class count, patch size or channel count no VGG can have. */
export class ArchitectureError extends Error {
  readonly field: ArchitectureField;

  constructor(message: string, field: ArchitectureField) {
    super(message);
    this.name = 'ArchitectureError';
    this.field = field;
  }
}

/** A checkpoint file that is damaged, edited, or not one featshift can resume from. */
export class CheckpointError extends Error {
  readonly path: string;

  constructor(message: string, path: string) {
    super(message);
    this.name = 'CheckpointError';
    this.path = path;
  }
}
