import type { ConsoleServerKind } from './ser2net.js';
import { join } from 'node:path';
import { readConsoleReport, type ConsoleReport } from '../console/report.js';
import { loadSite } from '../site/load.js';
import { bootAndVerify, buildVobsImage, verifyAtLogin, type BootResult, type BuiltImage, type Log } from './flow.js';
import { openGuestShell, type GuestShell } from './guest-shell.js';
import { floatingAddresses, ipv4Addresses, pairWiring, waitForAddresses } from './pair.js';
import { pollUntil } from './poll.js';
import type { VobsVm } from './qemu.js';
import type { StandinInputs } from './standin.js';
import { ipvsServiceStats, requests, setUpTrafficNetwork, trafficPlan, waitForIpvs, type TrafficPlan } from './traffic.js';
import type { IpvsServiceStats } from '../console/box-output.js';

/**
 * `obsbuild vm` end to end: build the site's image(s), install and first-boot the virtual board (or both
 * boards of an HA pair), send traffic through the virtual address, fail the master over, and ask the
 * console's final verdict. Everything it saw goes into a VmReport (`obsbuild vm --json`), which is also
 * what the end-to-end tests assert on: they run the same command a user runs.
 */

export interface BoardOutcome {
  hostname: string;
  role: BuiltImage['role'];
  runDir: string;
  installFailed?: string;
  /** The console's first verdict, right after the first boot (no real servers exist yet). */
  firstVerdict: { exitCode: number; checksRun: number; notPassed: { name: string; status: 'fail' | 'skip'; evidence: string }[]; failure: ConsoleReport['failure'] };
  bootSource?: string;
  cfKernelMatches?: boolean;
  /** Seconds from power-on. */
  marks: Record<string, number>;
  /** The port on 127.0.0.1 forwarded to the board's sshd (port 22 on its eth0 address). */
  sshPort?: number;
}

export interface TrafficOutcome {
  /** hostname of the board whose IPVS carried the requests */
  director: string;
  forwarding: TrafficPlan['forwarding'];
  /** seconds until keepalived's health checks listed every real server, null if they never did */
  healthChecksSeconds: number | null;
  /** which real server answered each request (null: no answer) */
  answers: (string | null)[];
  /** the virtual service's IPVS counters over the requests */
  ipvs?: { connections: number; inPackets: number; outPackets: number };
  passed: boolean;
}

export interface VmReport {
  site: string;
  boards: BoardOutcome[];
  traffic: TrafficOutcome[];
  /** HA pair: the floating addresses each node held before the master died (the master all, the backup none) */
  floatingBeforeFailover?: Record<string, string[]>;
  /** HA pair: seconds from freezing the master until the backup held every floating address; null: never */
  failoverSeconds?: number | null;
  finalVerdictExitCode?: number;
  exitCode: number;
}

export interface VmRunOptions {
  siteFile?: string;
  outDir: string;
  standin: StandinInputs;
  /** no live console at the end: the final verdict decides the exit code */
  check: boolean;
  log: Log;
  rootPassword: string;
  /** Follow each board's console through ser2net on 127.0.0.1 instead of its pty. */
  consoleServer?: ConsoleServerKind;
}

/** A board left running after the verdict (`obsbuild vm --keep`): how to reach it. */
export interface KeptBoard {
  hostname: string;
  role: BuiltImage['role'];
  image: BuiltImage;
  /** the serial console's pty */
  pty: string;
  /** 127.0.0.1:sshPort reaches its sshd */
  sshPort?: number;
  vm: VobsVm;
}

/** The run's outcome with its boards still up; `powerOff` ends them (a clean QEMU quit). */
export interface VmSession {
  report: VmReport;
  boards: KeptBoard[];
  powerOff(): Promise<void>;
}

/** `obsbuild vm`: the run, then every board powered off. */
export async function runVm(o: VmRunOptions): Promise<VmReport> {
  const session = await runVmKept(o);
  await session.powerOff();
  return session.report;
}

/**
 * `obsbuild vm --keep`, and what tests use to get an installed, verified board to work on: the run as
 * runVm does it, but the boards that are still running stay up until `powerOff`. On an exception they
 * are powered off before it is thrown.
 */
