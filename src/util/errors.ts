import { ERROR_CODES, type ErrorCode } from '../contracts/error-codes.js';

export type { ErrorCode } from '../contracts/error-codes.js';

export interface ErrorDetails {
  /** What kind of problem; decides the exit code. */
  code?: ErrorCode;
  /** The lower-level error this one explains (kept for debugging, never printed as a stack). */
  cause?: unknown;
}

/**
 * Messages quote what they found, and what they found is untrusted (a field of a Packages file, a value in a
 * site file, bytes from a serial line): control characters are shown escaped, so a message stays one line
 * and cannot move the cursor or rewrite the terminal.
 */
export function oneLine(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : c === '\r' ? '\\r' : c === '\t' ? '\\t' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}

/**
 * Errors a user can fix (bad input, failed check): printed as one line, exit code 1 (or the code's own).
 * Usage errors (wrong flags): exit code 2.
 */
export class UserError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, details: ErrorDetails = {}) {
    super(oneLine(message), details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'UserError';
    this.code = details.code ?? 'user-error';
  }
  get exitCode(): number {
    return ERROR_CODES[this.code];
  }
}

export class UsageError extends UserError {
  constructor(message: string, details: { cause?: unknown } = {}) {
    super(message, { ...details, code: 'usage' });
    this.name = 'UsageError';
  }
}

/** `file:line: message`, the one format every finding and input error uses. */
export function located(file: string, line: number | undefined, message: string): string {
  return line ? `${file}:${line}: ${message}` : `${file}: ${message}`;
}
