/**
 * BoxShell over the serial console: the console's own transport, expecter and shell driver (login from
 * whatever the line shows, the marker prompt, commands between random exit-status markers). Each command runs
 * in its own `sh -c`, as over SSH, so an `exit` or `set -e` cannot end or change the login shell. Files
 * travel as base64 typed into the shell, then the same box-side script as SSH checks their SHA-256 and
 * renames them into place. Output comes back as text the console decodes: carriage returns, terminal escape
 * sequences and NULs are dropped, and bytes that are not UTF-8 become U+FFFD, so binary output (a file's
 * content) must be read as base64, which is what the line can carry anyway.
 *
 * A serial line has no flow control and the box's tty reads in canonical mode, which keeps at most 4095 bytes
 * of unread input: every command obsbuild types stays well below that, so even a box too busy to read cannot
 * lose a byte of it (and a lost byte would fail the SHA-256 check, never go unnoticed).
 */
import { createHash, randomBytes } from 'node:crypto';
import { CaptureOverflow, Expecter } from '../console/expect.js';
import { ConsoleFault } from '../console/faults.js';
import { consolePort } from '../console/port.js';
import { TranscriptFile } from '../console/report.js';
import { Shell, type ShellIo } from '../console/shell.js';
import type { ConsoleTransport } from '../console/transport.js';
import type { BoxShell, FileOwner, RunOptions, RunResult } from '../remote/box-shell.js';
import { shQuote } from '../remote/sh-quote.js';
import { checkPutFile, putFileScript } from '../remote/ssh.js';
import { UserError } from '../util/errors.js';

/**
 * Output one command may print: room for verify's one batch (its checks and the file read, about 7.5 MB at
 * most; a test holds the two together). It bounds memory, not time: at 115200 baud this is 12 minutes of text.
 */
export const SERIAL_OUTPUT_CAP = 8 * 1024 * 1024;
/**
 * Bytes obsbuild types for one command, markers included: under the 4095 bytes a tty in canonical mode
 * holds unread, with room for the shell driver's markers.
 */
export const MAX_TYPED_COMMAND = 3600;
/** The shell driver's `echo` markers, `{ ...; } </dev/null 2>&1` and the exit status around each command. */
const MARKER_OVERHEAD = 100;
/** A run() command that is not a file upload may span several lines, each under the tty's limit. */
const MAX_RUN_COMMAND = 64 * 1024;
const DEFAULT_RUN_TIMEOUT_MS = 60_000;
/** How long the shell has to take a new prompt after Ctrl-C (a flood still draining at 115200 included). */
const RESYNC_TIMEOUT_MS = 20_000;
const BASE64_LINE = 76;
/** Control characters the box's tty would act on (interrupt, erase, kill line, end of file, flow control). */
const TTY_CONTROL_RE = /[\x00-\x08\x0b-\x1f\x7f]/;

export interface SerialShellOptions {
  /** A device path, a pty, or a console server URL (rfc2217:// or tcp://), as `console --port` takes. */
  port: string;
  baud: number;
  user: string;
  password: string;
  /** Where the session's transcript goes (the password masked, file uploads summarised). */
  transcriptFile?: string;
  /** One-line notices for the user. */
  log: (line: string) => void;
  /** How long the login may take (a login prompt, a password prompt, an idle shell). */
  loginTimeoutMs?: number;
}

export class SerialShell implements BoxShell {
  private closing: Promise<void> | null = null;
  /** Why the session can no longer be used (a command that never finished, the port lost). */
  private broken: string | null = null;
  /** Commands are typed one at a time; concurrent callers queue here. */
  private queue: Promise<unknown> = Promise.resolve();
  /** While set, the transcript gets this summary instead of the typed text (base64 of a file). */
  private quietNote: string | null = null;
  /** `exit` is typed only into a shell: at a login prompt it would be taken for a user name. */
  private loggedIn = false;
  /** close() was called: new commands are refused, those already queued still run. */
  private closeRequested = false;
  /** The port is being closed: nothing more is typed. */
  private down = false;
  /** The port went away during the session (no resync then: the line may have lost anything). */
  private lost: string | null = null;

  private constructor(
    /** 8N1: ten bits on the line per byte. */
    readonly lineBytesPerSecond: number,
    private readonly who: string,
    private readonly transport: ConsoleTransport,
    /** The shell driver reads its expecter from here on every call, so a resync can give it a fresh one. */
    private readonly io: ShellIo,
    private readonly shell: Shell,
    private readonly transcript: TranscriptFile | null,
  ) {}