export async function runVmKept(o: VmRunOptions): Promise<VmSession> {
  const boards = await buildVobsImage({ siteFile: o.siteFile, outDir: o.outDir, standin: o.standin, log: o.log });
  o.log(`image: built ${boards.map((n) => n.hostDir).join(' and ')} in ${boards[0].seconds.toFixed(1)} s`);
  const report: VmReport = { site: boards[0].siteFile, boards: [], traffic: [], exitCode: 1 };
  const running: KeptBoard[] = [];
  const keep = (boot: BootResult, image: BuiltImage) =>
    running.push({ hostname: image.hostname, role: image.role, image, pty: boot.vm.pty, sshPort: boot.sshPort, vm: boot.vm });
  const powerOff = async () => {
    // backup before master, as the pair's runs always stopped them
    for (const b of [...running].reverse()) await b.vm.quit();
  };
  try {
    report.exitCode = boards.length > 1 ? await runPair(boards, report, o, keep) : await runSingle(boards[0], report, o, keep);
  } catch (err) {
    await powerOff();
    throw err;
  }
  // The pair's master was frozen to test the failover: a kept pair is two working boards again.
  for (const b of running) {
    if (b.vm.running && b.vm.frozen) {
      await b.vm.cont();
      o.log(`board: ${b.hostname} resumed (it was frozen for the failover test)`);
    }
  }
  return { report, boards: running.filter((b) => b.vm.running), powerOff };
}

type Keep = (boot: BootResult, image: BuiltImage) => void;

async function runSingle(image: BuiltImage, report: VmReport, o: VmRunOptions, keep: Keep): Promise<number> {
  // Follow install and first boot. The real servers do not exist yet, so this first verdict may report them
  // down; they are started next and the final verdict is asked with them up.
  const boot = await bootAndVerify({ image, standin: o.standin, log: o.log, check: true, keepRunning: true, consoleServer: o.consoleServer });
  keep(boot, image);
  if (!(await recordBoot(boot, image, report, o.log))) return boot.consoleExitCode || 1;
  const plan = trafficPlan((await loadSite(image.siteFile)).site);
  const shell = await openGuestShell(boot.vm.pty, { password: o.rootPassword });
  try {
    report.traffic.push(await sendTraffic({ guest: shell, director: shell, directorName: image.hostname, plan, log: o.log }));
  } finally {
    await shell.close();
  }
  return await finalVerdict(boot, image, report, o);
}

