import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from './free-port.js';
import { MgmtSwitch, type SwitchPorts } from './mgmt-switch.js';
import { Qmp } from './qmp.js';
import { UserError } from '../util/errors.js';

/**
 * The virtual OpenBlockS 600 under QEMU (TCG: KVM does not work on the machines this runs on):
 *
 *  - CPU:       one vCPU, as the board's single PowerPC 405EX core (see `cpus`);
 *  - flash ROM: Debian's kernel + the stand-in firmware initramfs, booted with -kernel/-initrd;
 *  - CF card:   a raw disk on the SATA (AHCI) controller, /dev/sda in the guest, as on the board;
 *  - stick:     a raw disk on USB (xHCI + usb-storage), /dev/sdb, pulled out with QMP device_del;
 *  - "flash":   a 64 KiB virtio disk where the stand-in flashcfg keeps the boot source;
 *  - serial:    ttyS0 on a pty (the console's port) with a log file of every byte;
 *  - network:   four NICs on two QEMU hubs and no host link:
 *               hub 0 = eth0 (appliance, client side) + eth2 (harness client);
 *               hub 1 = eth1 (appliance, real-server side) + eth3 (harness real servers);
 *               for an HA pair, each hub also gets a socket link on 127.0.0.1 to the same hub of the other
 *               board, so both boards' eth0 share one wire and both eth1 another;
 *  - admin LAN: QEMU user networking on hub 0 (see `mgmt`), restricted: the guest reaches nothing through
 *               it, and one forward from 127.0.0.1 reaches the guest's sshd on its eth0 address.
 * The machine starts paused; `cont` once the console has the pty open, so no early output is lost.
 */
export interface VobsMachineSpec {
  kernel: string;
  initrd: string;
  /** Extra kernel parameters after the console ones. */
  append?: string;
  cfImage: string;
  flashImage: string;
  stickImage?: string;
  /** Where the QMP socket and the serial log go. */
  runDir: string;
  memoryMiB?: number;
  /**
   * vCPUs; 1 unless a test asks for more. The OpenBlockS 600 has one core, and under TCG a second vCPU is a
   * host thread that the host may deschedule while the other vCPU spins waiting for it (an IPI, a lock):
   * with two boards (four vCPU threads) on a 2-core host that stalled the backup's boot past the
   * console's budget about once in 26 HA runs.
   */
  cpus?: number;
  /** Second board of a pair: its MAC addresses differ from the first's (52:54:00:0b:06+n:0i). */
  boardIndex?: number;
  /** Wires to another board: hub `hub` joined over TCP on 127.0.0.1:`port`, listening or connecting. */
  links?: BoardLink[];
  /** The admin's SSH path on eth0's wire (addresses from mgmt.ts); none when omitted. */
  mgmt?: MgmtLink;
}

export interface MgmtLink {
  /** eth0's subnet, a.b.c.d/nn: QEMU's user network takes the same one, as a host on that LAN */
  net: string;
  /** QEMU's own addresses on it (free in the site) */
  host: string;
  dns: string;
  dhcpStart: string;
  /** the guest's eth0 address */
  guest: string;
  /** the port on 127.0.0.1 forwarded to the guest's port 22 (0: VobsVm.start picks a free one) */
  hostPort: number;
  /** the UDP ports of the switch between eth0's wire and the user network (VobsVm.start opens it) */
  switchPorts?: SwitchPorts;
}

export interface BoardLink {
  hub: 0 | 1;
  port: number;
  mode: 'listen' | 'connect';
}

export const HUB_OF_NIC = [0, 1, 0, 1] as const;
/** QEMU's user network and its end of the switch to eth0's wire (mgmt-switch.ts). */
export const MGMT_HUB = 2;

export function macAddress(boardIndex: number, nic: number): string {
  return `52:54:00:0b:${(6 + boardIndex).toString(16).padStart(2, '0')}:0${nic}`;
}

