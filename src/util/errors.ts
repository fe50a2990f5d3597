/**
 * Errors a user can fix (bad input, failed check): printed as one line, exit code 1.
 * Usage errors (wrong flags): exit code 2.
 */
export class UserError extends Error {
  readonly exitCode = 1;
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}

export class UsageError extends Error {
  readonly exitCode = 2;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** `file:line: message`, the one format every finding and input error uses. */
export function located(file: string, line: number | undefined, message: string): string {
  return line ? `${file}:${line}: ${message}` : `${file}: ${message}`;
}