/** Both boards of an HA pair, traffic through the master, then the master dies and the backup takes over. */
async function runPair(boards: BuiltImage[], report: VmReport, o: VmRunOptions, keep: Keep): Promise<number> {
  const [masterImage, backupImage] = boards;
  const log = o.log;
  const wiring = await pairWiring();
  log(`HA pair: ${masterImage.hostname} (master) and ${backupImage.hostname} (backup); their eth0s and eth1s share virtual wires`);
  log(`${masterImage.hostname}: install and first boot`);
  const master = await bootAndVerify({ image: masterImage, standin: o.standin, log, check: true, keepRunning: true, consoleServer: o.consoleServer, machine: wiring.master });
  keep(master, masterImage);
  if (!(await recordBoot(master, masterImage, report, log))) return master.consoleExitCode || 1;
  log(`${backupImage.hostname}: install and first boot`);
  const backup = await bootAndVerify({ image: backupImage, standin: o.standin, log, check: true, keepRunning: true, consoleServer: o.consoleServer, machine: wiring.backup });
  keep(backup, backupImage);
  if (!(await recordBoot(backup, backupImage, report, log))) return backup.consoleExitCode || 1;

  const site = (await loadSite(masterImage.siteFile)).site;
  const plan = trafficPlan(site);
  const floating = floatingAddresses(site);
  const masterShell = await openGuestShell(master.vm.pty, { password: o.rootPassword });
  let backupShell: GuestShell | undefined;
  let ok = true;
  try {
    backupShell = await openGuestShell(backup.vm.pty, { password: o.rootPassword });
    const held = async (shell: GuestShell) => (await ipv4Addresses(shell)).filter((a) => floating.includes(a));
    report.floatingBeforeFailover = { [masterImage.hostname]: await held(masterShell), [backupImage.hostname]: await held(backupShell) };
    log(`VRRP: ${Object.entries(report.floatingBeforeFailover).map(([h, a]) => `${h} holds ${a.join(', ') || 'none'}`).join('; ')}`);
    if (report.floatingBeforeFailover[masterImage.hostname].length !== floating.length || report.floatingBeforeFailover[backupImage.hostname].length > 0) {
      log(`VRRP: FAIL, the master should hold ${floating.join(', ')} and the backup none`);
      ok = false;
    }
    // The client and the real servers live in the backup: they must outlive the master.
    log(`traffic: through the master ${masterImage.hostname}; client and real servers in namespaces inside ${backupImage.hostname}`);
    const viaMaster = await sendTraffic({ guest: backupShell, director: masterShell, directorName: masterImage.hostname, plan, log });
    report.traffic.push(viaMaster);
    const all = plan.realServers.map((r) => r.address);
    if ((await waitForIpvs(backupShell, plan, (l) => all.every((a) => l.includes(a)), 60)) === null) {
      log(`failover: ${backupImage.hostname}'s own health checks never listed every real server`);
      ok = false;
    }
    await masterShell.close();
    await master.vm.freeze();
    log(`failover: ${masterImage.hostname} frozen (a dead box); waiting for ${backupImage.hostname} to hold ${floating.join(', ')}`);
    report.failoverSeconds = await waitForAddresses(backupShell, floating, 30);
    if (report.failoverSeconds === null) {
      log(`failover: FAIL, ${backupImage.hostname} did not take the floating addresses within 30 s`);
      ok = false;
    } else {
      log(`failover: ${backupImage.hostname} holds them ${report.failoverSeconds.toFixed(1)} s after the master froze`);
      report.traffic.push(
        await sendTraffic({ guest: backupShell, director: backupShell, directorName: backupImage.hostname, plan, log, alreadySetUp: true }),
      );
    }
  } finally {
    await masterShell.close().catch(() => undefined);
    await backupShell?.close();
  }
  const code = await finalVerdict(backup, backupImage, report, o);
  return code !== 0 ? code : ok ? 0 : 1;
}

