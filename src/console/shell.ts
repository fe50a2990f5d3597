/**
 * The shell driver (labgrid's ShellDriver): logs in by reacting to whatever the line shows (login prompt,
 * password prompt, an existing shell prompt, "Login incorrect", or silence, which earns a bare Enter),
 * then sets a unique prompt, silences kernel messages (`dmesg -n 1`) and runs commands between random
 * exit-status markers that are split with quotes, so the echo of the typed command can never match.
 */
import { randomBytes } from 'node:crypto';
import { TIMEOUT, type Expecter } from './expect.js';
import { ConsoleFault } from './faults.js';

export interface ShellIo {
  expecter: Expecter;
  send(text: string): Promise<void>;
  /** Records what was sent in the transcript; the password is masked by the caller. */
  note?(text: string): void;
}

export interface LoginOptions {
  user: string;
  password: string;
  timeoutMs: number;
  /** How long the line must be quiet before we press Enter to provoke a prompt. */
  idleMs?: number;
  /** Login attempts refused before giving up. */
  maxRefusals?: number;
}

// `\S login`, not `\S+ login`: the same test, but linear on a long run without spaces
export const LOGIN_PROMPT_RE = /\S login: ?$/;
const PASSWORD_RE = /[Pp]assword: ?$/;
const INCORRECT_RE = /Login incorrect|Authentication failure|Permission denied/;
const SHELL_PROMPT_RE = /[#$] ?$/;
const CONSOLE_READY_RE = /Please press Enter to activate this console/;

export interface CommandResult {
  command: string;
  exitCode: number | null;
  output: string;
  durationMs: number;
}

export class Shell {
  private prompt: string | null = null;

  constructor(private readonly io: ShellIo) {}

  private async send(text: string, shown = text): Promise<void> {
    this.io.note?.(shown);
    try {
      await this.io.send(text);
    } catch {
      // the adapter is away; the next expect() times out or sees the reconnect
    }
  }

  /** Gets to a shell prompt; throws ConsoleFault('login-refused' | 'timeout'). */
  async login(opts: LoginOptions): Promise<void> {
    const ex = this.io.expecter;
    const deadline = Date.now() + opts.timeoutMs;
    const idleMs = opts.idleMs ?? 1500;
    let refusals = 0;
    let pokes = 0;
    let sentPassword = false;
    for (;;) {
      const left = deadline - Date.now();
      if (left <= 0) {
        throw new ConsoleFault('timeout', `no login prompt or shell prompt within ${Math.round(opts.timeoutMs / 1000)} s (last text: ${JSON.stringify(ex.currentLine.slice(-60))})`);
      }
      const r = await ex.expect([LOGIN_PROMPT_RE, PASSWORD_RE, INCORRECT_RE, SHELL_PROMPT_RE, CONSOLE_READY_RE], Math.min(idleMs, left));
      switch (r.index) {
        case 0:
          await this.send(`${opts.user}\r`);
          break;
        case 1:
          sentPassword = true;
          await this.send(`${opts.password}\r`, '(password)\r');
          break;
        case 2:
          refusals++;
          if (refusals >= (opts.maxRefusals ?? 2)) {
            throw new ConsoleFault(
              'login-refused',
              `login as ${opts.user} refused ${refusals} time(s)${sentPassword ? ' with the given password' : ''}: use --password or OBSBUILD_ROOT_PASSWORD`,
            );
          }
          break;
        case 3:
          return;
        case 4:
          await this.send('\r');
          break;
        case TIMEOUT:
          // provoke a prompt only when the line is idle, and not forever
          if (Date.now() - ex.lastDataAt >= idleMs && pokes < 20) {
            pokes++;
            await this.send('\r');
          }
          break;
      }
    }
  }

  /** Unique prompt and quiet kernel; after this, run() works. */
  async setup(timeoutMs = 10000): Promise<void> {
    const id = randomBytes(3).toString('hex');
    const prompt = `obs-${id}# `;
    // The quotes split the prompt in the echoed command line, so only the real prompt matches.
    this.io.expecter.clear();
    await this.send(`unset PROMPT_COMMAND; export TERM=dumb PS1='obs-''${id}# '\r`);
    const r = await this.io.expecter.expect([prompt], timeoutMs);
    if (r.index === TIMEOUT) throw new ConsoleFault('timeout', 'the shell did not take the new prompt (is this a POSIX shell?)');
    this.prompt = prompt;
    const d = await this.run('dmesg -n 1', timeoutMs);
    if (d.exitCode !== 0) this.io.note?.(`warning: dmesg -n 1 exited ${d.exitCode}: kernel messages may interleave`);
  }

  /**
   * Runs one command line and returns its exit status and output (stdout and stderr, CR removed).
   * exitCode is null when the markers did not come back in time.
   */
  async run(command: string, timeoutMs = 60000): Promise<CommandResult> {
    if (!this.prompt) throw new Error('shell not set up');
    const id = randomBytes(4).toString('hex');
    const a = `@@${id.slice(0, 4)}`;
    const b = `${id.slice(4)}@@`;
    const started = Date.now();
    const ex = this.io.expecter;
    ex.clear();
    await this.send(`echo "${a}""${b}"; { ${command}; } </dev/null 2>&1; echo "${a}""${b}=$?"\r`);
    // Two short matches, the output being what lies between: a pattern spanning the output would have
    // to be searched again from its start on every chunk.
    const head = await ex.expect([`${a}${b}\n`], timeoutMs);
    if (head.index === TIMEOUT) return { command, exitCode: null, output: '', durationMs: Date.now() - started };
    const tail = await ex.expect([new RegExp(`${a}${b}=(\\d+)\\n`)], Math.max(0, timeoutMs - (Date.now() - started)));
    if (tail.index === TIMEOUT) return { command, exitCode: null, output: tail.before.slice(-4000), durationMs: Date.now() - started };
    const output = tail.before;
    const exitCode = Number(tail.match![1]);
    await ex.expect([this.prompt], 5000);
    return { command, exitCode, output, durationMs: Date.now() - started };
  }
}