export function qemuArgs(spec: VobsMachineSpec): string[] {
  const args = [
    '-accel', 'tcg',
    '-m', String(spec.memoryMiB ?? 1024),
    '-smp', String(spec.cpus ?? 1),
    '-nodefaults', '-display', 'none', '-no-user-config',
    '-S',
    '-qmp', `unix:${join(spec.runDir, 'qmp.sock')},server=on,wait=off`,
    '-chardev', `pty,id=serial0,logfile=${join(spec.runDir, 'serial.log')},logappend=on`,
    '-serial', 'chardev:serial0',
    '-kernel', spec.kernel,
    '-initrd', spec.initrd,
    '-append', `console=ttyS0,115200n8 panic=10 ${spec.append ?? ''}`.trim(),
    // CF card on SATA port 0.
    '-device', 'ahci,id=sata',
    '-drive', `if=none,id=cf,file=${spec.cfImage},format=raw,cache=unsafe`,
    '-device', 'ide-hd,drive=cf,bus=sata.0,id=cfdisk',
    // The board's flash (boot source).
    '-drive', `if=none,id=flash,file=${spec.flashImage},format=raw`,
    '-device', 'virtio-blk-pci,drive=flash,id=flashdev',
    '-device', 'qemu-xhci,id=usb',
  ];
  if (spec.stickImage) {
    args.push(
      '-drive', `if=none,id=stickdrive,file=${spec.stickImage},format=raw,readonly=on`,
      '-device', 'usb-storage,bus=usb.0,drive=stickdrive,id=stick',
    );
  }
  HUB_OF_NIC.forEach((hub, i) => {
    args.push(
      '-netdev', `hubport,id=nic${i},hubid=${hub}`,
      '-device', `virtio-net-pci,netdev=nic${i},mac=${macAddress(spec.boardIndex ?? 0, i)},addr=0x${(0x10 + i).toString(16)}`,
    );
  });
  if (spec.mgmt) {
    const m = spec.mgmt;
    const sw = m.switchPorts;
    if (!sw) throw new Error('qemuArgs: the management link needs its switch ports (VobsVm.start opens the switch)');
    // restrict=on: nothing the guest sends leaves QEMU (no NAT to the host or beyond); the forward still
    // works. ipv6=off: no router advertisements on the board's wire. dhcpstart: free in the site (the
    // default, net+15, may be taken or lie outside a small subnet); nothing on the wire asks for DHCP.
    // The user network sits on hub 2, joined to eth0's wire (hub 0) through mgmt-switch.ts, which passes
    // it only the frames addressed to it.
    args.push(
      '-netdev',
      `user,id=mgmt,restrict=on,ipv4=on,ipv6=off,net=${m.net},host=${m.host},dns=${m.dns},dhcpstart=${m.dhcpStart},` +
        `hostfwd=tcp:127.0.0.1:${m.hostPort}-${m.guest}:22`,
      '-netdev', `hubport,id=mgmtport,hubid=${MGMT_HUB},netdev=mgmt`,
      '-netdev', `socket,id=mgmtnet,udp=127.0.0.1:${sw.net.switchPort},localaddr=127.0.0.1:${sw.net.qemuPort}`,
      '-netdev', `hubport,id=mgmtnetport,hubid=${MGMT_HUB},netdev=mgmtnet`,
      '-netdev', `socket,id=mgmtwire,udp=127.0.0.1:${sw.wire.switchPort},localaddr=127.0.0.1:${sw.wire.qemuPort}`,
      '-netdev', 'hubport,id=mgmtwireport,hubid=0,netdev=mgmtwire',
    );
  }
  for (const link of spec.links ?? []) {
    // Loopback only: nothing leaves the host, and the listening board accepts its peer when it starts.
    args.push(
      '-netdev', `socket,id=link${link.hub},${link.mode}=127.0.0.1:${link.port}`,
      '-netdev', `hubport,id=linkport${link.hub},hubid=${link.hub},netdev=link${link.hub}`,
    );
  }
  return args;
}

export class VobsVm {
  readonly serialLog: string;
  pty = '';
  private child?: ChildProcess;
  private qmp?: Qmp;
  private exitPromise?: Promise<number | null>;
  private stderrClosed?: Promise<void>;
  private mgmtSwitch?: MgmtSwitch;
  /** Helpers that live as long as the board (a console server on its pty): stopped when it quits. */
  private companions: { stop(): Promise<void> }[] = [];
  private stderr = '';

  constructor(readonly spec: VobsMachineSpec) {
    this.serialLog = join(spec.runDir, 'serial.log');
  }

  /** The port on 127.0.0.1 forwarded to the guest's sshd, once started with a management link. */
  get sshPort(): number | undefined {
    return this.spec.mgmt?.hostPort;
  }

