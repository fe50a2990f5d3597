import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { startSpinner } from '../util/spinner.js';
import { action, exitCodeFor, handleInterrupts } from './action.js';
import { UsageError, UserError } from '../util/errors.js';
import { writeOutputFile } from '../util/output-path.js';
import { MAX_TIMER_MS } from '../console/expect.js';
import type { Site } from '../site/model.js';
import { baudProblem, consolePort, DEFAULT_BAUD } from '../console/port.js';
import { parseNetworkPort } from '../console/network-transport.js';
import { BUDGET_NAMES, DEFAULT_BUDGETS, PHASE_HELP, budgetProblem, type Budgets, type ProgressEvent } from '../console/phases.js';
import { FAILURE_CLASSES, type FailureClass } from '../console/faults.js';
import { checkOutputFiles, formatCheckLine, TRANSCRIPT_MAX_BYTES, TranscriptFile, type ConsoleReport } from '../console/report.js';
import { runConsole } from '../console/session.js';
import { loadSiteModel } from '../console/site.js';
import { SSH_HOST_KEYS_GLOB } from '../contracts/box-paths.js';

interface ConsoleCliOptions {
  port?: string;
  baud: string;
  site?: string;
  manifest?: string;
  node?: string;
  out: string;
  log?: string;
  json?: string;
  user: string;
  password?: string;
  from: string;
  interactive?: boolean;
  check?: boolean;
  budget?: string[];
  reconnect?: string | true;
}

/** `--reconnect` alone waits 5 minutes (a console server restart); `--reconnect N` waits N seconds. */
function reconnectMs(value: string | true): number {
  if (value === true) return 300_000;
  const s = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || !(s * 1000 <= MAX_TIMER_MS)) throw new UsageError(`--reconnect ${value}: expected a number of seconds (0 to ${MAX_TIMER_MS / 1000})`);
  return Math.round(s * 1000);
}

function helpText(): string {
  const phases = PHASE_HELP.map(([n, d]) => `  ${n.padEnd(14)} ${d}`).join('\n');
  const classes = (Object.entries(FAILURE_CLASSES) as [FailureClass, string][]).map(([n, d]) => `  ${n.padEnd(18)} ${d}`).join('\n');
  const budgets = Object.entries(BUDGET_NAMES)
    .map(([n, k]) => `${n}=${DEFAULT_BUDGETS[k] / 1000}`)
    .join(' ');
  return (
    `\nPhases (each with a budget; --budget NAME=SECONDS changes one, 0 < SECONDS <= ${Math.floor(MAX_TIMER_MS / 1000)}):\n${phases}\n` +
    `  default budgets: ${budgets}\n` +
    `  reconnect: how long the serial port may be away (unplugged) before the run fails with port-lost (0: at once)\n` +
    `\nFailure classes (in the report and the last line of output):\n${classes}\n` +
    `\nChecks after login: depmod -a, then sync (the box is often power-cycled next); uname -r matches\n` +
    `/lib/modules; modprobe ip_vs; /etc/obsbuild/manifest-id equals the manifest id; dpkg --audit is empty;\n` +
    `hostname, interface addresses and net.ipv4.ip_forward = 1 as the site file says; keepalived running;\n` +
    `ipvsadm -L -n shows every virtual server and real server.\n` +
    `\nSSH host keys: after login the box's ${SSH_HOST_KEYS_GLOB} are recorded in out/<hostname>/known_hosts as\n` +
    `"<hostname> <type> <key>" lines (each checked to be a host key; a box without sshd records nothing), so\n` +
    `verify --host and apply --host pin them (ssh's HostKeyAlias is the hostname). The report's hostKeysFile\n` +
    `says where, or null.\n` +
    `\nThe transcript (every byte, escape sequences kept, each line time-stamped, gaps marked) is written to\n` +
    `--log (default out/<hostname>/console-<time>.log; <log>.partial while running). It stops at ${TRANSCRIPT_MAX_BYTES / 2 ** 20} MiB\n` +
    `with a note and ends with the last lines seen. --port accepts a pty (socat, QEMU). Exit 0 only if every\n` +
    `check passed.\n` +
    `\nExamples:\n  obsbuild console                              follow install, reboot, first boot, then verify\n` +
    `  obsbuild console --from login --check         verify an installed box, print only the verdict\n` +
    `  obsbuild console --port /dev/ttyUSB1 --interactive   watch and type (Ctrl-] quits)\n`
  );
}

function parseBudgets(items: string[]): Budgets {
  const b: Budgets = { ...DEFAULT_BUDGETS };
  for (const item of items) {
    const eq = item.indexOf('=');
    const key = eq > 0 && Object.hasOwn(BUDGET_NAMES, item.slice(0, eq)) ? BUDGET_NAMES[item.slice(0, eq)] : undefined;
    if (!key) throw new UsageError(`--budget ${item}: expected NAME=SECONDS with NAME one of ${Object.keys(BUDGET_NAMES).join(', ')}`);
    const value = item.slice(eq + 1);
    // plain decimal seconds: Number() alone would also take '', '0x10', '1e3' and 'Infinity'
    if (!/^[+-]?\d+(?:\.\d+)?$/.test(value)) throw new UsageError(`--budget ${item}: SECONDS must be a number of seconds like 90 or 1.5`);
    const ms = Math.round(Number(value) * 1000);
    const problem = budgetProblem(key, ms);
    if (problem) throw new UsageError(`--budget ${item}: ${problem}`);
    b[key] = ms;
  }
  return b;
}

