/**
 * The real ser2net (Debian's package) as a console server for tests: serving one pty on 127.0.0.1, either
 * as RFC 2217 (telnet) or raw TCP. Not a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, readdir, readlink, realpath, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { ensureTool, sleep, waitFor } from './simulator.js';

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/**
 * Whether something listens on 127.0.0.1:port, read from /proc/net/tcp: probing with a connection would be
 * a client of its own, and ser2net (kickolduser) would drop the console's connection for it.
 */
async function listening(port: number): Promise<boolean> {
  const table = await readFile('/proc/net/tcp', 'utf8');
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  return table.split('\n').some((line) => {
    const f = line.trim().split(/\s+/);
    return f[1] === local && f[3] === '0A';
  });
}

export class Ser2net {
  private proc: ChildProcess | null = null;
  readonly config: string;
  constructor(
    dir: string,
    readonly device: string,
    readonly kind: 'rfc2217' | 'tcp',
    readonly port: number,
  ) {
    this.config = join(dir, `ser2net-${kind}.yaml`);
  }

  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    ensureTool('ser2net', 'ser2net');
    const accepter = this.kind === 'rfc2217' ? `telnet(rfc2217),tcp,127.0.0.1,${this.port}` : `tcp,127.0.0.1,${this.port}`;
    await writeFile(
      this.config,
      ['%YAML 1.1', '---', 'connection: &console', `  accepter: ${accepter}`, `  connector: serialdev,${this.device},115200n81,local`, '  options:', '    kickolduser: true', ''].join('\n'),
    );
    // -n: stay in the foreground; -d: log to stderr; -P: no pid file in /run; -c: only our config
    this.proc = spawn('ser2net', ['-n', '-d', '-c', this.config, '-P', join(this.config + '.pid')], { stdio: 'ignore' });
    let exited = false;
    this.proc.once('exit', () => (exited = true));
    const deadline = Date.now() + 5000;
    while (!(await listening(this.port))) {
      if (exited) throw new Error('ser2net exited at start');
      if (Date.now() > deadline) throw new Error(`ser2net did not listen on 127.0.0.1:${this.port}`);
      await sleep(50);
    }
  }

  /**
   * Resolves once ser2net holds the device open (it opens it when a client connects): bytes the board sends
   * before that are lost, as on a real console server, so a scenario waits for this instead of sleeping.
   */
  async deviceOpen(timeoutMs = 10_000): Promise<void> {
    const pid = this.proc?.pid;
    if (pid === undefined) throw new Error('ser2net is not running');
    const target = await realpath(this.device);
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
      for (const fd of fds) {
        if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === target) return;
      }
      if (Date.now() > deadline) throw new Error(`ser2net did not open ${this.device} within ${timeoutMs} ms`);
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    await exited;
    await waitFor(() => true, 10);
  }
}
