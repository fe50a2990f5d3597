/**
 * A private OpenSSH server on 127.0.0.1 that offers what Debian lenny's OpenSSH 5.1 offers: an ssh-rsa host
 * key; kex diffie-hellman-group-exchange-sha256, group14-sha1, group1-sha1; ciphers aes128-ctr, aes128-cbc,
 * 3des-cbc; MACs hmac-sha1, hmac-md5 (src/remote/lenny-sshd-offer.ts, with the one difference a modern sshd
 * cannot configure away).
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { LENNY_SSHD_OFFER, lennySshdAlgorithmLines } from '../../src/remote/lenny-sshd-offer.js';

export const SSHD = '/usr/sbin/sshd';

/** The offer's one home is src/remote/lenny-sshd-offer.ts (the virtual board's guest sshd uses it too). */
export const LENNY_OFFER = LENNY_SSHD_OFFER;

/** Why a real sshd cannot run here, or null when it can. */
export function sshdUnavailable(): string | null {
  if (!existsSync(SSHD)) return `${SSHD} is missing (apt-get install --no-install-recommends openssh-server)`;
  if (process.getuid?.() !== 0) return 'sshd needs root to run a private server';
  try {
    execFileSync('ssh', ['-V'], { stdio: 'ignore' });
  } catch {
    return 'the OpenSSH client (ssh) is missing';
  }
  return null;
}

export function keygen(path: string, comment = 'obsbuild-test'): string {
  execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-C', comment, '-f', path]);
  return readFileSync(`${path}.pub`, 'utf8').trim();
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export class LennySshd {
  private child: ChildProcess | null = null;
  private log = '';
  readonly hostKeyPub: string;
  readonly userKey: string;

  private constructor(readonly dir: string, readonly port: number) {
    this.hostKeyPub = keygen(join(dir, 'host_rsa'), 'host');
    this.userKey = join(dir, 'user_rsa');
    writeFileSync(join(dir, 'authorized_keys'), `${keygen(this.userKey, 'user')}\n`, { mode: 0o600 });
    writeFileSync(
      join(dir, 'sshd_config'),
      [
        `Port ${port}`,
        'ListenAddress 127.0.0.1',
        `HostKey ${join(dir, 'host_rsa')}`,
        ...lennySshdAlgorithmLines(),
        `AuthorizedKeysFile ${join(dir, 'authorized_keys')}`,
        'PermitRootLogin yes',
        'PasswordAuthentication no',
        'KbdInteractiveAuthentication no',
        'UsePAM no',
        'StrictModes no',
        'PidFile none',
        'MaxSessions 20',
        'LogLevel INFO',
        '',
      ].join('\n'),
    );
  }

  /**
   * `quietShell`: hide this machine's ~/.bashrc from the sessions (bash sources it for every ssh command) by
   * binding an empty file over it in a private mount namespace, so a measurement times the transport.
   */
  static async start(opts: { quietShell?: boolean } = {}): Promise<LennySshd> {
    const dir = mkdtempSync(join(tmpdir(), 'obsbuild-sshd-'));
    const d = new LennySshd(dir, await freePort());
    await d.launch(opts.quietShell ?? false);
    return d;
  }

  private async launch(quietShell: boolean): Promise<void> {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // sshd's privilege-separation directory
    const sshd = [SSHD, '-D', '-e', '-f', join(this.dir, 'sshd_config')];
    const bashrc = join(homedir(), '.bashrc');
    const child =
      quietShell && existsSync(bashrc)
        ? spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null "$1" && shift && exec "$@"', 'sh', bashrc, ...sshd], { stdio: ['ignore', 'ignore', 'pipe'] })
        : spawn(sshd[0], sshd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`sshd did not start: ${this.log}`)), 15_000);
      child.stderr!.on('data', (b: Buffer) => {
        this.log += b.toString();
        if (this.log.includes('Server listening')) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.on('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`sshd exited ${code}: ${this.log}`));
      });
    });
  }

  /** Successful logins so far (one per TCP connection that authenticated). */
  acceptedLogins(): number {
    return (this.log.match(/Accepted publickey for /g) ?? []).length;
  }

  get logText(): string {
    return this.log;
  }

  async stop(): Promise<void> {
    const c = this.child;
    this.child = null;
    if (c && c.exitCode === null) {
      c.kill('SIGTERM');
      await new Promise((r) => c.once('exit', r));
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
