/**
 * Ask `probe` every `everyMs` until `done` holds of its answer. Resolves with the last answer and the
 * seconds until it satisfied `done` (counted when the answer arrived), or seconds null past `limitS`.
 */
export async function pollUntil<T>(
  probe: () => Promise<T>,
  done: (answer: T) => boolean,
  opts: { limitS: number; everyMs: number },
): Promise<{ answer: T; seconds: number | null }> {
  const t0 = performance.now();
  for (;;) {
    const answer = await probe();
    const seconds = (performance.now() - t0) / 1000;
    if (done(answer)) return { answer, seconds };
    if (seconds > opts.limitS) return { answer, seconds: null };
    await new Promise((r) => setTimeout(r, opts.everyMs));
  }
}
