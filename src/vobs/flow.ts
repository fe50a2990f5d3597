import { holdsOpen } from './holds-open.js';
import { serveOverSer2net, type ConsoleServerKind, type Ser2net } from './ser2net.js';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { loadSite, type LoadedSite } from '../site/load.js';
import { siteNodes, type NodeView } from '../site/nodes.js';
import { UserError } from '../util/errors.js';
import { CF_DEFAULT_BYTES, cfKernelMatches, createBlankDisk, FLASH_BYTES, readBootSource } from './disks.js';
import { mgmtAddresses } from './mgmt.js';
import { serveMirror } from './mirror.js';
import { VobsVm, type MgmtLink, type VobsMachineSpec } from './qemu.js';
import { boardFile } from './recipe.js';
import { logSize, waitForLog } from './serial-watch.js';
import { waitForSsh } from './ssh-ready.js';
import { ensureStandin, type StandinInputs } from './standin.js';

/**
 * `obsbuild vm` as steps a test can also drive: stand-in inputs → `obsbuild image` for the vobs site →
 * the virtual board boots the stick → `obsbuild console` follows the install → the runner plays the
 * operator (pull the stick, power-cycle) → the console follows the first boot and verifies.
 */

/** dist/src/vobs/flow.js → dist/src/cli.js */
export const CLI = new URL('../cli.js', import.meta.url).pathname;
export const DEFAULT_VOBS_SITE = boardFile('site.yaml');

/** A site file the virtual board can run: it must say `board: vobs` (the board's facts differ from the obs600's). */
export async function loadVobsSite(siteFile: string): Promise<LoadedSite> {
  const loaded = await loadSite(siteFile);
  if (loaded.site.board !== 'vobs') {
    throw new UserError(`${siteFile}: board is ${loaded.site.board}; obsbuild vm needs a site file with "board: vobs"`, { code: 'site-invalid' });
  }
  return loaded;
}

export type Log = (line: string) => void;

/** One board's output of `obsbuild image`: out/<hostname>/. */
export interface BuiltImage {
  siteFile: string;
  /** `single`, or `master`/`backup` of an HA pair (passed to `obsbuild console --node`). */
  role: NodeView['role'];
  hostname: string;
  hostDir: string;
  stickImage: string;
  manifest: string;
  seconds: number;
}

/** Run the obsbuild CLI as a child (the same commands a user types); resolves with its exit code. */
export function runCli(args: string[], opts: { stdio?: 'inherit' | 'pipe'; onOutput?: (s: string) => void } = {}) {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['inherit', opts.stdio ?? 'inherit', opts.stdio ?? 'inherit'] });
  if (opts.onOutput) {
    child.stdout?.on('data', (b: Buffer) => opts.onOutput!(b.toString()));
    child.stderr?.on('data', (b: Buffer) => opts.onOutput!(b.toString()));
  }
  const done = new Promise<number>((res, rej) => {
    child.once('error', rej);
    child.once('exit', (code, signal) => res(code ?? (signal ? 128 : 1)));
  });
  return { child, done };
}

/** `obsbuild image` for a vobs site: one BuiltImage per board (the single director, or master then backup). */
export async function buildVobsImage(opts: {
  siteFile?: string;
  outDir: string;
  standin: StandinInputs;
  log: Log;
  stdio?: 'inherit' | 'pipe';
}): Promise<BuiltImage[]> {
  const siteFile = resolve(opts.siteFile ?? DEFAULT_VOBS_SITE);
  const loaded = await loadVobsSite(siteFile);
  const t0 = performance.now();
  const mirror = await serveMirror(opts.standin.mirrorDir);
  // The download cache is keyed by the mirror's URL, and this one's port is new each run: a lasting cache
  // would only grow (7 MB a run) and never hit. One cache per build, removed with it.
  const cache = await mkdtemp(join(tmpdir(), 'obsbuild-vobs-mirror-cache-'));
  let out = '';
  try {
    opts.log(`image: obsbuild image --site ${siteFile} (packages from the local mirror ${mirror.url})`);
    const { done } = runCli(
      ['image', '--profile', 'lb', '--site', siteFile, '--inputs', opts.standin.inputsDir, '--mirror', mirror.url,
        '--out', opts.outDir, '--cache', cache, '--keyring', opts.standin.mirrorKeyring],
      { stdio: opts.stdio ?? 'inherit', onOutput: (s) => (out += s) },
    );
    const code = await done;
    if (code !== 0) throw new UserError(`obsbuild image failed (exit ${code})${out ? `: ${out.trim().split('\n').slice(-1)[0]}` : ''}`, { code: 'tool-failed' });
  } finally {
    await mirror.close();
    await rm(cache, { recursive: true, force: true });
  }
  const seconds = (performance.now() - t0) / 1000;
  return siteNodes(loaded.site).map(({ role, hostname }) => {
    const hostDir = join(resolve(opts.outDir), hostname);
    return { siteFile, role, hostname, hostDir, stickImage: join(hostDir, 'stick.img'), manifest: join(hostDir, 'manifest.json'), seconds };
  });
}

