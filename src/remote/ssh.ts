/**
 * BoxShell over the system's OpenSSH client: one control master per job (one TCP connection, one
 * authentication), every command a multiplexed session through it.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, posix, resolve } from 'node:path';
import { UserError } from '../util/errors.js';
import type { BoxShell, FileOwner, RunOptions, RunResult } from './box-shell.js';
import { shQuote } from './sh-quote.js';
import { describeTarget, legacyAlgorithmsNotice, sshArgs, type SshConnectionConfig } from './ssh-options.js';

/** More output than any command a day-two job runs prints; past it the command is stopped. */
export const OUTPUT_CAP = 16 * 1024 * 1024;
/** A file put on the box is a configuration file or a script; far below this. */
export const PUT_FILE_CAP = 64 * 1024 * 1024;
const STDERR_CAP = 64 * 1024;
const DEFAULT_RUN_TIMEOUT_MS = 60_000;
// sun_path is 108 bytes; ssh binds a 17-character temporary name next to ControlPath first.
const MAX_CONTROL_PATH = 90;

export interface SshShellOptions extends SshConnectionConfig {
  /** Where one-line notices go (the legacy-algorithm notice, a newly recorded host key). */
  onNotice?: (line: string) => void;
  /** The ssh binary; tests and odd installs only. */
  sshPath?: string;
}

interface Exec {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** Stopped for printing more than the cap. */
  over: boolean;
}

/** A one-line error for ssh's own failure (exit 255 with something on its standard error). */
export function sshFailure(stderr: string, who: string, knownHostsFile: string): UserError {
  const text = stderr.replace(/\r/g, '');
  const first = text.split('\n').map((l) => l.trim()).find((l) => l !== '' && !/^@+$/.test(l) && !l.startsWith('@@@')) ?? 'no message';
  const say = (m: string) => new UserError(`${who}: ${m}`, { code: 'box-failed' });
  if (/REMOTE HOST IDENTIFICATION HAS CHANGED|Host key for .* has changed/.test(text)) {
    return say(`the box's host key differs from the one recorded in ${knownHostsFile}: if the box was reinstalled, record its new key (or remove the old line), otherwise the connection may be intercepted`);
  }
  if (/No \S+ host key is known for|Host key verification failed/.test(text)) {
    return say(`no host key recorded for it in ${knownHostsFile}: record the box's key from its console, or pass --accept-new-host-key to trust the key it offers now`);
  }
  if (/Permission denied/.test(text)) return say(`authentication refused (${/Permission denied \(([^)]*)\)/.exec(text)?.[1] ?? 'publickey'}): is your public key in the box's authorized_keys?`);
  if (/Connection refused/.test(text)) return say('connection refused: is sshd running and listening on that port?');
  if (/timed out/i.test(text)) return say('connection timed out');
  if (/Could not resolve hostname/.test(text)) return say('cannot resolve the host name');
  if (/No route to host|Network is unreachable/.test(text)) return say(first.replace(/^ssh: /, ''));
  if (/Unable to negotiate/.test(text)) return say(`no algorithm in common: ${first.replace(/^Unable to negotiate with \S+ port \d+: /, '')}`);
  if (/Connection (closed|reset) by/.test(text)) return say('the box closed the connection');
  return say(`ssh failed: ${first.slice(0, 300)}`);
}

/** A temporary directory only we can enter, short enough for a unix socket path inside it. */
function privateDir(): string {
  const base = join(tmpdir(), 'obsbuild-ssh-XXXXXX/m').length <= MAX_CONTROL_PATH ? tmpdir() : '/tmp';
  return mkdtempSync(join(base, 'obsbuild-ssh-')); // mkdtemp creates it 0700
}

export class SshShell implements BoxShell {
  private closed = false;
  private constructor(
    private readonly opts: SshShellOptions,
    private readonly dir: string,
    readonly controlPath: string,
    /** The master's process id, as it reported it. */
    readonly masterPid: number,
  ) {}

