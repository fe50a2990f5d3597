import type { Ora } from 'ora';

/**
 * Whether `stream` can show a spinner: a terminal that has a width. On a pseudo-terminal of 0 columns
 * (util-linux `script` run from a pipe) ora clears "lines" without end at full CPU, and `obsbuild vm --check`
 * never read the board's console.
 */
export function canSpin(stream: NodeJS.WriteStream): boolean {
  return stream.isTTY === true && (stream.columns ?? 0) > 0;
}

/** An ora spinner on `stream`, or undefined where it cannot spin. ora is loaded only when used. */
export async function startSpinner(text: string, stream: NodeJS.WriteStream = process.stderr): Promise<Ora | undefined> {
  if (!canSpin(stream)) return undefined;
  const { default: ora } = await import('ora');
  return ora({ text, stream }).start();
}