  /**
   * Spawn QEMU paused; resolves once the pty and the QMP socket are known. A forward port of 0 is chosen
   * here; when another process took it between the check and QEMU's bind, QEMU is started again on another.
   */
  async start(): Promise<void> {
    for (const f of [this.spec.kernel, this.spec.initrd, this.spec.cfImage, this.spec.flashImage]) {
      if (!existsSync(f)) throw new UserError(`${f}: missing (needed to start the virtual board)`, { code: 'input-invalid' });
    }
    const mgmt = this.spec.mgmt;
    const choosePort = mgmt?.hostPort === 0;
    for (let attempt = 1; ; attempt++) {
      if (mgmt) {
        this.mgmtSwitch = await MgmtSwitch.open([mgmt.host, mgmt.dns]);
        mgmt.switchPorts = this.mgmtSwitch.ports;
      }
      if (choosePort) mgmt!.hostPort = await freePort();
      try {
        return await this.spawnQemu();
      } catch (err) {
        if (this.running) throw err;
        this.mgmtSwitch?.close();
        this.mgmtSwitch = undefined;
        await this.stderrClosed; // its last words are read by then
        // Another process took a port between our check and QEMU's bind: try others.
        const portTaken = /host forwarding rule|hostfwd|Address already in use|Could not bind/i.test(this.stderr);
        if (!mgmt || !portTaken || attempt >= 3) throw err;
        this.stderr = '';
      }
    }
  }

  private async spawnQemu(): Promise<void> {
    const child = spawn('qemu-system-x86_64', qemuArgs(this.spec), { stdio: ['ignore', 'ignore', 'pipe'] });
    this.child = child;
    this.exitPromise = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    this.stderrClosed = new Promise((resolve) => child.once('close', () => resolve()));
    // The switch lives as long as this QEMU (its sockets would otherwise keep the process alive).
    const mgmtSwitch = this.mgmtSwitch;
    child.once('exit', () => mgmtSwitch?.close());
    const failed = new Promise<never>((_, reject) => {
      child.once('error', (err) =>
        reject(
          (err as NodeJS.ErrnoException).code === 'ENOENT'
            ? new UserError('qemu-system-x86_64 not found: install it (apt-get install qemu-system-x86)', { code: 'tool-failed', cause: err })
            : err,
        ),
      );
      child.once('exit', (code) =>
        reject(new UserError(`qemu-system-x86_64 exited (${code}) before the board was ready: ${this.lastStderr()}`, { code: 'tool-failed' })),
      );
    });
    failed.catch(() => undefined);
    child.stderr!.on('data', (b: Buffer) => {
      this.stderr = (this.stderr + b.toString()).slice(-16384);
    });
    this.qmp = await Promise.race([Qmp.connect(join(this.spec.runDir, 'qmp.sock')), failed]);
    // The pty QEMU allocated, as QMP reports it ("pty:/dev/pts/5").
    const chardevs = (await this.qmp.execute('query-chardev')) as { label: string; filename: string }[];
    const serial = chardevs.find((c) => c.label === 'serial0');
    if (!serial?.filename.startsWith('pty:')) throw new UserError(`QEMU did not give the serial port a pty (${serial?.filename})`, { code: 'tool-failed' });
    this.pty = serial.filename.slice(4);
  }

  lastStderr(): string {
    return this.stderr.trim().split('\n').filter((l) => !/hub \d+ is not connected|char device redirected/.test(l)).slice(-1)[0] ?? '';
  }

  /** Stopped by freeze() and not continued since. */
  frozen = false;

  /** Power on (leave the paused state), or resume a frozen board. */
  async cont(): Promise<void> {
    await this.qmp!.execute('cont');
    this.frozen = false;
  }

  /** Pull the install stick out (USB unplug; QEMU completes it before device_del returns). */
  async removeStick(): Promise<void> {
    await this.qmp!.execute('device_del', { id: 'stick' });
  }

  /** Power cycle: a hard reset, as the power switch does. */
  async reset(): Promise<void> {
    await this.qmp!.execute('system_reset');
  }

  /** The board dies on the spot: its CPUs stop and it sends nothing more (QMP stop). */
  async freeze(): Promise<void> {
    await this.qmp!.execute('stop');
    this.frozen = true;
  }

  async quit(): Promise<number | null> {
    if (!this.running) return this.child?.exitCode ?? null;
    try {
      await this.qmp?.execute('quit');
    } catch {
      // The connection closes as QEMU exits.
    }
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), 5000);
    const code = await this.exitPromise!;
    clearTimeout(timer);
    this.qmp?.close();
    this.mgmtSwitch?.close();
    this.mgmtSwitch = undefined;
    for (const c of this.companions.splice(0)) await c.stop().catch(() => undefined);
    return code;
  }

  /** Ties a helper's life to the board's: `quit()` stops it. */
  attach(companion: { stop(): Promise<void> }): void {
    this.companions.push(companion);
  }

  /** QEMU is still running (a frozen board counts: its process is alive). */
  get running(): boolean {
    return !!this.child && this.child.exitCode === null && this.child.signalCode === null;
  }

  get exited(): Promise<number | null> {
    return this.exitPromise ?? Promise.resolve(null);
  }
}
