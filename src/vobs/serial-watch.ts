import { open } from 'node:fs/promises';

/**
 * Follows the serial log QEMU writes (every byte the board sends, whoever holds the pty) and resolves when
 * a pattern appears. The runner uses it to play the operator: pull the stick when the install is over.
 */
export async function waitForLog(
  file: string,
  pattern: RegExp,
  opts: { timeoutMs: number; from?: number; signal?: AbortSignal; pollMs?: number },
): Promise<{ match: RegExpExecArray; offset: number }> {
  const deadline = Date.now() + opts.timeoutMs;
  let offset = opts.from ?? 0;
  let tail = '';
  for (;;) {
    if (opts.signal?.aborted) throw new Error('aborted');
    let fh;
    try {
      fh = await open(file, 'r');
    } catch {
      fh = undefined;
    }
    if (fh) {
      try {
        const buf = Buffer.alloc(64 * 1024);
        for (;;) {
          const { bytesRead } = await fh.read(buf, 0, buf.length, offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          // Keep a window so a pattern split across reads still matches.
          tail = (tail + buf.subarray(0, bytesRead).toString('latin1')).slice(-8192);
          const m = pattern.exec(tail);
          if (m) return { match: m, offset };
        }
      } finally {
        await fh.close();
      }
    }
    if (Date.now() > deadline) throw new Error(`no ${pattern} on the serial line within ${Math.round(opts.timeoutMs / 1000)} s`);
    await new Promise((r) => setTimeout(r, opts.pollMs ?? 250));
  }
}

/** Size of the log now: follow only what comes after. */
export async function logSize(file: string): Promise<number> {
  try {
    const fh = await open(file, 'r');
    try {
      return (await fh.stat()).size;
    } finally {
      await fh.close();
    }
  } catch {
    return 0;
  }
}
