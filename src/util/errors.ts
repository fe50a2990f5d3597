import { ERROR_CODES, type ErrorCode } from '../contracts/error-codes.js';

export type { ErrorCode } from '../contracts/error-codes.js';

export interface ErrorDetails {
  /** What kind of problem; decides the exit code. */
  code?: ErrorCode;
  /** The lower-level error this one explains (kept for debugging, never printed as a stack). */
  cause?: unknown;
}

/**
 * Errors a user can fix (bad input, failed check): printed as one line, exit code 1 (or the code's own).
 * Usage errors (wrong flags): exit code 2.
 */
export class UserError extends Error {
  readonly code: ErrorCode;
  constructor(message: string, details: ErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
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