  /** Opens the port, logs in and sets up the marker prompt; every failure is a one-line UserError naming the port. */
  static async open(opts: SerialShellOptions): Promise<SerialShell> {
    const { name, transport } = await consolePort(opts.port, opts.baud, opts.log);
    const who = `serial ${name}`;
    const transcript = opts.transcriptFile === undefined ? null : await TranscriptFile.create(opts.transcriptFile);
    const t = transcript?.transcript;
    let self: SerialShell | null = null;
    const io: ShellIo = {
      expecter: newExpecter(),
      send: (text) => transport.write(text),
      note: (text) => t?.note('>>', self?.quietNote ?? text.replace(/\r$/, '')),
    };
    const shell = new Shell(io);
    transport.on('data', (buf: Buffer) => {
      // The tty echoes a file's base64 back; the transcript keeps the summary note instead (a shadow file passes).
      if (self === null || self.quietNote === null) t?.board(buf);
      io.expecter.feed(buf);
    });
    transport.on('down', (reason: string) => {
      t?.note('--', `port lost: ${reason}`);
      if (self === null || self.down) return;
      self.lost = `the serial port went away (${reason})`;
      io.expecter.fail(new UserError(`${who}: ${self.lost}`, { code: 'console-failed' }));
    });
    self = new SerialShell(opts.baud / 10, who, transport, io, shell, transcript);
    try {
      await transport.open();
      t?.note('>>', '(Enter, to provoke a prompt)');
      await transport.write('\r');
      await shell.login({ user: opts.user, password: opts.password, timeoutMs: opts.loginTimeoutMs ?? 60_000 });
      self.loggedIn = true;
      await shell.setup();
      // A root shell on the box is often bash: line editing off (typed text reaches it as the tty delivers it,
      // no completion, no redrawing of long lines), and nothing obsbuild types goes to its history file.
      const prep = await shell.run('{ set +o emacs; set +o vi; } 2>/dev/null; unset HISTFILE', 10_000);
      if (prep.exitCode === null) throw new UserError(`${who}: the shell did not answer after login`, { code: 'console-failed' });
    } catch (e) {
      await self.shutDown();
      throw self.explain(e);
    }
    opts.log(`${who}: logged in as ${opts.user}`);
    return self;
  }

  /** The error a caller sees: one line naming the port. */
  private explain(e: unknown): Error {
    if (e instanceof UserError) return e;
    if (e instanceof ConsoleFault) return new UserError(`${this.who}: ${e.message}`, { code: 'console-failed' });
    if (e instanceof CaptureOverflow) return new UserError(`${this.who}: a command printed more than ${SERIAL_OUTPUT_CAP / 1024 / 1024} MiB; stopped`, { code: 'console-failed' });
    return e instanceof Error ? e : new Error(String(e));
  }

  async run(command: string, opts: RunOptions = {}): Promise<RunResult> {
    return this.serially(() => this.exec(command, opts.timeoutMs ?? DEFAULT_RUN_TIMEOUT_MS));
  }

