import { UsageError, UserError } from '../util/errors.js';

/**
 * Wraps a command's action so every command reports failures the same way:
 * a user-fixable problem is one line on stderr and exit code 1, a usage error exit code 2,
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
        process.exitCode = err.exitCode;
      } else {
        process.stderr.write(`obsbuild: internal error: ${(err as Error)?.stack ?? String(err)}\n`);
        process.exitCode = 70;
      }
    }
  };
}
