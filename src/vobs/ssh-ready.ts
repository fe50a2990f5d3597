import { connect } from 'node:net';

/**
 * Whether the guest's sshd answers through the forward on 127.0.0.1:`port`. QEMU accepts the TCP
 * connection itself whether or not the guest listens, so only sshd's identification line ("SSH-2.0-...")
 * says it is there. Resolves with that line, or null.
 */
export function sshBanner(port: number, timeoutMs = 3000): Promise<string | null> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let text = '';
    const done = (line: string | null) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(line);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    socket.on('data', (b: Buffer) => {
      text += b.toString('latin1');
      const line = /^(SSH-[^\r\n]*)\r?\n/m.exec(text)?.[1];
      if (line) done(line);
      else if (text.length > 1024) done(null); // RFC 4253 allows other lines first; not this many
    });
    socket.on('error', () => done(null));
    socket.on('close', () => done(null));
  });
}

/** Poll until sshd answers on the forward; seconds waited, or null past `limitMs` or when aborted. */
export async function waitForSsh(port: number, opts: { limitMs: number; signal?: AbortSignal }): Promise<number | null> {
  const t0 = performance.now();
  while (performance.now() - t0 < opts.limitMs && !opts.signal?.aborted) {
    if ((await sshBanner(port)) !== null) return Math.round((performance.now() - t0) / 100) / 10;
    await new Promise((r) => setTimeout(r, 500));
  }
  return null;
}
