/**
 * A box at the far end of a serial line, for the serial BoxShell tests: socat gives obsbuild one end of a pty
 * and runs a REAL shell on the other end, on its own pty in canonical mode with echo on, as getty leaves the
 * box's ttyS0 (so the 4095-byte line limit and the echo are the kernel's own). PATH starts with stand-ins
 * for the commands that would touch the host (dmesg -n), and TMPDIR points into the test's directory.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureTool, waitFor } from '../console/simulator.js';

export interface PtyBoxOptions {
  /** The shell behind the line (default /bin/sh, which is dash on Debian). */
  shell?: string;
  /** A getty-like login first: `box login:`, `Password:`, then the shell. */
  login?: { user: string; password: string };
  /** Directories made read-only (a read-only bind mount in a private mount namespace of the shell). */
  readOnly?: string[];
}

export class PtyBox {
  private proc: ChildProcess | null = null;
  readonly tty: string;
  readonly tmp: string;
  constructor(
    readonly dir: string,
    private readonly opts: PtyBoxOptions = {},
  ) {
    this.tty = join(dir, 'ttyS0');
    this.tmp = join(dir, 'box-tmp');
  }

  async start(): Promise<void> {
    ensureTool('socat', 'socat');
    const bin = join(this.dir, 'box-bin');
    await mkdir(bin, { recursive: true });
    await mkdir(this.tmp, { recursive: true });
    await writeFile(join(bin, 'dmesg'), '#!/bin/sh\nexit 0\n');
    await chmod(join(bin, 'dmesg'), 0o755);
    const shell = this.opts.shell ?? '/bin/sh';
    const lines = ['#!/bin/sh'];
    for (const d of this.opts.readOnly ?? []) lines.push(`mount --bind '${d}' '${d}' && mount -o remount,bind,ro '${d}' || exit 1`);
    if (this.opts.login) {
      const { user, password } = this.opts.login;
      lines.push(
        'while :; do',
        '  printf "\\nbox login: "; read u',
        '  stty -echo; printf "Password: "; read p; stty echo; echo',
        `  if [ "$u" = '${user}' ] && [ "$p" = '${password}' ]; then break; fi`,
        '  sleep 1; echo "Login incorrect"',
        'done',
      );
    }
    lines.push(`exec ${shell} -i`);
    const boot = join(this.dir, 'boot.sh');
    await writeFile(boot, `${lines.join('\n')}\n`);
    const exec = this.opts.readOnly?.length ? `unshare -m --propagation private /bin/sh ${boot}` : `/bin/sh ${boot}`;
    this.proc = spawn('socat', [`PTY,link=${this.tty},raw,echo=0`, `EXEC:${exec},pty,stderr,setsid,ctty`], {
      env: { PATH: `${bin}:/usr/sbin:/usr/bin:/sbin:/bin`, HOME: this.dir, TMPDIR: this.tmp, TERM: 'vt100' },
      stdio: 'ignore',
    });
    await waitFor(() => existsSync(this.tty), 5000, 'socat pty');
  }

  /** Whether the shell behind the line is still there (socat exits with it). */
  get running(): boolean {
    return this.proc !== null && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  async waitExit(ms: number): Promise<void> {
    await waitFor(() => !this.running, ms, 'the box shell to exit');
  }

  async stop(): Promise<void> {
    const p = this.proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    await exited;
  }
}
