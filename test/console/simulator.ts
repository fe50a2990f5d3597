/**
 * A board simulator for the console tests: a socat pty pair stands in for the USB serial adapter and the
 * cable; the test plays the OpenBlockS on one end (boot chatter, installer markers, reboot, first boot,
 * kernel messages over the login prompt, escape sequences, getty/login) and, after a successful login,
 * bridges a REAL busybox sh, chrooted into a temporary root whose PATH starts with stand-in
 * ipvsadm/depmod/modprobe/dpkg/hostname/ip/sysctl/pidof/dmesg scripts, to the line. Faults are scripted
 * the same way: silence, garbage, panic, reboot loop, stalled step, refused login, unplug and return.
 */
import { spawn, type ChildProcess, execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { tzif } from '../fixtures/inputs/make-standin-inputs.js';

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function waitFor(cond: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

export function ensureTool(cmd: string, pkg: string): void {
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    execFileSync('apt-get', ['install', '-y', '-q', pkg], { stdio: 'ignore' });
  }
}

/** socat pty pair: `consolePath` for obsbuild, `boardPath` for the simulated board. */
export class PtyPair {
  private proc: ChildProcess | null = null;
  constructor(
    readonly consolePath: string,
    readonly boardPath: string,
  ) {}

  async start(): Promise<void> {
    ensureTool('socat', 'socat');
    this.proc = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${this.consolePath}`, `pty,raw,echo=0,link=${this.boardPath}`], { stdio: 'ignore' });
    await waitFor(() => existsSync(this.consolePath) && existsSync(this.boardPath), 5000, 'socat ptys');
    await sleep(50);
  }

  async stop(): Promise<void> {
    const p = this.proc;
    this.proc = null;
    if (!p || p.exitCode !== null) return;
    const exited = once(p, 'exit');
    p.kill('SIGTERM');
    await exited;
  }
}

export interface BoxState {
  hostname: string;
  manifestId: string;
  ipAddr: string;
  ipvsadm: string;
  ipForward: number;
  keepalivedRunning: boolean;
  dpkgAudit: string;
  depmodExit: number;
  modprobeExit: number;
  /** Create /lib/modules/<running kernel> (false: the modules do not match the kernel). */
  modulesMatch: boolean;
  /** What /etc/timezone says; /etc/localtime is always a copy of the stand-in's Asia/Tokyo. */
  timezone: string;
}

export const GOOD_IPVSADM = `IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  192.168.253.120:80 wlc
  -> 172.16.14.121:80             Masq    1      0          0
  -> 172.16.14.122:80             Masq    1      0          0
  -> 172.16.14.123:80             Masq    1      0          0
`;

export const GOOD_IPADDR = `1: lo    inet 127.0.0.1/8 scope host lo
2: eth0    inet 192.168.253.254/24 brd 192.168.253.255 scope global eth0
2: eth0    inet 192.168.253.120/24 brd 192.168.253.255 scope global secondary eth0:120
3: eth1    inet 172.16.14.120/24 brd 172.16.14.255 scope global eth1
`;

export function goodBox(manifestId = 'm-0123456789ab'): BoxState {
  return {
    hostname: 'obs600',
    manifestId,
    ipAddr: GOOD_IPADDR,
    ipvsadm: GOOD_IPVSADM,
    ipForward: 1,
    keepalivedRunning: true,
    dpkgAudit: '',
    depmodExit: 0,
    modprobeExit: 0,
    modulesMatch: true,
    timezone: 'Asia/Tokyo',
  };
}

const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** A temporary root with static busybox and stand-in tools; chroot'ed into by the shell. */
export async function makeBoxRoot(dir: string, box: BoxState): Promise<string> {
  const root = join(dir, 'root');
  for (const d of ['bin', 'usr/local/sbin', 'etc/obsbuild', 'lib/modules', 'tmp', 'dev']) await mkdir(join(root, d), { recursive: true });
  await copyFile('/bin/busybox', join(root, 'bin/busybox'));
  for (const applet of ['sh', 'echo', 'cat', 'ls', 'uname', 'sleep', 'true', 'false', 'printf', 'grep', 'tr', 'head', 'tail', 'test', '[', 'env', 'cmp', 'date']) {
    await symlink('busybox', join(root, 'bin', applet));
  }
  await writeFile(join(root, 'dev/null'), '');
  execFileSync('sh', ['-c', `rm -f ${q(join(root, 'dev/null'))} && mknod -m 666 ${q(join(root, 'dev/null'))} c 1 3`]);
  if (box.modulesMatch) await mkdir(join(root, 'lib/modules', release()), { recursive: true });
  else await mkdir(join(root, 'lib/modules', '2.6.29-obs600-other'), { recursive: true });
  await writeFile(join(root, 'etc/obsbuild/manifest-id'), `${box.manifestId}\n`);
  await mkdir(join(root, 'usr/share/zoneinfo/Asia'), { recursive: true });
  await writeFile(join(root, 'usr/share/zoneinfo/Asia/Tokyo'), tzif('JST', 9 * 3600));
  await writeFile(join(root, 'etc/localtime'), tzif('JST', 9 * 3600));
  await writeFile(join(root, 'etc/timezone'), `${box.timezone}\n`);
  const tools: Record<string, string> = {
    ipvsadm: `cat <<'EOF'\n${box.ipvsadm}EOF\n`,
    depmod: `exit ${box.depmodExit}\n`,
    modprobe: box.modprobeExit ? `echo "FATAL: Module $1 not found." >&2\nexit ${box.modprobeExit}\n` : 'exit 0\n',
    dpkg: `[ "$1" = --audit ] || exit 2\nprintf '%s' ${q(box.dpkgAudit)}\n`,
    hostname: `echo ${q(box.hostname)}\n`,
    ip: `cat <<'EOF'\n${box.ipAddr}EOF\n`,
    sysctl: `echo "net.ipv4.ip_forward = ${box.ipForward}"\n`,
    pidof: box.keepalivedRunning ? `[ "$1" = keepalived ] && echo 1234 && exit 0\nexit 1\n` : 'exit 1\n',
    dmesg: 'exit 0\n',
    sync: 'exit 0\n',
  };
  for (const [name, body] of Object.entries(tools)) {
    const f = join(root, 'usr/local/sbin', name);
    await writeFile(f, `#!/bin/sh\n${body}`);
    await chmod(f, 0o755);
  }
  // Static busybox runs its own applets before PATH (standalone shell); functions come first, so the
  // stand-ins win, and the host's kernel (dmesg -n, modprobe) is never touched.
  await writeFile(join(root, 'etc/shrc'), Object.keys(tools).map((n) => `${n}() { /usr/local/sbin/${n} "$@"; }\n`).join(''));
  return root;
}

export const UBOOT_BANNER = 'U-Boot 1.3.4 (Nov 10 2009 - 16:31:16) OpenBlockS 600';
export const LINUX_BANNER = 'Linux version 2.6.29 (root@obs600) (gcc version 4.3.2 (Debian 4.3.2-1.1) ) #1 Tue Dec 1 2009';

/** The board end of the line. */
export class Board {
  private port: SerialPort | null = null;
  private input = '';
  private inputWaiter: (() => void) | null = null;
  private shell: ChildProcess | null = null;
  /** Bytes the board received (what obsbuild typed). */
  received = '';
  /** Time of the last board write, for latency measurements. */
  lastWriteAt = 0;
  private closed = false;

  constructor(private readonly path: string) {}

  async open(): Promise<void> {
    const port = new SerialPort({ path: this.path, baudRate: 115200, lock: false, autoOpen: false });
    await new Promise<void>((res, rej) => port.open((e) => (e ? rej(e) : res())));
    port.on('data', (b: Buffer) => this.onInput(b));
    port.on('error', () => {});
    port.on('close', () => {
      if (this.port === port) this.port = null;
    });
    this.port = port;
  }

  /** Closes for good (an unplug uses close() + open()). */
  async shutdown(): Promise<void> {
    this.closed = true;
    await this.close();
  }

  async close(): Promise<void> {
    this.stopShell();
    const p = this.port;
    this.port = null;
    if (p?.isOpen) await new Promise<void>((r) => p.close(() => r()));
  }

  private onInput(b: Buffer): void {
    const s = b.toString('latin1');
    this.received += s;
    if (this.shell?.stdin?.writable) {
      // tty line discipline: echo, CR → NL
      this.write(s.replace(/\r/g, '\r\n'));
      this.shell.stdin.write(s.replace(/\r/g, '\n'));
      return;
    }
    this.input += s;
    this.inputWaiter?.();
  }

  write(data: string | Buffer): void {
    this.lastWriteAt = Date.now();
    this.port?.write(data);
  }

  async say(lines: string[], delayMs = 5): Promise<void> {
    for (const l of lines) {
      this.write(`${l}\r\n`);
      if (delayMs) await sleep(delayMs);
    }
  }

  /** Reads one typed line (up to CR or LF); echoes it when `echo`. */
  async readLine(echo: boolean, timeoutMs = 20000): Promise<string> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      const m = /^([^\r\n]*)[\r\n]\n?/.exec(this.input);
      if (m) {
        this.input = this.input.slice(m[0].length);
        if (echo) this.write(`${m[1]}\r\n`);
        else this.write('\r\n');
        return m[1];
      }
      if (Date.now() > end || this.closed) throw new Error('board: nothing typed');
      await new Promise<void>((r) => {
        this.inputWaiter = r;
        setTimeout(r, 100);
      });
      this.inputWaiter = null;
    }
  }

  async boot(opts: { uboot?: boolean } = {}): Promise<void> {
    const lines = [
      ...(opts.uboot === false ? [] : [UBOOT_BANNER, 'CPU:   AMCC PowerPC 405EX Rev. C at 600 MHz', 'DRAM:  1 GB', 'Hit any key to stop autoboot:  0', '## Booting kernel from Legacy Image at 00400000 ...']),
      LINUX_BANNER,
      '[    0.000000] Using PowerPC 40x Platform machine description',
      '[    0.512345] \x1b[1mserial8250.0: ttyS0 at MMIO 0xef600200 (irq = 26) is a 16550A\x1b[0m',
      '[    1.100000] usb 1-1: new high speed USB device using ppc-of-ehci and address 2',
    ];
    await this.say(lines, 5);
  }

  async installer(total: number, opts: { failAt?: number; stallAt?: number; stepMs?: number } = {}): Promise<void> {
    const names = ['checking files', 'partitioning CF', 'making filesystems', 'extracting rootfs', 'installing kernel modules', 'applying overlay', 'registering packages', 'syncing'];
    await this.say(['obsbuild-install: starting (MD5SUMS ok)'], 0);
    for (let n = 1; n <= total; n++) {
      const name = names[(n - 1) % names.length];
      if (opts.failAt === n) {
        await this.say([`obsbuild-install: FAILED [${n}/${total}] ${name}: tar: short read`]);
        return;
      }
      await this.say([`obsbuild-install: [${n}/${total}] ${name}`]);
      if (opts.stallAt === n) return;
      await sleep(opts.stepMs ?? 20);
    }
    await this.say(['obsbuild-install: done', 'Please power off, remove the USB stick and power on.']);
  }

  async firstboot(manifestId: string, opts: { failAt?: number } = {}): Promise<void> {
    const steps = ['mounting filesystems', 'depmod -a', 'loading ip_vs', 'network', 'sysctl', 'keepalived', 'manifest'];
    const total = steps.length;
    for (let n = 1; n <= total; n++) {
      await this.say([`obsbuild-firstboot: [${n}/${total}] ${steps[n - 1]}`], 2);
      if (opts.failAt === n) {
        await this.say([`obsbuild-firstboot: [${n}/${total}] FAILED: exit status 1`]);
        return;
      }
      await this.say([`obsbuild-firstboot: [${n}/${total}] ok`], 2);
    }
    await this.say([`obsbuild-firstboot: done manifest=${manifestId}`]);
  }

  /**
   * getty + login: prompt, a kernel message right after it (as on a real console), the password
   * checked; on success a real sh bridged to the line. Returns false after `maxTries` refusals.
   */
  async login(opts: { hostname: string; password: string; root: string; kernelChatter?: boolean | 'same-chunk'; maxTries?: number }): Promise<boolean> {
    // The kernel speaks once, right after the first prompt, as a real box does; a prompt that getty
    // reprints on an empty line is not followed by it again (before, every reprint was, so a console that
    // missed the first prompt under load could never log in).
    let chattered = false;
    for (let tries = 0; tries < (opts.maxTries ?? 3); ) {
      const chatter = '[   12.345678] eth0: link up, 100Mbps, full-duplex\r\n';
      if (opts.kernelChatter === 'same-chunk' && !chattered) {
        // what a loaded console reads: prompt and message in one read, the prompt no longer the current line
        chattered = true;
        this.write(`\r\n${opts.hostname} login: ${chatter}`);
      } else {
        this.write(`\r\n${opts.hostname} login: `);
        if (opts.kernelChatter && !chattered) {
          chattered = true;
          await sleep(30);
          this.write(chatter);
        }
      }
      const user = await this.readLine(true);
      if (user === '') continue;
      this.write('Password: ');
      const pw = await this.readLine(false);
      tries++;
      await sleep(50);
      if (user !== 'root' || pw !== opts.password) {
        this.write('\r\nLogin incorrect\r\n');
        continue;
      }
      this.write('Linux obs600 2.6.29 #1 ppc\r\n\x1b[1;32mobsbuild\x1b[0m: LVS load balancer\r\n');
      this.startShell(opts.root);
      return true;
    }
    return false;
  }

  startShell(root: string): void {
    const sh = spawn('/usr/sbin/chroot', [root, '/bin/sh', '-c', 'exec 2>&1; exec /bin/sh -i'], {
      env: {
        PATH: '/usr/local/sbin:/bin',
        HOME: '/',
        ENV: '/etc/shrc',
        // bash's bracketed-paste switch before the prompt and busybox's cursor query after it
        PS1: '\x1b[?2004hroot@obs600:~# \x1b[6n',
      },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    sh.stdout!.on('data', (b: Buffer) => this.write(b.toString('latin1').replace(/\n/g, '\r\n')));
    sh.stdin!.on('error', () => {});
    sh.on('error', (e) => this.write(`sh: ${e.message}\r\n`));
    this.shell = sh;
  }

  stopShell(): void {
    if (this.shell && this.shell.exitCode === null) this.shell.kill('SIGKILL');
    this.shell = null;
  }
}

/** A simulated board on a fresh pty pair in a fresh temp dir. */
export class Sim {
  readonly pair: PtyPair;
  readonly board: Board;
  private constructor(readonly dir: string) {
    this.pair = new PtyPair(join(dir, 'ttyConsole'), join(dir, 'ttyBoard'));
    this.board = new Board(this.pair.boardPath);
  }

  static async start(): Promise<Sim> {
    const sim = new Sim(await mkdtemp(join(tmpdir(), 'obsbuild-sim-')));
    await sim.pair.start();
    await sim.board.open();
    return sim;
  }

  get consolePath(): string {
    return this.pair.consolePath;
  }

  /** The adapter is pulled for `ms` and comes back (a new pty behind the same name). */
  async unplug(ms: number): Promise<void> {
    await this.board.close();
    await this.pair.stop();
    await sleep(ms);
    await this.pair.start();
    await this.board.open();
  }

  async stop(): Promise<void> {
    await this.board.shutdown().catch(() => {});
    await this.pair.stop().catch(() => {});
    await rm(this.dir, { recursive: true, force: true });
  }
}
