import { ERROR_CODES, type ErrorCode } from '../contracts/error-codes.js';
import { UsageError, UserError } from '../util/errors.js';

/** Exit status for a bug: anything thrown that is not a UserError. */
const INTERNAL_ERROR_EXIT = 70;

/**
 * The exit status a problem's code stands for. Every command turns a code into an exit status here, whether
 * the problem was thrown (a UserError) or reported (the console's verdict), so the two cannot drift apart.
 */
export function exitCodeFor(code: ErrorCode): number {
  return ERROR_CODES[code];
}

/**
 * Wraps a command's action so every command reports failures the same way:
 * a user-fixable problem is one line on stderr and the exit status of its code (1, usage errors 2),
 * anything else (a bug) the stack trace and exit code 70.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      const code = await fn(...args);
      if (typeof code === 'number') process.exitCode = code;
    } catch (err) {
      if (err instanceof UserError || err instanceof UsageError) {
        process.stderr.write(`obsbuild: ${err.message}\n`);
        process.exitCode = exitCodeFor(err.code);
      } else {
        process.stderr.write(`obsbuild: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
        process.exitCode = INTERNAL_ERROR_EXIT;
      }
    }
  };
}
