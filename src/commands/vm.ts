import type { Command } from 'commander';
import { Option } from 'commander';
import { action, handleInterrupts } from './action.js';
import { DEFAULT_VOBS_SITE, loadVobsSite } from '../vobs/flow.js';
import { ensureStandin } from '../vobs/standin.js';
import { chooseKeepalived } from '../vobs/keepalived-choice.js';
import { runVmKept, type KeptBoard } from '../vobs/vm-run.js';
import { isOnPath } from '../util/run-tool.js';
import { UserError } from '../util/errors.js';
import { checkOutputParent, checkOutputPath, writeOutputFile } from '../util/output-path.js';

interface VmOptions {
  consoleServer?: 'rfc2217' | 'tcp';
  site?: string;
  out: string;
  check?: boolean;
  rebuildInputs?: boolean;
  inputsOnly?: boolean;
  json?: string;
  keep?: boolean;
  keepalived?: string;
}

const HELP = `
The virtual board (vobs) is an x86_64 stand-in for the OpenBlockS 600 under QEMU (TCG, no KVM needed):
Debian's kernel and a busybox "stock firmware" in flash, a CF card on SATA (/dev/sda), the install stick on
USB, the serial console on a pty, and four NICs on two QEMU hubs with no link to the host's network.

Steps:
  1. stand-in inputs (once per machine, cached in $XDG_CACHE_HOME/obsbuild/vobs/): a bookworm rootfs made by
     mmdebstrap, Debian's kernel packed as uImage.initrd-cfboot by mkimage, its modules as kern.tgz, and a
     local Debian mirror with keepalived and ipvsadm, served on 127.0.0.1 while the image is built.
     keepalived is 1.1.15, the box's, built from its source when OBSBUILD_KEEPALIVED_115_SOURCE names
     keepalived-1.1.15.tar.gz, else Debian's 2.x; --keepalived 1.1.15|debian chooses (each is cached apart)
  2. obsbuild image for the site file (default: the guide's network for vobs, ${DEFAULT_VOBS_SITE})
  3. power on with the stick: the firmware runs msf/msf_init.sh; obsbuild console follows the install
  4. pull the stick, power-cycle: the first boot, login, depmod -a and the checks (the real servers do not
     exist yet, so this first verdict may call them down)
  5. traffic: inside the guest, a client namespace on eth0's wire and real-server namespaces (busybox httpd)
     on eth1's wire (NAT) or on eth0's, set up with obsbuild realserver's files (DR, e.g. --site
     board/vobs/site-dr.yaml); requests to the virtual address must reach every real server, and with DR
     the director must send no reply packet (IPVS counters)
  6. the final verdict from obsbuild console with the real servers up; without --check the live console
     stays open (Ctrl-] quits and powers the board off). Exit 0 only if every check and the traffic pass.
An HA pair (lvs.vrrp, e.g. --site board/vobs/site-ha.yaml) boots two boards whose eth0s and eth1s share
virtual wires (QEMU socket links on 127.0.0.1): each installs from its own stick and is verified with
obsbuild console --node master|backup; the client and real servers run inside the backup, traffic goes
through the master, then the master is frozen and the backup must take the floating addresses within 30 s
and carry the traffic. The final verdict is the backup's.
Each board's sshd (offering only what lenny's OpenSSH 5.1 offers) is reachable from this host alone: QEMU
forwards a free port on 127.0.0.1 to port 22 of the board's eth0 address, over a restricted user network on
eth0's wire (the guest reaches nothing through it). --keep leaves the board(s) running after the verdict and
prints "obsbuild: board ready: serial=PTY ssh=127.0.0.1:PORT" per board (with the hostname for a pair) on
standard error; Ctrl-C (SIGINT or SIGTERM) powers them off, and the exit code is still the verdict's.
Files go to <out>/<hostname>/vobs/: cf.img, flash.img, serial.log, console.log, console.json; --json FILE
writes what the run saw (boards, first verdicts, traffic, IPVS counters, failover time, final verdict).
Needs: mmdebstrap, u-boot-tools, qemu-system-x86, cpio, dpkg-dev, e2fsprogs (apt-get install ...); ser2net
for --console-server.
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
    .option('--json <file>', 'write the run\'s report (boards, traffic, failover, verdicts, ssh ports) as JSON')
    .option('--keep', 'keep the board(s) running after the verdict, reachable on the serial pty and 127.0.0.1 ssh, until Ctrl-C')
    .addOption(new Option('--console-server <kind>', 'follow the console through ser2net serving the board\'s pty on 127.0.0.1: rfc2217 or tcp (rehearses a lab console server)').choices(['rfc2217', 'tcp']))
    .option('--keepalived <version>', 'keepalived on the board: 1.1.15 (built from OBSBUILD_KEEPALIVED_115_SOURCE; the default when set) or debian')
    .addHelpText('after', HELP)
    .action(action(async (o: VmOptions) => vmCommand(o)));
}

async function vmCommand(o: VmOptions): Promise<number> {
  const log = (line: string) => process.stderr.write(`obsbuild: ${line}\n`);
  // Checked before the stand-in inputs and the boards, which take many minutes.
  if (!o.inputsOnly) await checkOutputParent(o.out, '--out');
  if (o.json && !o.inputsOnly) await checkOutputPath(o.json, { argument: '--json', kind: 'file' });
  if (o.site !== undefined && !o.inputsOnly) await loadVobsSite(o.site); // its errors too, before the long part
  if (o.consoleServer && !o.inputsOnly && !isOnPath('ser2net')) {
    throw new UserError('--console-server needs ser2net, which is not installed (apt-get install ser2net)', { code: 'tool-failed' });
  }
  const keepalived = await chooseKeepalived(o.keepalived);
  log(keepalived.notice);
  const standin = await ensureStandin({ rebuild: o.rebuildInputs, log, keepalived });
  if (o.inputsOnly) {
    process.stdout.write(`${JSON.stringify({ ...standin }, null, 2)}\n`);
    return 0;
  }
  const session = await runVmKept({
    siteFile: o.site,
    outDir: o.out,
    standin,
    check: o.check === true,
    log,
    rootPassword: process.env.OBSBUILD_ROOT_PASSWORD ?? 'root',
    consoleServer: o.consoleServer,
  });
  const { report } = session;
  try {
    if (o.json) {
      await writeOutputFile(o.json, '--json', `${JSON.stringify(report, null, 2)}\n`);
      log(`report: ${o.json}`);
    }
    if (o.keep) await keepUntilSignal(session.boards, report.exitCode, log);
  } finally {
    await session.powerOff();
  }
  return report.exitCode;
}

/** The lines a user or a script reads to reach a kept board; one per board. */
export function boardReadyLine(b: Pick<KeptBoard, 'hostname' | 'pty' | 'sshPort'>, pair: boolean): string {
  return `board ready: ${pair ? `${b.hostname} ` : ''}serial=${b.pty} ssh=${b.sshPort === undefined ? 'none' : `127.0.0.1:${b.sshPort}`}`;
}

/** --keep: say how to reach the boards, then wait for Ctrl-C (or SIGTERM, or every board's QEMU exiting). */
async function keepUntilSignal(boards: KeptBoard[], verdict: number, log: (line: string) => void): Promise<void> {
  if (boards.length === 0) {
    log('--keep: no board is running any more');
    return;
  }
  for (const b of boards) log(boardReadyLine(b, boards.length > 1));
  const b0 = boards[0];
  log(`reach it: ssh -o HostKeyAlgorithms=+ssh-rsa -o PubkeyAcceptedAlgorithms=+ssh-rsa -p ${b0.sshPort} root@127.0.0.1 ` +
    `(a key from the site file's root.authorized_keys, or the root password), or obsbuild verify|apply --host root@127.0.0.1:${b0.sshPort}; ` +
    `the serial console: obsbuild console --port ${b0.pty} --from login`);
  log(`the verdict was exit ${verdict}; Ctrl-C powers the board${boards.length > 1 ? 's' : ''} off`);
  let onSignal: () => void = () => undefined;
  const signalled = new Promise<void>((resolve) => (onSignal = resolve));
  // The command takes the signal (the boards are powered off below, and the verdict stays the exit code)
  const release = handleInterrupts(() => {
    onSignal();
    return true;
  });
  try {
    await Promise.race([signalled, Promise.all(boards.map((b) => b.vm.exited))]);
  } finally {
    release();
  }
  log(`powering off ${boards.map((b) => b.hostname).join(' and ')}`);
}
