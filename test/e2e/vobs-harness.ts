/**
 * What the virtual-board e2e files share: a work folder and the stand-in inputs per file, phase timings
 * printed for the report, and the reading of `obsbuild console`'s JSON verdict. Not a test file itself
 * (the e2e glob runs *.e2e.js only).
 */
import { after, before } from 'node:test';
import type { BoxShell } from '../../src/remote/box-shell.js';
import type { GuestShell } from '../../src/vobs/guest-shell.js';
import { UserError } from '../../src/util/errors.js';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readConsoleReport, type ConsoleReport } from '../../src/console/report.js';
import { runCli, verifyAtLogin, type BootResult, type BuiltImage } from '../../src/vobs/flow.js';
import type { VmReport } from '../../src/vobs/vm-run.js';
import { ensureStandin, type StandinInputs } from '../../src/vobs/standin.js';
import { chooseKeepalived, type KeepalivedChoice } from '../../src/vobs/keepalived-choice.js';
import { runVmKept, type VmSession } from '../../src/vobs/vm-run.js';

export interface VobsE2e {
  log(line: string): void;
  /** Runs `work`, records and prints its time under `name`. */
  timed<T>(name: string, work: () => Promise<T>): Promise<T>;
  timings: Record<string, number>;
  /** Set in before(): a fresh work folder and the (cached) stand-in inputs. */
  work: string;
  standin: StandinInputs;
  /** Which keepalived the stand-in serves: 1.1.15 when OBSBUILD_KEEPALIVED_115_SOURCE names its source. */
  keepalived: KeepalivedChoice;
}

/**
 * Registers before/after hooks for one e2e file. `cleanUp` runs first in after() (close shells, stop boards);
 * the work folder is removed unless OBSBUILD_E2E_KEEP=1, which keeps disks and serial logs for a look.
 */
export function vobsE2e(prefix: string, cleanUp: () => Promise<void>): VobsE2e {
  const e2e: VobsE2e = {
    log: (line) => process.stderr.write(`# ${prefix}: ${line}\n`),
    async timed(name, work) {
      const t0 = performance.now();
      try {
        return await work();
      } finally {
        e2e.timings[name] = Math.round((performance.now() - t0) / 100) / 10;
        e2e.log(`timing ${name}: ${e2e.timings[name]} s`);
      }
    },
    timings: {},
    work: '',
    standin: undefined as unknown as StandinInputs,
    keepalived: undefined as unknown as KeepalivedChoice,
  };
  before(async () => {
    e2e.work = await mkdtemp(join(tmpdir(), `obsbuild-${prefix}-e2e-`));
    e2e.keepalived = await chooseKeepalived(undefined);
    e2e.log(e2e.keepalived.notice);
    e2e.standin = await e2e.timed('stand-in inputs (cached after the first run)', () =>
      ensureStandin({ log: e2e.log, keepalived: e2e.keepalived }),
    );
  });
  after(async () => {
    await cleanUp();
    e2e.log(`timings: ${JSON.stringify(e2e.timings)}`);
    if (process.env.OBSBUILD_E2E_KEEP === '1') e2e.log(`kept ${e2e.work}`);
    else if (e2e.work) await rm(e2e.work, { recursive: true, force: true });
  });
  return e2e;
}

export { readConsoleReport };

/** A check that failed only because real servers are down (none exist until the traffic test makes them). */
export function onlyRealServersDown(c: { name: string; evidence: string }): boolean {
  return /^IPVS table/.test(c.name) && c.evidence.split(';').every((e) => /removed it|is down/.test(e));
}

/** Every check that did not pass, as "name: evidence". */
/**
 * The checks of settings a site may leave out (timezone:, ntp:, syslog:) SKIP when it does: not a problem. Any
 * other SKIP is one (a check that could not run).
 */
