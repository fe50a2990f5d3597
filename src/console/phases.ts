/**
 * The boot-to-login state machine. Each phase has a budget; installer and first-boot steps have a budget
 * each too (a step that prints nothing new in time is "stalled", which is different from a line with no
 * bytes at all). Watchers for panics, reboots and wrong-baud garbage run alongside; any fault rejects the
 * pending expect() so every waiter learns about it at once.
 *
 *   waiting → boot → installer → install-done → reboot → first-boot → login → shell → checks
 *
 * With `from: 'login'` the machine starts at `login` (an installed box); a boot banner then simply
 * restarts the boot phases unless we are already in the shell.
 */
import { EventEmitter } from 'node:events';
import { MAX_TIMER_MS, type Expecter } from './expect.js';
import { BootCounter, ConsoleFault, LineQuality, MAX_LINE_BYTES, PANIC_RE, type FailureClass } from './faults.js';
import { parseMarker, type Marker } from '../contracts/markers.js';
import { LOGIN_PROMPT_RE } from './shell.js';
import type { PhaseRecord, StepRecord } from './report.js';

export type PhaseName = 'waiting' | 'boot' | 'installer' | 'install-done' | 'reboot' | 'first-boot' | 'login' | 'shell' | 'checks';

export const PHASE_HELP: [PhaseName, string][] = [
  ['waiting', 'waiting for the first byte (power the box on)'],
  ['boot', 'firmware and kernel boot, until the installer or a login prompt speaks'],
  ['installer', 'msf_init.sh steps "obsbuild-install: [n/N] step", shown as a progress bar'],
  ['install-done', 'install finished: power off, remove the stick, power on; ends at the next boot banner'],
  ['reboot', 'the second boot, from the CF card'],
  ['first-boot', 'first-boot script steps "obsbuild-firstboot: [n/N] step ... ok"'],
  ['login', 'login prompt: log in as root'],
  ['shell', 'unique prompt, dmesg -n 1, the SSH host keys recorded'],
  ['checks', 'post-boot checks (depmod -a, modules, ip_vs, manifest, dpkg, network, keepalived, ipvsadm)'],
];

/** Budgets in milliseconds. */
export interface Budgets {
  waiting: number;
  boot: number;
  installerStep: number;
  installDone: number;
  reboot: number;
  firstbootStep: number;
  login: number;
  command: number;
  /** How long the serial port may stay away (unplugged, I/O error) before the run fails with port-lost. */
  reconnect: number;
}

export const DEFAULT_BUDGETS: Budgets = {
  waiting: 120_000,
  boot: 300_000,
  installerStep: 900_000,
  installDone: 1_800_000,
  reboot: 300_000,
  firstbootStep: 300_000,
  login: 120_000,
  command: 180_000,
  reconnect: 10_000,
};

/** `--budget` names, in seconds on the command line. */
export const BUDGET_NAMES: Record<string, keyof Budgets> = {
  waiting: 'waiting',
  boot: 'boot',
  'installer-step': 'installerStep',
  'install-done': 'installDone',
  reboot: 'reboot',
  'firstboot-step': 'firstbootStep',
  login: 'login',
  command: 'command',
  reconnect: 'reconnect',
};

/**
 * Every budget must be a whole number of milliseconds a timer can wait for; only `reconnect` may be 0
 * (fail as soon as the port goes away). Callers validate user input first; this guards the rest.
 */
export function budgetProblem(key: keyof Budgets, ms: number): string | null {
  if (Number.isNaN(ms)) return 'not a number';
  if (ms < 0 || (ms === 0 && key !== 'reconnect')) return key === 'reconnect' ? 'must not be negative' : 'must be more than 0 s';
  if (ms > MAX_TIMER_MS) return `at most ${Math.floor(MAX_TIMER_MS / 1000)} s (24.8 days, the longest timer Node.js can set)`;
  return null;
}

export interface ProgressEvent {
  phase: PhaseName;
  step?: { script: 'install' | 'firstboot'; n: number; total: number; name: string };
  message?: string;
}

const REBOOT_LOOP_BOOTS = 3;

/** Verdicts that only say "nothing came": while the port is away they are really port-lost. */
const SILENCE_CLASSES: ReadonlySet<FailureClass> = new Set(['no-data', 'timeout', 'stalled']);

