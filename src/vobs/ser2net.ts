/**
 * Debian's ser2net as the virtual board's console server: it serves the board's serial pty on 127.0.0.1, as
 * RFC 2217 (telnet, line settings negotiated) or raw TCP, so `obsbuild vm --console-server` rehearses a lab's
 * console server with the real program, and the tests run the console through it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { freePort } from './free-port.js';
import { holdsOpen } from './holds-open.js';

export type ConsoleServerKind = 'rfc2217' | 'tcp';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

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
    readonly kind: ConsoleServerKind,
    readonly port: number,
  ) {
    this.config = join(dir, `ser2net-${kind}.yaml`);
  }

  /** What `--port` takes to reach the device through this server. */
  get url(): string {
    return `${this.kind}://127.0.0.1:${this.port}`;
  }

  get pid(): number | undefined {
    return this.proc?.pid;
  }

  async start(): Promise<void> {
    const accepter = this.kind === 'rfc2217' ? `telnet(rfc2217),tcp,127.0.0.1,${this.port}` : `tcp,127.0.0.1,${this.port}`;
    await writeFile(
      this.config,
      ['%YAML 1.1', '---', 'connection: &console', `  accepter: ${accepter}`, `  connector: serialdev,${this.device},115200n81,local`, '  options:', '    kickolduser: true', ''].join('\n'),
    );
    // -n: stay in the foreground; -d: log to stderr; -P: its pid file beside the config, not in /run
    const proc = spawn('ser2net', ['-n', '-d', '-c', this.config, '-P', `${this.config}.pid`], { stdio: 'ignore' });
    this.proc = proc;
    let failed: Error | undefined;
    proc.once('error', (err) => (failed = err));
    const deadline = Date.now() + 5000;
    while (!(await listening(this.port))) {
      if (failed) throw new UserError(`ser2net: cannot start it (${failed.message}); apt-get install ser2net`, { code: 'tool-failed', cause: failed });
      if (proc.exitCode !== null) throw new UserError(`ser2net exited at start (status ${proc.exitCode}) with ${this.config}`, { code: 'tool-failed' });
      if (Date.now() > deadline) throw new UserError(`ser2net did not listen on 127.0.0.1:${this.port} within 5 s`, { code: 'tool-failed' });
      await sleep(50);
    }
  }

  /**
   * Resolves once ser2net holds the device open (it opens it when a client connects): bytes the board sends
   * before that are lost, as on a real console server.
   */
  async deviceOpen(timeoutMs = 10_000): Promise<boolean> {
    const pid = this.proc?.pid;
    return pid !== undefined && holdsOpen(pid, await realpath(this.device), timeoutMs);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    await exited;
  }
}

/** ser2net serving `device` on a free 127.0.0.1 port, started. */
export async function serveOverSer2net(device: string, kind: ConsoleServerKind, dir: string): Promise<Ser2net> {
  const server = new Ser2net(dir, device, kind, await freePort());
  await server.start();
  return server;
}
