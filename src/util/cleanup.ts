/**
 * What to undo when the process is stopped by a signal (Ctrl-C, SIGTERM): temporary files being written,
 * staged output folders. A signal's default action ends the process without running any `finally`, so the
 * module that creates such a thing registers its removal here while it exists. Only the command layer
 * listens for the signals (src/commands/action.ts); it runs these cleanups and then lets the signal end
 * the process. Cleanups are synchronous: a handler that is about to end the process cannot wait for promises.
 */
export type Cleanup = () => void;

/** Entries rather than the functions themselves, so one function may be registered twice and removed once. */
const registered = new Set<{ run: Cleanup }>();

/** Run `fn` if the process is interrupted; call the returned function once it is no longer needed. */
export function registerCleanup(fn: Cleanup): () => void {
  const entry = { run: fn };
  registered.add(entry);
  return () => {
    registered.delete(entry);
  };
}

/**
 * Run every registered cleanup once, the most recent first (what was made last may live inside what was
 * made first), and forget them. One failing cleanup does not stop the others; their errors are returned.
 */
export function runCleanups(): unknown[] {
  const entries = [...registered].reverse();
  registered.clear();
  const errors: unknown[] = [];
  for (const entry of entries) {
    try {
      entry.run();
    } catch (err) {
      errors.push(err);
    }
  }
  return errors;
}

/** How many cleanups are registered right now. */
export function pendingCleanups(): number {
  return registered.size;
}
