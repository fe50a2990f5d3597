/**
 * One console run, wiring the layers together: transport bytes → transcript, live view, phase machine
 * and expecter; then login, shell setup and the checks; the result is the JSON report.
 */
import { Expecter } from './expect.js';
import { ConsoleFault, FAILURE_CODES } from './faults.js';
import { PhaseMachine, type Budgets, type ProgressEvent } from './phases.js';
import { LastLines, type ConsoleReport, type Transcript } from './report.js';
import { Shell, type CommandResult } from './shell.js';
import { runChecks, type CheckResult } from './checks.js';
import { recordHostKeys, type HostKeysTarget } from './host-keys.js';
import type { ConsoleTransport, Gap } from './transport.js';
import type { Site } from '../site/model.js';

export interface ConsoleRunOptions {
  transport: ConsoleTransport;
  portLabel: string;
  baudRate: number;
  /** follow: from power-on through install and first boot; login: an installed box, log in at once. */
  mode: 'follow' | 'login';
  user: string;
  password: string;
  budgets: Budgets;
  site: Site | null;
  manifestId: string | null;
  node?: 'master' | 'backup';
  transcript?: Transcript;
  /** Raw bytes for the live view. */
  live?(chunk: Buffer): void;
  onProgress?(e: ProgressEvent): void;
  /** Our own events (gaps, what we typed) for the user. */
  onEvent?(text: string): void;
  /** The checks to run once logged in (default: the appliance checks of checks.ts). */
  checks?(run: (command: string) => Promise<CommandResult>): Promise<CheckResult[]>;
  /** Record the box's SSH host keys after login (`<outDir>/<hostname>/known_hosts`); omitted: not recorded. */
  hostKeys?: HostKeysTarget;
  /** Aborting ends the run with failure class `aborted`. */
  signal?: AbortSignal;
  /** Called once the verdict is known, before the port is closed (interactive mode keeps it open). */
  beforeClose?(): Promise<void>;
}

export async function runConsole(opts: ConsoleRunOptions): Promise<ConsoleReport> {
  const startedAt = new Date();
  const expecter = new Expecter();
  const machine = new PhaseMachine(expecter, opts.budgets, opts.mode === 'login' ? 'login' : 'start');
  const lastLines = new LastLines(50);
  const gaps: Gap[] = [];
  const t = opts.transcript;
  let checks: CheckResult[] = [];
  let hostKeysFile: string | null = null;
  let failure: ConsoleReport['failure'] = null;

  expecter.on('line', (l: string) => lastLines.push(l));
  machine.on('progress', (e: ProgressEvent) => {
    if (!e.step) t?.note('--', `phase ${e.phase}${e.message ? `: ${e.message}` : ''}`);
    opts.onProgress?.(e);
  });

  const transport = opts.transport;
  const onData = (buf: Buffer) => {
    t?.board(buf);
    opts.live?.(buf);
    machine.onBytes(buf);
    expecter.feed(buf);
  };
  transport.on('data', onData);
  const waitText = `waiting up to ${opts.budgets.reconnect / 1000} s for it to come back`;
  const onDown = (reason: string) => {
    t?.note('--', `serial port lost: ${reason}; ${waitText}`);
    opts.onEvent?.(`serial port lost (${reason}); ${waitText}`);
    machine.portLost(`${opts.portLabel} lost (${reason})`);
  };
  const onUp = (g: Gap) => {
    machine.portBack();
    gaps.push(g);
    t?.gap(g);
    opts.onEvent?.(`serial port back after ${(g.ms / 1000).toFixed(1)} s; output in that gap is lost`);
  };
  transport.on('down', onDown);
  transport.on('up', onUp);

  const shell = new Shell({
    expecter,
    send: (text) => transport.write(text),
    note: (text) => t?.note('>>', text.replace(/\r$/, '')),
  });

  const onAbort = () => machine.recordFault(new ConsoleFault('aborted', 'stopped by the user before the verdict'));
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    if (opts.signal?.aborted) onAbort();
    try {
      await transport.open();
    } catch (err) {
      throw new ConsoleFault('port-error', (err as Error).message);
    }
    if (opts.mode === 'login') {
      t?.note('>>', '(Enter, to provoke a prompt)');
      await transport.write('\r').catch(() => {});
    }
    await machine.untilLoginPrompt();
    await shell.login({ user: opts.user, password: opts.password, timeoutMs: opts.budgets.login });
    machine.markLoggedIn();
    await shell.setup();
    const run = (cmd: string) => shell.run(cmd, opts.budgets.command);
    if (opts.hostKeys) {
      hostKeysFile = await recordHostKeys(run, opts.hostKeys, (line) => {
        t?.note('--', line);
        opts.onEvent?.(line);
      });
    }
    machine.enterChecks();
    checks = opts.checks ? await opts.checks(run) : await runChecks(run, { site: opts.site, manifestId: opts.manifestId, node: opts.node });
    if (machine.failed) throw machine.failed;
    const failed = checks.filter((c) => c.status === 'fail');
    if (failed.length) {
      throw new ConsoleFault('check-failed', `${failed.length} check(s) failed: ${failed.map((c) => `${c.name} (${c.evidence})`).join('; ')}`);
    }
  } catch (err) {
    if (!(err instanceof ConsoleFault)) throw err;
    machine.recordFault(err);
    const f = (machine.failed ?? err) as ConsoleFault;
    failure = { class: f.failureClass, code: FAILURE_CODES[f.failureClass], message: f.message, phase: machine.phase, lastLines: lastLines.get() };
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    machine.finish(failure === null);
    if (opts.beforeClose) await opts.beforeClose().catch(() => {});
    transport.off('data', onData);
    transport.off('down', onDown);
    transport.off('up', onUp);
    await transport.close();
  }
  t?.epilogue(lastLines.get());
  if (failure) t?.note('--', `FAILED (${failure.class}): ${failure.message}`);
  else t?.note('--', 'PASS: all checks passed');

  return {
    version: 1,
    port: opts.portLabel,
    baudRate: opts.baudRate,
    mode: opts.mode,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    ok: failure === null,
    failure,
    phases: machine.phases,
    steps: machine.steps,
    reboots: machine.reboots,
    gaps: gaps.map((g) => ({ from: g.from.toISOString(), to: g.to.toISOString(), ms: g.ms })),
    manifestIdSeen: machine.manifestIdSeen,
    checks,
    hostKeysFile,
    transcript: null,
  };
}
