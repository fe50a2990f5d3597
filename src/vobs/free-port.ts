import { createServer } from 'node:net';

/**
 * A TCP port free on 127.0.0.1 right now (bind port 0, read it, close). Another process may take it before
 * QEMU binds it; the caller retries with a new one when that happens.
 */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