  private get who(): string {
    return describeTarget(this.opts.target);
  }

  /** Opens the job's one connection (the control master); every error is a one-line UserError. */
  static async open(opts: SshShellOptions): Promise<SshShell> {
    const cfg: SshShellOptions = { ...opts, knownHostsFile: resolve(opts.knownHostsFile) };
    const who = describeTarget(cfg.target);
    const khDir = dirname(cfg.knownHostsFile);
    if (!existsSync(khDir) || !statSync(khDir).isDirectory()) throw new UserError(`${who}: known hosts file ${cfg.knownHostsFile}: its folder does not exist`, { code: 'box-failed' });
    const before = readOrEmpty(cfg.knownHostsFile);
    const dir = privateDir();
    const controlPath = join(dir, 'm');
    try {
      sshArgs(cfg, controlPath, 'master'); // validates paths before anything runs
      cfg.onNotice?.(legacyAlgorithmsNotice(cfg.target));
      // The backgrounded master keeps inherited pipes open for its whole life, so its standard error goes to a
      // file and only the foreground process's exit is awaited.
      const errPath = join(dir, 'master.err');
      const errFd = openSync(errPath, 'w', 0o600);
      let r: Exec;
      try {
        r = await execSsh(cfg.sshPath ?? 'ssh', sshArgs(cfg, controlPath, 'master'), {
          stdio: ['ignore', 'ignore', errFd],
          timeoutMs: ((cfg.connectTimeoutS ?? 10) + 20) * 1000,
        });
      } finally {
        closeSync(errFd);
      }
      const err = readOrEmpty(errPath);
      if (r.exitCode === null) throw new UserError(`${who}: no connection within ${(cfg.connectTimeoutS ?? 10) + 20} s`, { code: 'box-failed' });
      if (r.exitCode !== 0) throw sshFailure(err, who, cfg.knownHostsFile);
      const check = await execSsh(cfg.sshPath ?? 'ssh', ['-O', 'check', ...sshArgs(cfg, controlPath, 'client')], { timeoutMs: 10_000 });
      const pid = /pid=(\d+)/.exec(check.stderr)?.[1];
      if (check.exitCode !== 0 || pid === undefined) throw new UserError(`${who}: the connection opened but its control master is not answering: ${check.stderr.trim().slice(0, 200)}`, { code: 'box-failed' });
      const after = readOrEmpty(cfg.knownHostsFile);
      if (after !== before) cfg.onNotice?.(`${who}: recorded the box's host key in ${cfg.knownHostsFile}`);
      return new SshShell(cfg, dir, controlPath, Number(pid));
    } catch (e) {
      await exitMaster(cfg, controlPath);
      rmSync(dir, { recursive: true, force: true });
      throw e;
    }
  }

  async run(command: string, opts: RunOptions = {}): Promise<RunResult> {
    const timeoutMs = opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS;
    const r = await this.session(command, undefined, timeoutMs);
    return { exitCode: r.exitCode, stdout: r.stdout };
  }