/** What the boot showed, into the report and the log; false when the installer stopped (the console said why). */
async function recordBoot(boot: BootResult, image: BuiltImage, report: VmReport, log: Log): Promise<boolean> {
  const consoleReport = await readReportIfAny(boot.consoleJson);
  report.boards.push({
    hostname: image.hostname,
    role: image.role,
    runDir: boot.runDir,
    installFailed: boot.installFailed,
    firstVerdict: {
      exitCode: boot.consoleExitCode,
      checksRun: consoleReport?.checks.length ?? 0,
      notPassed: (consoleReport?.checks ?? []).flatMap((c) => (c.status === 'pass' ? [] : [{ name: c.name, status: c.status, evidence: c.evidence }])),
      failure: consoleReport?.failure ?? null,
    },
    bootSource: boot.bootSource,
    cfKernelMatches: boot.cfKernelMatches,
    marks: boot.marks,
    sshPort: boot.sshPort,
  });
  if (boot.installFailed) {
    log(`board: the installer stopped: ${boot.installFailed}`);
    return false;
  }
  // check-failed is a verdict (real servers may be down: none exist yet); any other failure means the board
  // never got to its shell, and nothing after this could log in.
  const failure = consoleReport?.failure;
  if (!consoleReport || (failure && failure.class !== 'check-failed')) {
    log(`board: ${image.hostname} gave no verdict (${failure ? `${failure.class}: ${failure.message}` : 'no console report'}); stopping here`);
    return false;
  }
  log(`board: boot source in flash: ${boot.bootSource ?? '(not set)'}`);
  if (boot.cfKernelMatches !== undefined) {
    log(`board: kernel in the CF card's uImage.initrd-cfboot ${boot.cfKernelMatches ? 'is' : 'is NOT'} the one the board runs`);
  }
  log(`timings (s from power-on): ${Object.entries(boot.marks).map(([k, v]) => `${k} ${v}`).join(', ')}`);
  if (consoleReport?.phases) {
    log(`console phases: ${consoleReport.phases.map((p) => `${p.name} ${((p.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ')}`);
  }
  return true;
}

async function readReportIfAny(file: string): Promise<ConsoleReport | undefined> {
  return readConsoleReport(file).catch(() => undefined); // no report: the console said why
}

/** The console's verdict with the real servers up: --check exits with it, otherwise the live console. */
async function finalVerdict(boot: BootResult, image: BuiltImage, report: VmReport, o: VmRunOptions): Promise<number> {
  o.log(`console: the final verdict on ${image.hostname}, with the real servers up`);
  if (!boot.vm.running) {
    o.log(`board: ${image.hostname}'s QEMU has exited: ${boot.vm.lastStderr() || 'it said nothing'}`);
    return 1;
  }
  report.finalVerdictExitCode = await verifyAtLogin(boot.vm, image, { json: join(boot.runDir, 'verdict.json'), check: o.check, port: boot.consolePort });
  const trafficOk = report.traffic.length > 0 && report.traffic.every((t) => t.passed);
  if (!trafficOk) o.log('traffic: FAIL (see above)');
  return report.finalVerdictExitCode !== 0 ? report.finalVerdictExitCode : trafficOk ? 0 : 1;
}

/** The kernel folds its per-CPU counters into what ipvsadm shows every 2 s: wait until `n` more connections show. */
async function settledStats(shell: GuestShell, plan: TrafficPlan, before: IpvsServiceStats, n: number): Promise<IpvsServiceStats | undefined> {
  const counted = (now: IpvsServiceStats | undefined) => !now || now.connections - before.connections >= n;
  return (await pollUntil(() => ipvsServiceStats(shell, plan), counted, { limitS: 10, everyMs: 500 })).answer;
}

/**
 * Real servers and a client in namespaces inside `guest` (see traffic.ts), the load balancer on `director`
 * (the same board for a single director). Passes when every request is answered and every real server
 * answers; with DR also when the director sent no reply packet (replies go straight to the client).
 */
async function sendTraffic(opts: {
  guest: GuestShell;
  director: GuestShell;
  directorName: string;
  plan: TrafficPlan;
  log: Log;
  alreadySetUp?: boolean;
}): Promise<TrafficOutcome> {
  const { guest, director, plan, log } = opts;
  const outcome: TrafficOutcome = { director: opts.directorName, forwarding: plan.forwarding, healthChecksSeconds: null, answers: [], passed: false };
  if (!opts.alreadySetUp) {
    log(`traffic: client ${plan.clientAddress} and real servers ${plan.realServers.map((r) => r.address).join(', ')} (${plan.forwarding.toUpperCase()}) in namespaces`);
    await setUpTrafficNetwork(guest, plan);
  }
  const all = plan.realServers.map((r) => r.address);
  outcome.healthChecksSeconds = await waitForIpvs(director, plan, (l) => all.every((a) => l.includes(a)), 60);
  if (outcome.healthChecksSeconds === null) {
    log('traffic: keepalived did not put every real server in the IPVS table within 60 s');
    return outcome;
  }
  log(`traffic: health checks list all real servers (${outcome.healthChecksSeconds.toFixed(1)} s)`);
  const before = await ipvsServiceStats(director, plan);
  const n = plan.realServers.length * 3;
  outcome.answers = await requests(guest, plan, n);
  const after = before ? await settledStats(director, plan, before, n) : undefined;
  if (before && after) {
    outcome.ipvs = {
      connections: after.connections - before.connections,
      inPackets: after.inPackets - before.inPackets,
      outPackets: after.outPackets - before.outPackets,
    };
  }
  log(
    `traffic: ${n} requests to ${plan.vip}:${plan.port} via ${opts.directorName} answered by ${outcome.answers.map((a) => a ?? 'FAILED').join(' ')}` +
      (outcome.ipvs ? `; IPVS saw ${outcome.ipvs.connections} connections, ${outcome.ipvs.inPackets} packets in, ${outcome.ipvs.outPackets} out` : ''),
  );
  outcome.passed = outcome.answers.every((a) => a !== null) && plan.realServers.every((r) => outcome.answers.includes(r.name));
  if (plan.forwarding === 'dr') {
    const bypassed = outcome.ipvs !== undefined && outcome.ipvs.connections >= n && outcome.ipvs.outPackets === 0;
    if (!bypassed) log('traffic: FAIL, with DR every request must pass IPVS and no reply may pass the director');
    outcome.passed &&= bypassed;
  }
  return outcome;
}
