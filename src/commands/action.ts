import { ERROR_CODES, type ErrorCode } from '../contracts/error-codes.js';
import { UsageError, UserError } from '../util/errors.js';
import { runCleanups } from '../util/cleanup.js';

/**
 * A command that stops gracefully on a signal (flash finishes its chunk, console writes its report) takes
 * it here: the handler returns true when it took the signal, false to leave it to the default below.
 */
export type InterruptHandler = (signal: NodeJS.Signals) => boolean;

const interruptHandlers: InterruptHandler[] = [];

/** While the returned release function has not been called, SIGINT and SIGTERM go to `handler` first. */
export function handleInterrupts(handler: InterruptHandler): () => void {
  interruptHandlers.push(handler);
  return () => {
    const i = interruptHandlers.indexOf(handler);
    if (i >= 0) interruptHandlers.splice(i, 1);
  };
}

/**
 * The one place that listens for SIGINT/SIGTERM. Unless a command takes the signal, the cleanups that
 * lower layers registered run (temporary files, staged output folders), then the same signal ends the
 * process as its default action would: the caller sees a death by that signal (a shell reports 130 for
 * Ctrl-C). The listeners are taken off before the re-raise, so the default action follows.
 */
function onSignal(signal: NodeJS.Signals): void {
  for (const handler of [...interruptHandlers].reverse()) if (handler(signal)) return;
  runCleanups();
  removeSignalListeners();
  process.kill(process.pid, signal);
}

function removeSignalListeners(): void {
  process.removeListener('SIGINT', onSignal);
  process.removeListener('SIGTERM', onSignal);
}

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
 * anything else (a bug) the stack trace and exit code 70. Signals are handled as above while it runs.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
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
    } finally {
      removeSignalListeners();
    }
  };
}