  async putFile(path: string, bytes: Uint8Array, mode: number, owner?: FileOwner): Promise<void> {
    const who = this.who;
    checkPutFile(who, path, bytes, mode, owner);
    const script = putFileScript(path, createHash('sha256').update(bytes).digest('hex'), mode, owner);
    // 60 s plus a second per 256 KiB: a 100 Mbit/s board link moves far more than that.
    const r = await this.session(script, bytes, 60_000 + Math.ceil(bytes.byteLength / 262_144) * 1000);
    if (r.exitCode !== 0) throw new UserError(`${who}: putFile ${path}: failed on the box (exit ${r.exitCode}): ${oneLine(r.stdout)}`, { code: 'box-failed' });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await exitMaster(this.opts, this.controlPath);
    // -O exit returns once the master has been asked; wait for it to be gone, then make sure it is.
    for (let i = 0; i < 50 && alive(this.masterPid); i++) await sleep(20);
    if (alive(this.masterPid)) {
      try {
        process.kill(this.masterPid, 'SIGTERM');
      } catch {
        /* gone meanwhile */
      }
    }
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** One multiplexed session running `script` with the box's /bin/sh, standard error folded into the output. */
  private async session(script: string, stdin: Uint8Array | undefined, timeoutMs: number): Promise<RunResult> {
    const who = this.who;
    if (this.closed) throw new Error(`${who}: used after close()`);
    // The remote login shell gets one string; sh -c with a single-quoted word runs the script as written.
    const remote = `sh -c ${shQuote(`exec 2>&1\n${script}`)}`;
    const r = await execSsh(this.opts.sshPath ?? 'ssh', [...sshArgs(this.opts, this.controlPath, 'client'), remote], {
      stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
      stdin,
      timeoutMs,
      outputCap: OUTPUT_CAP,
    });
    if (r.over) throw new UserError(`${who}: \`${clip(script)}\` printed more than ${OUTPUT_CAP / 1024 / 1024} MiB; stopped`, { code: 'box-failed' });
    if (r.exitCode === null) throw new UserError(`${who}: \`${clip(script)}\` did not finish within ${Math.round(timeoutMs / 1000)} s; stopped`, { code: 'box-failed' });
    // 255 is ssh's own failure when it says why; a remote command may also exit 255, silently.
    if (r.exitCode === 255 && r.stderr.trim() !== '') throw sshFailure(r.stderr, who, this.opts.knownHostsFile);
    return { exitCode: r.exitCode, stdout: r.stdout.toString('utf8') };
  }
}

/** Refuses a putFile whose path, mode or size no transport should send; `who` names the box. */
export function checkPutFile(who: string, path: string, bytes: Uint8Array, mode: number, owner?: FileOwner): void {
  if (!posix.isAbsolute(path) || /[\x00-\x1f\x7f]/.test(path) || path.length > 4096) throw new UserError(`${who}: putFile ${JSON.stringify(path.slice(0, 200))}: needs an absolute path without control characters`, { code: 'box-failed' });
  const name = posix.basename(path);
  if (path.endsWith('/') || name === '.' || name === '..' || name === '') throw new UserError(`${who}: putFile ${path}: names a directory, not a file`, { code: 'box-failed' });
  if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777) throw new UserError(`${who}: putFile ${path}: mode ${mode} is not a permission (0 to 07777)`, { code: 'box-failed' });
  if (bytes.byteLength > PUT_FILE_CAP) throw new UserError(`${who}: putFile ${path}: ${bytes.byteLength} bytes is over the ${PUT_FILE_CAP / 1024 / 1024} MiB cap`, { code: 'box-failed' });
  // 2^32 - 1 is (uid_t)-1, which chown reads as "leave unchanged"
  const isId = (n: number) => Number.isInteger(n) && n >= 0 && n < 0xffffffff;
  if (owner && !(isId(owner.uid) && isId(owner.gid))) throw new UserError(`${who}: putFile ${path}: owner ${owner.uid}:${owner.gid} is not a uid:gid`, { code: 'box-failed' });
}

/**
 * The box's side of putFile, reading the bytes on standard input: a temporary sibling (so the rename stays on
 * one filesystem), its SHA-256 compared with `sha256`, then owner, mode and rename; on any failure the temporary is
 * removed and `path` is untouched. lenny's coreutils 6.10 has sha256sum; reading its standard input keeps the
 * file name out of the output.
 */
export function putFileScript(path: string, sha256: string, mode: number, owner?: FileOwner): string {
  const tmp = posix.join(posix.dirname(path), `.${posix.basename(path)}.obsbuild-tmp`);
  return [
    'set -e',
    'umask 077',
    `t=${shQuote(tmp)}.$$`,
    `trap 'rm -f "$t"' EXIT`,
    'cat > "$t"',
    'set -- $(sha256sum < "$t")',
    `if [ "$1" != ${sha256} ]; then echo "sha256 on the box is $1, not ${sha256}"; exit 3; fi`,
    // chown before chmod: chown clears setuid and setgid bits
    ...(owner ? [`chown ${owner.uid}:${owner.gid} "$t"`] : []),
    `chmod ${mode.toString(8)} "$t"`,
    `mv -f "$t" ${shQuote(path)}`,
    'trap - EXIT',
  ].join('\n');
}