/**
 * `obsbuild console --from login` on a running board (the box is up: log in, depmod -a, the checks), as a
 * user runs it; its report goes to `json`, its transcript next to it. Resolves with the exit code.
 */
export async function verifyAtLogin(
  vm: VobsVm,
  image: BuiltImage,
  opts: { json: string; check: boolean; stdio?: 'inherit' | 'pipe'; port?: string },
): Promise<number> {
  const { done } = runCli(
    ['console', '--port', opts.port ?? vm.pty, '--from', 'login', '--site', image.siteFile, '--manifest', image.manifest, '--out', dirname(image.hostDir),
      ...(image.role === 'single' ? [] : ['--node', image.role]),
      '--json', opts.json, '--log', opts.json.replace(/\.json$/, '.log'), opts.check ? '--check' : '--interactive'],
    { stdio: opts.stdio ?? 'inherit' },
  );
  return done;
}

export interface BootOptions {
  image: BuiltImage;
  standin: StandinInputs;
  log: Log;
  /** --check: console prints only progress and the verdict; otherwise the live, interactive console. */
  check: boolean;
  /** Keep QEMU running after the console's verdict (the e2e test drives the guest further). */
  keepRunning?: boolean;
  consoleStdio?: 'inherit' | 'pipe';
  /** Passed on to obsbuild console (e.g. --budget). */
  consoleArgs?: string[];
  /** Give up on the whole boot after this long. */
  timeoutMs?: number;
  /** The second board of a pair, and its wires to the first. */
  machine?: Pick<VobsMachineSpec, 'boardIndex' | 'links'>;
  /** Follow the console through ser2net serving the board's pty on 127.0.0.1 (a lab's console server). */
  consoleServer?: ConsoleServerKind;
}

export interface BootResult {
  vm: VobsVm;
  runDir: string;
  consoleExitCode: number;
  consoleJson: string;
  consoleLog: string;
  /** Seconds from power-on. */
  marks: Record<string, number>;
  bootSource?: string;
  /** The kernel in the CF's uImage.initrd-cfboot is the one the board runs. */
  cfKernelMatches?: boolean;
  installFailed?: string;
  /** The port on 127.0.0.1 forwarded to the board's sshd (its eth0 address, port 22). */
  sshPort?: number;
  /** What `obsbuild console --port` takes for this board: its pty, or the console server's URL. */
  consolePort: string;
}

/** The board's SSH path on eth0's wire (mgmt.ts); the forward's port is chosen when QEMU starts. */
async function mgmtLink(image: BuiltImage): Promise<MgmtLink> {
  const site = (await loadSite(image.siteFile)).site;
  const index = siteNodes(site).findIndex((n) => n.role === image.role);
  return { ...mgmtAddresses(site)[Math.max(index, 0)], hostPort: 0 };
}