export function skippedAsUnset(c: { name: string; status?: string }): boolean {
  return c.status === 'skip' && /^(time zone is as the site file says|NTP daemon is running|syslog forwards to the site's log hosts)/.test(c.name);
}

export function notPassed(checks: ConsoleReport['checks'], allow: (c: ConsoleReport['checks'][number]) => boolean = () => false): string[] {
  return checks.filter((c) => c.status !== 'pass' && !skippedAsUnset(c) && !allow(c)).map((c) => `${c.name}: ${c.evidence}`);
}

export interface Verdict {
  exitCode: number;
  checks: ConsoleReport['checks'];
  failed: string[];
}

/** `obsbuild console --from login --check` on the running board, as a user would run it. */
export async function consoleVerdict(b: BootResult, img: BuiltImage): Promise<Verdict> {
  const json = join(b.runDir, `verdict-${Date.now()}.json`);
  const exitCode = await verifyAtLogin(b.vm, img, { json, check: true, stdio: 'pipe', port: b.consolePort });
  const { checks } = await readConsoleReport(json);
  return { exitCode, checks, failed: notPassed(checks) };
}

/**
 * `obsbuild vm --check --site SITE --json`, the command a user runs, in `work`; its exit code, its report and
 * the last lines it printed (shown when it failed).
 */
export async function runVmCheck(site: string, work: string, log: (line: string) => void, extra: string[] = []): Promise<{ exitCode: number; report: VmReport }> {
  const json = join(work, 'vm.json');
  let output = '';
  const { done } = runCli(['vm', '--check', '--site', site, '--out', join(work, 'out'), '--json', json, ...extra], {
    stdio: 'pipe',
    onOutput: (s) => (output = (output + s).slice(-20_000)),
  });
  const exitCode = await done;
  if (exitCode !== 0) {
    log(`obsbuild vm exited ${exitCode}; its last lines:\n# ${output.trim().split('\n').slice(-40).join('\n# ')}`);
    // The guest's own words before it stopped (a kernel trace's first lines say what kind: lockup, hung task...)
    for (const host of await readdir(join(work, 'out')).catch(() => [])) {
      const serial = await readFile(join(work, 'out', host, 'vobs', 'serial.log'), 'utf8').catch(() => '');
      if (serial) log(`${host} serial.log, last 120 lines:\n# ${serial.trimEnd().split('\n').slice(-120).join('\n# ')}`);
    }
  }
  const report = JSON.parse(await readFile(json, 'utf8').catch(() => 'null')) as VmReport | null;
  if (!report) throw new Error(`obsbuild vm wrote no report (exit ${exitCode}): ${output.trim().split('\n').slice(-5).join(' | ')}`);
  return { exitCode, report };
}

/**
 * `obsbuild vm --check --keep` in this process: the site installed, first-booted, its traffic sent and the
 * verdict given, and the board (or both of a pair) left running: `boards[i].sshPort` and `.pty` reach it.
 * The caller calls `powerOff()` (in its after hook). For tests that work on an installed box (verify, apply).
 */
export async function keptVobsBoards(e2e: VobsE2e, site: string, opts: { rootPassword?: string } = {}): Promise<VmSession> {
  return runVmKept({
    siteFile: site,
    outDir: join(e2e.work, 'out'),
    standin: e2e.standin,
    check: true,
    log: e2e.log,
    rootPassword: opts.rootPassword ?? 'root',
  });
}

/** Problems in a board's first verdict other than real servers being down (none exist yet then). */
export function firstVerdictProblems(board: VmReport['boards'][number]): string[] {
  const v = board.firstVerdict;
  // check-failed is a full verdict, judged check by check; any other failure means the checks never all ran
  if ((v.failure && v.failure.class !== 'check-failed') || v.checksRun < 8) {
    return [`${board.hostname}: no full verdict (${v.checksRun} checks): ${v.failure?.class ?? '?'}: ${v.failure?.message ?? ''}; last lines:\n# ${v.failure?.lastLines.join('\n# ') ?? ''}`];
  }
  return v.notPassed.filter((c) => !onlyRealServersDown(c) && !skippedAsUnset(c)).map((c) => `${board.hostname}: ${c.name}: ${c.evidence}`);
}

/** The test's own view of a board (commands, requests from its namespaces) over the product's SSH client. */
export function guestOverBoxShell(shell: BoxShell): GuestShell {
  const run = async (command: string, timeoutMs = 60_000) => {
    const started = Date.now();
    const r = await shell.run(command, { timeoutMs });
    return { command, exitCode: r.exitCode, output: r.stdout, durationMs: Date.now() - started };
  };
  return {
    run,
    async must(command, timeoutMs) {
      const r = await run(command, timeoutMs);
      if (r.exitCode !== 0) throw new UserError(`guest: \`${command}\` exited ${r.exitCode}: ${r.output.slice(-400)}`, { code: 'box-failed' });
      return r.output;
    },
    close: () => shell.close(),
  };
}
