/**
 * Text from outside (a file name, a lock's host, a value from a file) as it may reach a terminal:
 * control characters, newlines and escape sequences among them, are shown as escapes, so that a
 * name cannot break a one-line message or drive the terminal.
 */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) =>
    c === '\n' ? '\\n' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}
