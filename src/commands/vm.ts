import type { Command } from 'commander';
import { readFile } from 'node:fs/promises';
import { action } from './action.js';
import { join } from 'node:path';
import { loadSite } from '../site/load.js';
import type { Site } from '../site/model.js';
import { bootAndVerify, buildVobsImage, DEFAULT_VOBS_SITE, runCli } from '../vobs/flow.js';
import { openGuestShell } from '../vobs/guest-shell.js';
import { requests, setUpTrafficNetwork, trafficPlan, waitForIpvs } from '../vobs/traffic.js';
import { ensureStandin } from '../vobs/standin.js';

interface VmOptions {
  site?: string;
  out: string;
  check?: boolean;
  rebuildInputs?: boolean;
  inputsOnly?: boolean;
}

const HELP = `
The virtual board (vobs) is an x86_64 stand-in for the OpenBlockS 600 under QEMU (TCG, no KVM needed):
Debian's kernel and a busybox "stock firmware" in flash, a CF card on SATA (/dev/sda), the install stick on
USB, the serial console on a pty, and four NICs on two QEMU hubs with no link to the host's network.

Steps:
  1. stand-in inputs (once per machine, cached in $XDG_CACHE_HOME/obsbuild/vobs/): a bookworm rootfs made by
     mmdebstrap, Debian's kernel packed as uImage.initrd-cfboot by mkimage, its modules as kern.tgz, and a
     local Debian mirror with keepalived and ipvsadm, served on 127.0.0.1 while the image is built
  2. obsbuild image for the site file (default: the guide's network for vobs, ${DEFAULT_VOBS_SITE})
  3. power on with the stick: the firmware runs msf/msf_init.sh; obsbuild console follows the install
  4. pull the stick, power-cycle: the first boot, login, depmod -a and the checks (the real servers do not
     exist yet, so this first verdict may call them down)
  5. traffic: inside the guest, a client namespace on eth0's wire and real-server namespaces (busybox httpd)
     on eth1's wire (NAT) or on eth0's, set up with obsbuild realserver's files (DR, e.g. --site
     board/vobs/site-dr.yaml); requests to the virtual address must reach every real server
  6. the final verdict from obsbuild console with the real servers up; without --check the live console
     stays open (Ctrl-] quits and powers the board off). Exit 0 only if every check and the traffic pass.
Files go to <out>/<hostname>/vobs/: cf.img, flash.img, serial.log, console.log, console.json.
Needs: mmdebstrap, u-boot-tools, qemu-system-x86, cpio, dpkg-dev, e2fsprogs (apt-get install ...).
`;

export function register(program: Command): void {
  program
    .command('vm')
    .description('try the appliance on a virtual OpenBlockS 600 under QEMU: build, install from the stick, first boot, verify')
    .option('--site <file>', 'site file with "board: vobs" (default: the guide\'s network for vobs)')
    .option('--out <dir>', 'output directory', 'out')
    .option('--check', 'no live console: exit with the console\'s verdict (0 = every check passed)')
    .option('--rebuild-inputs', 'rebuild the cached stand-in inputs')
    .option('--inputs-only', 'only build (or show) the stand-in inputs')
    .addHelpText('after', HELP)
    .action(action(async (o: VmOptions) => vmCommand(o)));
}

async function vmCommand(o: VmOptions): Promise<number> {
  const log = (line: string) => process.stderr.write(`obsbuild: ${line}\n`);
  const standin = await ensureStandin({ rebuild: o.rebuildInputs, log });
  if (o.inputsOnly) {
    process.stdout.write(`${JSON.stringify({ ...standin }, null, 2)}\n`);
    return 0;
  }
  const boards = await buildVobsImage({ siteFile: o.site, outDir: o.out, standin, log });
  const image = boards[0];
  log(`image: built ${boards.map((n) => n.hostDir).join(' and ')} in ${image.seconds.toFixed(1)} s`);
  if (boards.length > 1) {
    log(`HA pair: booting the ${image.role} (${image.hostname}) alone; npm run test:e2e boots both and fails the master over`);
  }
  // Follow install and first boot. The real servers do not exist yet, so this first verdict may report them
  // down; they are started next and the final verdict is asked with them up.
  const boot = await bootAndVerify({ image, standin, log, check: true, keepRunning: true });
  try {
    if (boot.installFailed) {
      log(`board: the installer stopped: ${boot.installFailed}`);
      return boot.consoleExitCode || 1;
    }
    log(`board: boot source in flash: ${boot.bootSource ?? '(not set)'}`);
    if (boot.cfKernelMatches !== undefined) {
      log(`board: kernel in the CF card's uImage.initrd-cfboot ${boot.cfKernelMatches ? 'is' : 'is NOT'} the one the board runs`);
    }
    log(`timings (s from power-on): ${Object.entries(boot.marks).map(([k, v]) => `${k} ${v}`).join(', ')}`);
    await printPhases(boot.consoleJson, log);

    const loaded = await loadSite(image.siteFile);
    const traffic = await trafficCheck(boot.vm.pty, loaded.site, log);
    log('console: the final verdict, with the real servers up');
    const final = runCli(
      ['console', '--port', boot.vm.pty, '--from', 'login', '--site', image.siteFile, '--manifest', image.manifest,
        '--json', join(boot.runDir, 'verdict.json'), '--log', join(boot.runDir, 'verdict.log'),
        o.check ? '--check' : '--interactive'],
      { stdio: 'inherit' },
    );
    const code = await final.done;
    if (!traffic) log('traffic: FAIL (see above)');
    return code !== 0 ? code : traffic ? 0 : 1;
  } finally {
    await boot.vm.quit();
  }
}

async function printPhases(file: string, log: (l: string) => void): Promise<void> {
  try {
    const report = JSON.parse(await readFile(file, 'utf8')) as { phases?: { name: string; durationMs?: number }[] };
    if (report.phases) {
      log(`console phases: ${report.phases.map((p) => `${p.name} ${((p.durationMs ?? 0) / 1000).toFixed(1)} s`).join(', ')}`);
    }
  } catch {
    // no report: the console said why
  }
}

/** Real servers and a client inside the guest (see src/vobs/traffic.ts); true when all real servers answer. */
async function trafficCheck(pty: string, site: Site, log: (l: string) => void): Promise<boolean> {
  const plan = trafficPlan(site);
  const shell = await openGuestShell(pty, { password: process.env.OBSBUILD_ROOT_PASSWORD ?? 'root' });
  try {
    log(`traffic: client ${plan.clientAddress} (namespace client, eth2) and real servers ${plan.realServers.map((r) => r.address).join(', ')} (namespaces behind eth3)`);
    await setUpTrafficNetwork(shell, plan);
    const all = plan.realServers.map((r) => r.address);
    const up = await waitForIpvs(shell, plan, (l) => all.every((a) => l.includes(a)), 60);
    if (up === null) {
      log('traffic: keepalived did not put every real server in the IPVS table within 60 s');
      return false;
    }
    log(`traffic: health checks put all real servers in after ${up.toFixed(1)} s`);
    const answers = await requests(shell, plan, plan.realServers.length * 3);
    log(`traffic: ${answers.length} requests to ${plan.vip}:${plan.port} answered by ${answers.map((a) => a ?? 'FAILED').join(' ')}`);
    return answers.every((a) => a !== null) && plan.realServers.every((r) => answers.includes(r.name));
  } finally {
    await shell.close();
  }
}