export class PhaseMachine extends EventEmitter {
  phase: PhaseName;
  readonly phases: PhaseRecord[] = [];
  readonly steps: StepRecord[] = [];
  manifestIdSeen: string | null = null;
  reboots = 0;
  private readonly bootCounter = new BootCounter();
  private bootsThisPhase = 0;
  private readonly quality = new LineQuality();
  private loggedIn = false;
  private phaseTimer: NodeJS.Timeout | null = null;
  private stepTimer: NodeJS.Timeout | null = null;
  private loginWaiter: { resolve(): void; reject(e: unknown): void } | null = null;
  private sawInstaller = false;
  private failure: ConsoleFault | null = null;
  private portAway: { what: string; since: number } | null = null;
  private reconnectTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly expecter: Expecter,
    private readonly budgets: Budgets,
    from: 'start' | 'login',
  ) {
    super();
    for (const [key, ms] of Object.entries(budgets) as [keyof Budgets, number][]) {
      const problem = budgetProblem(key, ms);
      if (problem) throw new RangeError(`budget ${key} = ${ms} ms: ${problem}`);
    }
    this.phase = from === 'login' ? 'login' : 'waiting';
    this.enter(this.phase);
    expecter.on('line', (line: string) => this.onLine(line));
    expecter.on('text', () => this.onText());
  }

  /** Raw bytes, for the line-quality (baud) detector. */
  onBytes(buf: Buffer): void {
    if (this.phase === 'waiting') this.enter('boot');
    if (this.loggedIn) return; // once a shell answered, the baud rate is right
    this.quality.push(buf);
    const v = this.quality.verdict();
    if (v.wrongBaud && this.quality.total >= 128) {
      this.fault(
        new ConsoleFault(
          'wrong-baud',
          `the bytes do not look like text (${Math.round(v.textRatio * 100)}% text in the last ${v.bytes} bytes): the baud rate is probably wrong; the box uses 115200 8N1, try --baud 9600, 38400 or 57600 if it was changed`,
        ),
      );
    } else if (this.quality.lineRun >= MAX_LINE_BYTES) {
      this.fault(
        new ConsoleFault(
          'line-too-long',
          `garbage or a flood on the line: ${this.quality.lineRun} bytes without a line end (no console line is longer than ${MAX_LINE_BYTES / 1024} KiB); is another program writing to the port?`,
        ),
      );
    }
  }

  /**
   * The serial port went away (`what` names it and says why). The run waits `budgets.reconnect` for it
   * to come back, then fails with port-lost; a phase budget that runs out meanwhile is port-lost too.
   */
  portLost(what: string): void {
    if (this.failure || this.portAway) return;
    this.portAway = { what, since: Date.now() };
    const budget = this.budgets.reconnect;
    this.reconnectTimer = setTimeout(() => {
      this.fault(new ConsoleFault('port-lost', `serial port ${what}; it did not come back within ${fmtSeconds(budget)}`));
    }, budget);
    this.reconnectTimer.unref?.();
  }

  /** The port is back (reopened); the run goes on. */
  portBack(): void {
    this.portAway = null;
    this.clearReconnectTimer();
  }

  /** Apart from the phase and step timers: a phase change while the port is away keeps it running. */
  private clearReconnectTimer(): void {
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
  }

  private now(): string {
    return new Date().toISOString();
  }

  private enter(phase: PhaseName, detail?: string): void {
    const last = this.phases[this.phases.length - 1];
    if (last && last.outcome === 'running') {
      last.outcome = 'done';
      last.durationMs = Date.now() - Date.parse(last.startedAt);
    }
    this.phase = phase;
    this.bootsThisPhase = 0;
    this.phases.push({ name: phase, startedAt: this.now(), durationMs: null, outcome: 'running', detail });
    this.clearTimers();
    const budget = this.phaseBudget(phase);
    if (budget !== null) {
      this.phaseTimer = setTimeout(() => this.onPhaseTimeout(phase, budget), budget);
      this.phaseTimer.unref?.();
    }
    this.emit('progress', { phase, message: detail } satisfies ProgressEvent);
  }

  private phaseBudget(phase: PhaseName): number | null {
    switch (phase) {
      case 'waiting':
        return this.budgets.waiting;
      case 'boot':
        return this.budgets.boot;
      case 'install-done':
        return this.budgets.installDone;
      case 'reboot':
        return this.budgets.reboot;
      case 'login':
        return this.budgets.login;
      default:
        return null; // installer and first boot are bounded per step; shell and checks per command
    }
  }

  private onPhaseTimeout(phase: PhaseName, budget: number): void {
    if (this.phase !== phase) return;
    const s = Math.round(budget / 1000);
    if (phase === 'waiting') {
      this.fault(new ConsoleFault('no-data', `no bytes at all in ${s} s: check the cable (null-modem), the port and that the box is powered on (if it is already up, use --from login)`));
    } else if (phase === 'install-done') {
      this.fault(new ConsoleFault('timeout', `the install finished but the box did not boot again within ${s} s (power off, remove the stick, power on)`));
    } else {
      this.fault(new ConsoleFault('timeout', `phase ${phase} did not finish within its ${s} s budget`));
    }
  }

  private startStepTimer(script: 'install' | 'firstboot', n: number, total: number, name: string): void {
    if (this.stepTimer) clearTimeout(this.stepTimer);
    const budget = script === 'install' ? this.budgets.installerStep : this.budgets.firstbootStep;
    this.stepTimer = setTimeout(() => {
      const who = script === 'install' ? 'installer' : 'first-boot';
      this.fault(new ConsoleFault('stalled', `${who} step [${n}/${total}] ${name} printed no progress for ${Math.round(budget / 1000)} s`));
    }, budget);
    this.stepTimer.unref?.();
  }

  private clearTimers(): void {
    if (this.phaseTimer) clearTimeout(this.phaseTimer);
    if (this.stepTimer) clearTimeout(this.stepTimer);
    this.phaseTimer = this.stepTimer = null;
  }

  private fault(f: ConsoleFault): void {
    if (this.failure) return;
    const away = this.portAway;
    if (away && SILENCE_CLASSES.has(f.failureClass)) {
      // silence is what a missing port looks like; say what really happened
      f = new ConsoleFault('port-lost', `serial port ${away.what} ${fmtSeconds(Date.now() - away.since)} ago and is not back (${f.message})`);
    }
    this.failure = f;
    this.clearTimers();
    this.clearReconnectTimer();
    const last = this.phases[this.phases.length - 1];
    if (last) {
      last.outcome = 'failed';
      last.durationMs = Date.now() - Date.parse(last.startedAt);
    }
    const step = this.steps[this.steps.length - 1];
    if (step && step.outcome === 'running') {
      step.outcome = 'failed';
      step.durationMs = Date.now() - Date.parse(step.startedAt);
    }
    this.expecter.fail(f);
    this.loginWaiter?.reject(f);
    this.loginWaiter = null;
  }

  private onLine(line: string): void {
    if (this.failure) return;
    if (PANIC_RE.test(line)) {
      this.fault(new ConsoleFault('kernel-panic', `kernel failure in phase ${this.phase}: ${line.trim()}`));
      return;
    }
    if (this.bootCounter.line(line)) {
      this.reboots = this.bootCounter.boots - 1;
      this.onBootBanner(line.trim());
      return;
    }
    const marker = parseMarker(line);
    if (marker) this.onMarker(marker);
  }

  private onBootBanner(line: string): void {
    switch (this.phase) {
      case 'waiting':
      case 'boot':
      case 'reboot':
        if (this.phase === 'waiting') this.enter('boot');
        this.bootsThisPhase++;
        if (this.bootsThisPhase >= REBOOT_LOOP_BOOTS) {
          this.fault(new ConsoleFault('reboot-loop', `the box booted ${this.bootsThisPhase} times in phase ${this.phase} without reaching the installer or a login prompt`));
        }
        return;
      case 'install-done':
        this.enter('reboot', line);
        this.bootsThisPhase = 1;
        return;
      case 'login':
        if (!this.loggedIn && !this.sawInstaller && this.steps.length === 0) {
          // --from login: the box was (re)booting when we came in; follow it
          this.enter('boot', line);
          this.bootsThisPhase = 1;
          return;
        }
        break;
      default:
        break;
    }
    this.fault(new ConsoleFault('unexpected-reboot', `the box rebooted during phase ${this.phase} ("${line}")`));
  }

  private stepRecord(script: 'install' | 'firstboot', n: number, total: number, name: string): void {
    const prev = this.steps[this.steps.length - 1];
    if (prev && prev.outcome === 'running') {
      prev.outcome = 'done';
      prev.durationMs = Date.now() - Date.parse(prev.startedAt);
    }
    this.steps.push({ script, n, total, name, startedAt: this.now(), durationMs: null, outcome: 'running' });
  }

  /** The scripts may print a line both to stdout and /dev/console; the second copy is not news. */
  private isRepeat(script: 'install' | 'firstboot', n: number): boolean {
    const last = this.steps[this.steps.length - 1];
    return !!last && last.script === script && last.n === n && last.outcome === 'running';
  }

  private onMarker(m: Marker): void {
    switch (m.kind) {
      case 'install-step':
        if (this.phase === 'installer' && this.isRepeat('install', m.n)) return;
        if (this.phase !== 'installer') {
          if (this.phase !== 'boot' && this.phase !== 'waiting' && this.phase !== 'login') return;
          this.sawInstaller = true;
          this.enter('installer');
        }
        this.stepRecord('install', m.n, m.total, m.name);
        this.startStepTimer('install', m.n, m.total, m.name);
        this.emit('progress', { phase: 'installer', step: { script: 'install', n: m.n, total: m.total, name: m.name } } satisfies ProgressEvent);
        return;
      case 'install-failed':
        this.fault(new ConsoleFault('installer-failed', `installer step [${m.n}/${m.total}] ${m.name} failed${m.reason ? `: ${m.reason}` : ''}`));
        return;
      case 'install-done':
        if (this.phase === 'install-done') return;
        this.stepRecord('install', 0, 0, 'done');
        this.steps[this.steps.length - 1].outcome = 'done';
        this.steps[this.steps.length - 1].durationMs = 0;
        this.enter('install-done', 'power off, remove the USB stick, power on');
        return;
      case 'firstboot-step':
        if (this.phase === 'first-boot' && this.isRepeat('firstboot', m.n)) return;
        if (this.phase !== 'first-boot') this.enter('first-boot');
        this.stepRecord('firstboot', m.n, m.total, m.name);
        this.startStepTimer('firstboot', m.n, m.total, m.name);
        this.emit('progress', { phase: 'first-boot', step: { script: 'firstboot', n: m.n, total: m.total, name: m.name } } satisfies ProgressEvent);
        return;
      case 'firstboot-ok': {
        const s = this.steps[this.steps.length - 1];
        if (s && s.script === 'firstboot' && s.n === m.n && s.outcome === 'running') {
          s.outcome = 'ok';
          s.durationMs = Date.now() - Date.parse(s.startedAt);
        }
        if (this.stepTimer) clearTimeout(this.stepTimer);
        // between steps the script is still bounded by the step budget
        this.startStepTimer('firstboot', m.n, m.total, `after step ${m.n}`);
        return;
      }
      case 'firstboot-failed': {
        const s = this.steps[this.steps.length - 1];
        const name = s && s.script === 'firstboot' && s.n === m.n ? s.name : `step ${m.n}`;
        this.fault(new ConsoleFault('firstboot-failed', `first-boot step [${m.n}/${m.total}] ${name} failed${m.reason ? `: ${m.reason}` : ''}`));
        return;
      }
      case 'firstboot-done':
        if (this.phase === 'login') return;
        this.manifestIdSeen = m.manifestId;
        this.enter('login', m.manifestId ? `manifest=${m.manifestId}` : undefined);
        // The prompt comes next, but a kernel message can follow it in the same read, so it is never the
        // current line: from here the shell driver finds or provokes the prompt itself, as in login mode.
        this.releaseLoginWaiter();
        return;
    }
  }

  private onText(): void {
    if (this.failure || !this.loginWaiter) return;
    if (!LOGIN_PROMPT_RE.test(this.expecter.currentLine)) return;
    if (this.phase === 'installer' || this.phase === 'install-done') return; // not the installed system yet
    if (this.phase !== 'login') this.enter('login');
    this.releaseLoginWaiter();
  }

  private releaseLoginWaiter(): void {
    const w = this.loginWaiter;
    this.loginWaiter = null;
    w?.resolve();
  }

  /**
   * Resolves when a login prompt shows up in a phase where one is expected (or at once in `login` mode,
   * where the shell driver provokes the prompt itself). Rejects with the first fault.
   */
  untilLoginPrompt(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise<void>((resolve, reject) => {
      this.loginWaiter = { resolve, reject };
      if (this.phase === 'login') {
        this.loginWaiter = null;
        resolve();
        return;
      }
      this.onText();
    });
  }

  /** The shell answered: from now on any boot banner is an unexpected reboot. */
  markLoggedIn(): void {
    this.loggedIn = true;
    this.enter('shell');
  }

  enterChecks(): void {
    this.enter('checks');
  }

  /** Ends the run: closes the last phase, stops timers. */
  finish(ok: boolean): void {
    this.clearTimers();
    this.clearReconnectTimer();
    const last = this.phases[this.phases.length - 1];
    if (last && last.outcome === 'running') {
      last.outcome = ok ? 'done' : 'failed';
      last.durationMs = Date.now() - Date.parse(last.startedAt);
    }
  }

  get failed(): ConsoleFault | null {
    return this.failure;
  }

  /** Fault from outside (shell login, command): recorded like the watchers' own. */
  recordFault(f: ConsoleFault): void {
    this.fault(f);
  }
}

function fmtSeconds(ms: number): string {
  return ms < 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms / 1000)} s`;
}