async function readManifestId(file: string): Promise<string> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    throw new UserError(`${file}: cannot read the manifest: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { code: 'input-invalid', cause: err });
  }
  let id: unknown;
  try {
    id = (JSON.parse(text) as { id?: unknown }).id;
  } catch (err) {
    throw new UserError(`${file}: not valid JSON`, { code: 'input-invalid', cause: err });
  }
  if (typeof id !== 'string' || !id) throw new UserError(`${file}: has no "id" field`, { code: 'input-invalid' });
  return id;
}

function bar(n: number, total: number, width = 20): string {
  const done = total > 0 ? Math.round((Math.min(n, total) / total) * width) : 0;
  return '#'.repeat(done) + '.'.repeat(width - done);
}

function mmss(ms: number): string {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function printVerdict(report: ConsoleReport, log: string | null): void {
  const err = process.stderr;
  if (report.checks.length) {
    err.write('\nobsbuild: checks\n');
    for (const c of report.checks) err.write(`${formatCheckLine(c)}\n`);
  }
  if (report.failure) {
    const f = report.failure;
    err.write(`\nobsbuild: last lines seen:\n${f.lastLines.slice(-10).map((l) => `  | ${l}`).join('\n')}\n`);
    err.write(`obsbuild: console: FAIL (${f.class}) in phase ${f.phase}: ${f.message}\n`);
  } else {
    err.write('obsbuild: console: PASS, every check passed\n');
  }
  if (log) err.write(`obsbuild: transcript: ${log}\n`);
}

export function register(program: Command): void {
  program
    .command('console')
    .description('follow the install and first boot on the serial console, log in, run depmod -a, verify the box against the site file and manifest')
    .option('--port <path|url>', 'serial port (default /dev/ttyUSB0 or the only USB serial adapter; a pty path works too), or a console server: rfc2217://host:port (line settings negotiated) or tcp://host:port (raw, e.g. ser2net)')
    .option('--reconnect [seconds]', 'keep following across a dropped port or console-server connection for up to this long (default with the flag: 300 s; without it: 10 s for a local port, none for a console server)')
    .option('--baud <rate>', 'baud rate, 8N1, no flow control', String(DEFAULT_BAUD))
    .option('--site <file>', 'site file the box is checked against (default ./obsbuild.yaml when present)')
    .option('--manifest <file>', 'manifest.json of the build being verified (default out/<hostname>/manifest.json when present)')
    .option('--node <role>', 'for an HA pair: master or backup (default: by the hostname the box reports)')
    .option('--out <dir>', 'output directory', 'out')
    .option('--log <file>', 'transcript file (default out/<hostname>/console-<time>.log)')
    .option('--json <file>', 'write the JSON report here')
    .option('--user <name>', 'login user', 'root')
    .option('--password <pw>', 'login password (default $OBSBUILD_ROOT_PASSWORD, else the stock "root")')
    .option('--from <phase>', 'start: follow from power-on; login: the box is installed, log in at once', 'start')
    .option('--interactive', 'pass the keyboard through to the box (Ctrl-] quits); stays open after the verdict')
    .option('--check', 'no live view, print only progress and the verdict')
    .option('--budget <name=seconds>', 'change one phase budget (repeatable)', (v: string, acc: string[] | undefined) => [...(acc ?? []), v])
    .addHelpText('after', helpText())
    .action(action(async (o: ConsoleCliOptions) => consoleCommand(o)));
}

async function consoleCommand(o: ConsoleCliOptions): Promise<number> {
  const baud = Number(o.baud);
  const baudIssue = baudProblem(baud);
  if (baudIssue) throw new UsageError(`--baud ${o.baud}: ${baudIssue}`);
  if (o.from !== 'start' && o.from !== 'login') throw new UsageError(`--from ${o.from}: expected start or login`);
  if (o.node !== undefined && o.node !== 'master' && o.node !== 'backup') throw new UsageError(`--node ${o.node}: expected master or backup`);
  const budgets = parseBudgets(o.budget ?? []);
  const network = o.port === undefined ? undefined : parseNetworkPort(o.port);
  if (o.reconnect !== undefined) budgets.reconnect = reconnectMs(o.reconnect);
  // A console server's dropped connection is reported at once unless the user asked to wait for it
  else if (network && !(o.budget ?? []).some((b) => b.startsWith('reconnect='))) budgets.reconnect = 0;

  let site: Site | null = null;
  const siteFile = o.site ?? (existsSync('obsbuild.yaml') ? 'obsbuild.yaml' : undefined);
  if (siteFile) site = await loadSiteModel(siteFile);
  const node = o.node as 'master' | 'backup' | undefined;
  const hostname = site ? (site.lvs.vrrp && node ? site.lvs.vrrp.nodes[node].hostname : site.hostname) : null;

  let manifestFile = o.manifest;
  if (!manifestFile && hostname && (!site?.lvs.vrrp || node)) {
    const guess = join(o.out, hostname, 'manifest.json');
    if (existsSync(guess)) manifestFile = guess;
  }
  const manifestId = manifestFile ? await readManifestId(manifestFile) : null;
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const logPath = o.log ?? join(o.out, hostname ?? 'console', `console-${stamp}.log`);
  await checkOutputFiles(logPath, o.json, [siteFile, manifestFile]);

  const { name: path, transport } = await consolePort(o.port, baud, (line) => process.stderr.write(`${o.check ? '' : '\n'}obsbuild: ${line}\n`));
  const password = o.password ?? process.env.OBSBUILD_ROOT_PASSWORD ?? 'root';
  const tfile = await TranscriptFile.create(logPath);

  const plain = (s: string) => process.stderr.write(`${o.check ? '' : '\n'}obsbuild: ${s}\n`);
  if (!site) plain('no site file (use --site): hostname, network and IPVS checks will be skipped, and the SSH host keys not recorded');
  if (!manifestId) plain('no manifest (use --manifest out/<hostname>/manifest.json): the manifest id check will be skipped');
  plain(`console on ${path} at ${baud} 8N1${o.interactive ? ' (Ctrl-] quits)' : ''}; transcript ${logPath}`);
  // With --check on a terminal, progress is one spinner line; otherwise plain lines (the live view owns stdout)
  const spinner = o.check ? await startSpinner('waiting for the box', process.stderr) : undefined;
  const say = (s: string) => {
    if (spinner) spinner.text = s;
    else plain(s);
  };

  const stepStart = new Map<string, number>();
  const onProgress = (e: ProgressEvent) => {
    if (e.step) {
      const key = `${e.step.script}${e.step.n}`;
      if (!stepStart.has(key)) stepStart.set(key, Date.now());
      const first = stepStart.get(`${e.step.script}1`) ?? Date.now();
      say(`${e.step.script} [${bar(e.step.n, e.step.total)}] ${e.step.n}/${e.step.total} ${e.step.name} (${mmss(Date.now() - first)})`);
    } else {
      say(`phase ${e.phase}${e.message ? `: ${clip(e.message, 100)}` : ''}`);
    }
  };

  let quit: (() => void) | null = null;
  const quitPromise = new Promise<void>((resolve) => (quit = resolve));
  // Ctrl-C or Ctrl-] before the verdict ends the run cleanly (transcript and report still written)
  const abort = new AbortController();
  // Only the first Ctrl-C: a second one (or SIGTERM) ends the process as usual.
  const releaseSigint = handleInterrupts((signal) => {
    if (signal !== 'SIGINT') return false;
    releaseSigint();
    abort.abort();
    quit?.();
    return true;
  });
  const stdin = process.stdin;
  if (o.interactive) {
    if (stdin.isTTY) stdin.setRawMode(true);
    stdin.on('data', (buf: Buffer) => {
      if (buf.includes(0x1d)) {
        abort.abort();
        quit?.();
        return;
      }
      transport.write(buf).catch(() => {});
    });
    stdin.resume();
  }

  let report: ConsoleReport;
  try {
    report = await runConsole({
      transport,
      portLabel: path,
      baudRate: baud,
      mode: o.from === 'login' ? 'login' : 'follow',
      user: o.user,
      password,
      budgets,
      site,
      manifestId,
      node,
      // the node's hostname names the known_hosts folder and the key alias; for a pair without --node, the box says which
      hostKeys: site ? { outDir: o.out, hostnames: site.lvs.vrrp && !node ? [site.lvs.vrrp.nodes.master.hostname, site.lvs.vrrp.nodes.backup.hostname] : [hostname!] } : undefined,
      transcript: tfile.transcript,
      live: o.check ? undefined : (buf) => process.stdout.write(buf),
      onProgress,
      onEvent: say,
      signal: abort.signal,
      beforeClose: o.interactive
        ? async () => {
            say('verdict below once you quit; the session stays open (Ctrl-] quits)');
            await quitPromise;
          }
        : undefined,
    });
  } finally {
    releaseSigint();
    spinner?.stop();
    if (o.interactive) {
      if (stdin.isTTY) stdin.setRawMode(false);
      stdin.pause();
    }
    await tfile.finish();
  }
  report.transcript = logPath;
  if (o.json) await writeOutputFile(o.json, '--json', JSON.stringify(report, null, 2) + '\n');
  printVerdict(report, logPath);
  return report.failure ? exitCodeFor(report.failure.code) : 0;
}

/** A board line quoted in a progress line (the boot banner runs to 200 characters), cut to fit. */
function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}