export async function bootAndVerify(opts: BootOptions): Promise<BootResult> {
  const runDir = join(opts.image.hostDir, 'vobs');
  await rm(runDir, { recursive: true, force: true });
  await mkdir(runDir, { recursive: true });
  const cf = join(runDir, 'cf.img');
  const flash = join(runDir, 'flash.img');
  await createBlankDisk(cf, CF_DEFAULT_BYTES);
  await createBlankDisk(flash, FLASH_BYTES);
  if (!existsSync(opts.image.stickImage)) throw new UserError(`${opts.image.stickImage}: missing; run obsbuild image first`, { code: 'input-invalid' });

  const vm = new VobsVm({
    kernel: opts.standin.firmwareKernel,
    initrd: opts.standin.firmwareInitrd,
    cfImage: cf,
    flashImage: flash,
    stickImage: opts.image.stickImage,
    runDir,
    mgmt: await mgmtLink(opts.image),
    ...opts.machine,
  });
  const consoleJson = join(runDir, 'console.json');
  const consoleLog = join(runDir, 'console.log');
  const marks: Record<string, number> = {};
  let t0 = 0;
  const mark = (name: string) => (marks[name] = Math.round((performance.now() - t0) / 100) / 10);

  await vm.start();
  opts.log(`board: powered off, serial console on ${vm.pty} (transcript ${vm.serialLog}), its sshd forwarded from 127.0.0.1:${vm.sshPort}`);
  let consolePort = vm.pty;
  let server: Ser2net | undefined;
  if (opts.consoleServer) {
    server = await serveOverSer2net(vm.pty, opts.consoleServer, runDir);
    vm.attach(server);
    consolePort = server.url;
    opts.log(`board: its serial console served by ser2net at ${consolePort}`);
  }
  const consoleRun = runCli(
    // --out: the build's own folder, where the console records the board's host keys for verify and apply
    ['console', '--port', consolePort, '--site', opts.image.siteFile, '--manifest', opts.image.manifest, '--out', dirname(opts.image.hostDir), '--json', consoleJson,
      '--log', consoleLog, opts.check ? '--check' : '--interactive',
      ...(opts.image.role === 'single' ? [] : ['--node', opts.image.role]), ...(opts.consoleArgs ?? [])],
    { stdio: opts.consoleStdio ?? 'inherit' },
  );
  let installFailed: string | undefined;
  let operatorDone = false;
  try {
    // Power on only once the console holds the line (through ser2net: once ser2net has opened the pty)
    if (server) await server.deviceOpen(10_000);
    else await holdsOpen(consoleRun.child.pid!, vm.pty, 10_000);
    t0 = performance.now();
    await vm.cont();
    opts.log('board: power on with the install stick');

    // The operator: when the install ends, pull the stick and power-cycle, as the guide says.
    const abort = new AbortController();
    const operator = (async () => {
      const start = await waitForLog(vm.serialLog, /obsbuild-install: \[1\//, { timeoutMs: opts.timeoutMs ?? 600_000, signal: abort.signal });
      mark('installer started');
      const end = await waitForLog(vm.serialLog, /obsbuild-install: (done|FAILED[^\r\n]*)/, {
        timeoutMs: opts.timeoutMs ?? 600_000,
        from: start.offset,
        signal: abort.signal,
      });
      mark('install ended');
      if (end.match[1] !== 'done') {
        installFailed = end.match[1];
        return;
      }
      // The installer unmounted the CF card; the LEDs blink. Power off, remove the stick, power on.
      await new Promise((r) => setTimeout(r, 1000));
      await vm.removeStick();
      await vm.reset();
      mark('power-cycled without the stick');
      const from = await logSize(vm.serialLog);
      await waitForLog(vm.serialLog, /login: /, { timeoutMs: opts.timeoutMs ?? 600_000, from, signal: abort.signal });
      mark('login prompt');
      operatorDone = true;
      // The first-boot script has made the board's own host keys and restarted sshd by the login prompt.
      if (vm.sshPort !== undefined && (await waitForSsh(vm.sshPort, { limitMs: 120_000, signal: abort.signal })) !== null) mark('ssh ready');
    })();
    operator.catch(() => undefined);

    const timeout = setTimeout(() => consoleRun.child.kill('SIGTERM'), opts.timeoutMs ?? 900_000);
    const consoleExitCode = await consoleRun.done;
    clearTimeout(timeout);
    mark('console verdict');
    abort.abort();
    await operator.catch(() => undefined);
    // The console may have given its verdict on a failed step before the operator's next look at the log.
    if (!operatorDone && !installFailed) {
      const failedLine = await waitForLog(vm.serialLog, /obsbuild-install: (FAILED[^\r\n]*)/, { timeoutMs: 0 }).catch(() => undefined);
      installFailed = failedLine?.match[1];
    }
    if (!operatorDone && !installFailed) opts.log('board: the install did not finish while the console watched');

    const result: BootResult = { vm, runDir, consoleExitCode, consoleJson, consoleLog, marks, installFailed, sshPort: vm.sshPort, consolePort };
    result.bootSource = await readBootSource(flash);
    if (operatorDone) {
      const kernel = await readFile(opts.standin.firmwareKernel);
      result.cfKernelMatches = await cfKernelMatches(cf, kernel).catch(() => false);
    }
    if (!opts.keepRunning) await vm.quit();
    return result;
  } catch (err) {
    consoleRun.child.kill('SIGTERM');
    await vm.quit();
    throw err;
  }
}

export { ensureStandin };