  async putFile(path: string, bytes: Uint8Array, mode: number, owner?: FileOwner): Promise<void> {
    checkPutFile(this.who, path, bytes, mode, owner);
    return this.serially(async () => {
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      // The box's temporary directory ($TMPDIR, else /tmp): a stray part-file there is cleared at the next boot.
      const stage = `"\${TMPDIR:-/tmp}"/obsbuild-put.${randomBytes(8).toString('hex')}.b64`;
      const batches = base64Batches(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64'), stage);
      try {
        for (let i = 0; i < batches.length; i++) {
          this.quietNote = `(putFile ${path}: base64 part ${i + 1}/${batches.length} into ${stage})`;
          let r: RunResult;
          try {
            r = await this.typed(batches[i], 30_000);
          } finally {
            this.quietNote = null;
          }
          if (r.exitCode !== 0) throw new UserError(`${this.who}: putFile ${path}: cannot stage the file in ${stage} (exit ${r.exitCode}): ${lastLines(r.stdout)}`, { code: 'box-failed' });
        }
        // base64 -d feeds the box-side script shared with SSH: SHA-256 check, mode, rename into place.
        const finish = `s=${stage}; base64 -d < "$s" | sh -c ${shQuote(putFileScript(path, sha256, mode, owner))}; r=$?; rm -f "$s"; exit $r`;
        const r = await this.exec(finish, 60_000 + Math.ceil(bytes.byteLength / 65_536) * 1000);
        if (r.exitCode !== 0) throw new UserError(`${this.who}: putFile ${path}: failed on the box (exit ${r.exitCode}): ${lastLines(r.stdout)}`, { code: 'box-failed' });
      } catch (e) {
        if (this.broken === null) await this.typed(`rm -f ${stage}`, 10_000).catch(() => undefined);
        throw e;
      }
    });
  }

  /** After the command in progress (if any): `exit` from the login shell and close the port; safe to call twice. */
  close(): Promise<void> {
    this.closeRequested = true;
    this.closing ??= this.queue.then(() => this.shutDown());
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.closeRequested = true;
    this.down = true;
    try {
      if (this.loggedIn) {
        // A command that never finished still owns the line: interrupt it before leaving.
        if (this.broken !== null) await this.transport.write('\x03');
        this.transcript?.transcript.note('>>', 'exit');
        await this.transport.write('exit\r');
      }
    } catch {
      /* the port is already gone */
    }
    this.io.expecter.fail(new UserError(`${this.who}: used after close()`, { code: 'box-failed' }));
    await this.transport.close();
    this.transport.removeAllListeners('data');
    await this.transcript?.finish().catch(() => undefined);
  }

  private serially<T>(job: () => Promise<T>): Promise<T> {
    if (this.closeRequested) return Promise.reject(new UserError(`${this.who}: used after close()`, { code: 'box-failed' }));
    const next = this.queue.then(job, job);
    this.queue = next.catch(() => undefined);
    return next;
  }

  /** One command in its own `sh -c`, standard input from /dev/null, standard error folded into the output. */
  private async exec(command: string, timeoutMs: number): Promise<RunResult> {
    if (TTY_CONTROL_RE.test(command)) throw new UserError(`${this.who}: \`${clip(command)}\` contains a control character the box's tty would act on`, { code: 'box-failed' });
    if (Buffer.byteLength(command) > MAX_RUN_COMMAND) throw new UserError(`${this.who}: \`${clip(command)}\` is over ${MAX_RUN_COMMAND / 1024} KiB, more than obsbuild types on a serial console`, { code: 'box-failed' });
    return this.typed(`sh -c ${shQuote(command)}`, timeoutMs);
  }

  /** Types `text` as it is into the login shell, between the shell driver's markers. */
  private async typed(text: string, timeoutMs: number): Promise<RunResult> {
    if (this.down) throw new UserError(`${this.who}: used after close()`, { code: 'box-failed' });
    if (this.broken !== null) throw new UserError(`${this.who}: the session is unusable: ${this.broken}`, { code: 'console-failed' });
    const long = text.split('\n').find((l) => Buffer.byteLength(l) + MARKER_OVERHEAD > MAX_TYPED_COMMAND);
    if (long !== undefined) throw new UserError(`${this.who}: \`${clip(text)}\` has a line of ${Buffer.byteLength(long)} bytes; a serial console takes at most ${MAX_TYPED_COMMAND - MARKER_OVERHEAD}`, { code: 'box-failed' });
    let r;
    try {
      r = await this.shell.run(text, timeoutMs);
    } catch (e) {
      const err = this.explain(e);
      await this.resync(err.message);
      throw err;
    }
    if (r.exitCode === null) {
      const why = `\`${clip(text)}\` did not finish within ${Math.round(timeoutMs / 1000)} s`;
      await this.resync(why);
      throw new UserError(`${this.who}: ${why}; stopped`, { code: 'console-failed' });
    }
    return { exitCode: r.exitCode, stdout: r.output };
  }

  /**
   * After a command that printed too much or never finished: Ctrl-C (the tty also drops what it still
   * holds), a fresh expecter and a new marker prompt, whose random name nothing of the old output can match.
   * When that fails too, or the port went away, the session is unusable.
   */
  private async resync(why: string): Promise<void> {
    if (this.lost !== null || this.down) {
      this.broken = this.lost ?? why;
      return;
    }
    try {
      await this.transport.write('\x03');
      this.io.expecter = newExpecter();
      await this.shell.setup(RESYNC_TIMEOUT_MS);
    } catch {
      this.broken = why;
    }
  }
}

/**
 * The commands that write `base64` to `stage` (a shell word) on the box, in 76-character lines: the first
 * creates it readable by root alone (a shadow file passes through), the rest append; each under
 * MAX_TYPED_COMMAND.
 */
export function base64Batches(base64: string, stage: string): string[] {
  const batches: string[] = [];
  let at = 0;
  do {
    const first = batches.length === 0;
    const head = first ? `(umask 077 && printf '%s\\n'` : `printf '%s\\n'`;
    const tail = first ? ` > ${stage})` : ` >> ${stage}`;
    let cmd = head;
    const room = MAX_TYPED_COMMAND - MARKER_OVERHEAD - tail.length;
    while (at < base64.length && cmd.length + BASE64_LINE + 3 <= room) {
      cmd += ` '${base64.slice(at, at + BASE64_LINE)}'`;
      at += BASE64_LINE;
    }
    // printf with no argument still prints one empty line: base64 -d skips it
    batches.push(cmd + tail);
  } while (at < base64.length);
  return batches;
}

const newExpecter = () => new Expecter({ captureChars: SERIAL_OUTPUT_CAP });

/** Opens the serial BoxShell for one job. */
export function openSerialShell(opts: SerialShellOptions): Promise<SerialShell> {
  return SerialShell.open(opts);
}

const clip = (s: string) => (s.length > 60 ? `${s.slice(0, 57)}...` : s).replace(/\s*\n\s*/g, '; ');
const lastLines = (s: string) => s.trim().replace(/\s*\n\s*/g, ' | ').slice(-300);