/** Opens the SSH BoxShell for one job. */
export function openSshShell(opts: SshShellOptions): Promise<SshShell> {
  return SshShell.open(opts);
}

function execSsh(
  ssh: string,
  args: string[],
  o: { stdio?: ('ignore' | 'pipe' | number)[]; stdin?: Uint8Array; timeoutMs: number; outputCap?: number },
): Promise<Exec> {
  return new Promise((resolveP, reject) => {
    const child = spawn(ssh, args, { stdio: (o.stdio ?? ['ignore', 'pipe', 'pipe']) as never, env: sshEnv() });
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    let over = false;
    let timedOut = false;
    const stop = () => {
      child.kill('SIGKILL');
      // ssh may already be gone while something on the box still holds the session's output open.
      if (child.exitCode !== null || child.signalCode !== null) {
        child.stdout?.destroy();
        child.stderr?.destroy();
        done(child.exitCode, child.signalCode);
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      stop();
    }, o.timeoutMs);
    child.stdout?.on('data', (b: Buffer) => {
      if (over) return;
      outLen += b.length;
      if (o.outputCap !== undefined && outLen > o.outputCap) {
        over = true;
        out.length = 0;
        stop();
        return;
      }
      out.push(b);
    });
    child.stderr?.on('data', (b: Buffer) => {
      if (err.length < STDERR_CAP) err += b.toString('utf8');
    });
    if (child.stdin) {
      child.stdin.on('error', () => {
        /* the remote side stopped reading; its exit status tells why */
      });
      child.stdin.end(o.stdin === undefined ? undefined : Buffer.from(o.stdin.buffer, o.stdin.byteOffset, o.stdin.byteLength));
    }
    child.on('error', (e) => {
      clearTimeout(timer);
      const code = (e as NodeJS.ErrnoException).code;
      reject(code === 'ENOENT' ? new UserError(`${ssh}: the OpenSSH client is not installed (apt-get install openssh-client)`, { code: 'tool-failed', cause: e }) : e);
    });
    // The master's foreground process exits once it has backgrounded itself, and a multiplexed session's
    // pipes are handed to the master, which holds them until the remote command ends: so 'close' (all pipes
    // drained) is awaited only for a session that ran its course; one we stopped ends when ssh exits.
    function done(code: number | null, signal: NodeJS.Signals | null): void {
      clearTimeout(timer);
      resolveP({ exitCode: timedOut || over ? null : code, signal: timedOut || over ? 'SIGKILL' : signal, stdout: Buffer.concat(out), stderr: err, over });
    }
    child.on('exit', (code, signal) => {
      if (timedOut || over || !(child.stdout || child.stderr)) {
        child.stdout?.destroy();
        child.stderr?.destroy();
        done(code, signal);
      }
    });
    child.on('close', done);
  });
}

/** ssh must not ask anything (BatchMode covers prompts; no askpass program either). */
function sshEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.SSH_ASKPASS;
  delete env.DISPLAY;
  return env;
}

async function exitMaster(cfg: SshShellOptions, controlPath: string): Promise<void> {
  if (!existsSync(controlPath)) return;
  await execSsh(cfg.sshPath ?? 'ssh', ['-O', 'exit', ...sshArgs(cfg, controlPath, 'client')], { timeoutMs: 10_000 }).catch(() => undefined);
}

function readOrEmpty(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** Whether `pid` still runs; a zombie no one reaps (a container's init may not) counts as gone. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // /proc/PID/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true; // no procfs: kill(0) has the last word
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const clip = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s).replace(/\s*\n\s*/g, '; ');
const oneLine = (s: string) => s.trim().replace(/\s*\n\s*/g, ' | ').slice(-300);
