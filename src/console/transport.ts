/**
 * The serial transport: opens the port with `serialport` (115200 8N1, no flow control by default),
 * forwards bytes, and survives the adapter going away. node-serialport has no reconnect, and on unplug the
 * native reader can spin on zero-byte reads without ever emitting 'close' (bindings-cpp #162), so a
 * watchdog also checks that the device node still exists and is still the same device; when it is gone
 * the port is dropped and reopened once the path returns, and the gap is reported.
 */
import { EventEmitter } from 'node:events';
import { constants, promises as fsp, accessSync, existsSync, readdirSync, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { SerialPort } from 'serialport';
import { UserError } from '../util/errors.js';
import { isOnPath } from '../util/run-tool.js';

export interface Gap {
  from: Date;
  to: Date;
  ms: number;
}

/** What the console needs from a byte pipe; the serial port is one, a test double may be another. */
export interface ConsoleTransport extends EventEmitter {
  /** Emits 'data' (Buffer), 'down' (reason: string), 'up' (Gap), 'error' never (errors become 'down'). */
  open(): Promise<void>;
  write(data: string | Buffer): Promise<void>;
  close(): Promise<void>;
  readonly connected: boolean;
}

export interface SerialTransportOptions {
  path: string;
  baudRate: number;
  /** How often the watchdog checks the device node and retries a reopen. */
  pollMs?: number;
}

interface DeviceId {
  dev: number;
  rdev: number;
  ino: number;
}

async function deviceId(path: string): Promise<DeviceId | null> {
  try {
    const st = await fsp.stat(path);
    return { dev: st.dev, rdev: st.rdev, ino: st.ino };
  } catch {
    return null;
  }
}

export class SerialTransport extends EventEmitter implements ConsoleTransport {
  private port: SerialPort | null = null;
  private openedId: DeviceId | null = null;
  private downSince: Date | null = null;
  private timer: NodeJS.Timeout | null = null;
  private closing = false;
  private reopening = false;
  private readonly pollMs: number;

  constructor(private readonly opts: SerialTransportOptions) {
    super();
    this.pollMs = opts.pollMs ?? 250;
  }

  get connected(): boolean {
    return this.port !== null && this.downSince === null;
  }

  async open(): Promise<void> {
    try {
      await this.openPort();
    } catch (err) {
      // node-serialport puts "Error: " in front of its own messages; the line says what failed already
      const why = (err as Error).message.replace(/^Error: /, '');
      throw new UserError(`${this.opts.path}: cannot open the serial port: ${why}`, { code: 'console-failed', cause: err });
    }
    this.timer = setInterval(() => void this.watchdog(), this.pollMs);
  }

  private async openPort(): Promise<void> {
    const id = await deviceId(this.opts.path);
    if (!id) throw new Error('no such device');
    const port = new SerialPort({
      path: this.opts.path,
      baudRate: this.opts.baudRate,
      dataBits: 8,
      parity: 'none',
      stopBits: 1,
      rtscts: false,
      xon: false,
      xoff: false,
      autoOpen: false,
    });
    await new Promise<void>((resolve, reject) => port.open((err) => (err ? reject(err) : resolve())));
    // Many adapters want DTR/RTS up; a pty (socat, QEMU) answers ENOTTY, which is fine.
    await new Promise<void>((resolve) => port.set({ dtr: true, rts: true }, () => resolve()));
    port.on('data', (buf: Buffer) => this.emit('data', buf));
    port.on('error', (err: Error) => this.lost(port, err.message));
    port.on('close', (err: (Error & { disconnected?: boolean }) | null) => {
      if (!this.closing) this.lost(port, err?.message ?? 'port closed');
    });
    this.port = port;
    this.openedId = id;
  }

  /** The port stopped working: drop it and let the watchdog reopen it. */
  private lost(port: SerialPort, reason: string): void {
    if (this.port !== port || this.closing) return;
    this.port = null;
    port.removeAllListeners('data');
    port.on('error', () => {}); // late errors of a dead port are expected
    if (port.isOpen) port.close(() => {});
    if (!this.downSince) {
      this.downSince = new Date();
      // the binding's errno ("bad file descriptor", EIO) alone does not tell the user what happened
      const gone = !existsSync(this.opts.path);
      this.emit('down', gone && !/vanished/.test(reason) ? `${reason}; the device node is gone: adapter unplugged?` : reason);
    }
  }

  private async watchdog(): Promise<void> {
    if (this.closing || this.reopening) return;
    this.reopening = true;
    try {
      const id = await deviceId(this.opts.path);
      const port = this.port;
      if (port && this.downSince === null) {
        const same = id && this.openedId && id.rdev === this.openedId.rdev && id.ino === this.openedId.ino && id.dev === this.openedId.dev;
        if (!same) this.lost(port, id ? 'device node replaced (adapter re-enumerated)' : 'device node vanished (adapter unplugged)');
        return;
      }
      if (!id || this.closing) return;
      try {
        await this.openPort();
      } catch {
        return; // not ready yet (udev still setting permissions, or busy): retry next tick
      }
      if (this.closing) return;
      const from = this.downSince ?? new Date();
      const to = new Date();
      this.downSince = null;
      this.emit('up', { from, to, ms: to.getTime() - from.getTime() } satisfies Gap);
    } finally {
      this.reopening = false;
    }
  }

  async write(data: string | Buffer): Promise<void> {
    const port = this.port;
    if (!port || this.downSince) throw new Error('serial port is disconnected');
    await new Promise<void>((resolve, reject) => {
      port.write(data, (err) => (err ? reject(err) : resolve()));
    });
    await new Promise<void>((resolve) => port.drain(() => resolve()));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const port = this.port;
    this.port = null;
    if (port?.isOpen) await new Promise<void>((resolve) => port.close(() => resolve()));
  }
}


export interface PortCandidate {
  path: string;
  description?: string;
}

/**
 * USB serial adapters present. serialport's list() spawns udevadm and crashes the process when it is
 * missing (containers), so it is used only when udevadm exists; /dev is scanned either way.
 */
export async function listSerialCandidates(): Promise<PortCandidate[]> {
  const found = new Map<string, PortCandidate>();
  if (isOnPath('udevadm')) {
    try {
      for (const p of await SerialPort.list()) {
        if (/ttyUSB|ttyACM/.test(p.path) || p.vendorId) {
          found.set(p.path, { path: p.path, description: [p.manufacturer, p.serialNumber].filter(Boolean).join(' ') || undefined });
        }
      }
    } catch {
      /* fall back to the scan below */
    }
  }
  try {
    for (const name of readdirSync('/dev')) {
      if (/^tty(USB|ACM)\d+$/.test(name) && !found.has(`/dev/${name}`)) found.set(`/dev/${name}`, { path: `/dev/${name}` });
    }
  } catch {
    /* no /dev */
  }
  return [...found.values()].sort((a, b) => a.path.localeCompare(b.path));
}

/**
 * The port to use: the one given (a pty path from socat or QEMU is fine; ptys are never listed),
 * else /dev/ttyUSB0, else the only USB adapter present; otherwise a UserError listing the candidates.
 */
export async function choosePort(explicit: string | undefined): Promise<string> {
  if (explicit) {
    try {
      statSync(explicit);
    } catch {
      const c = await listSerialCandidates();
      throw new UserError(`${explicit}: no such serial port${c.length ? ` (adapters present: ${c.map((x) => x.path).join(', ')})` : ''}`, { code: 'console-failed' });
    }
    return explicit;
  }
  const candidates = await listSerialCandidates();
  if (candidates.some((c) => c.path === '/dev/ttyUSB0')) return '/dev/ttyUSB0';
  if (candidates.length === 1) return candidates[0].path;
  if (candidates.length === 0) {
    throw new UserError('/dev/ttyUSB0: no USB serial adapter found; plug in the adapter or name the port with --port', { code: 'console-failed' });
  }
  throw new UserError(
    `several serial adapters found, choose one with --port: ${candidates.map((c) => c.path + (c.description ? ` (${c.description})` : '')).join(', ')}`,
    { code: 'console-failed' },
  );
}
