/**
 * The real ser2net (Debian's package) as a console server for tests: serving one pty on 127.0.0.1, either
 * as RFC 2217 (telnet) or raw TCP. Not a test file.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer, connect } from 'node:net';
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

async function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
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
