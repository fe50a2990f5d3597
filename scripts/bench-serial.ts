/**
 * The serial BoxShell at the speed of the real line: obsbuild ↔ pty ↔ a relay that passes 11520 bytes a
 * second each way (115200 baud 8N1, full duplex) ↔ pty ↔ a real /bin/sh in canonical mode with echo (the
 * tty a getty leaves). A pty alone moves bytes as fast as the CPU; the relay adds the wire time.
 * Measures the login, the round trip of one command, putFile and reading a file back as base64.
 * Needs socat. Run: node dist/scripts/bench-serial.js [--baud N] [--json]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialPort } from 'serialport';
import { openSerialShell } from '../src/daytwo/serial-shell.js';
import { PtyPair } from '../test/console/simulator.js';
import { PtyBox } from '../test/daytwo/pty-box.js';

/** Passes bytes between two open ports at `bytesPerSecond` in each direction. */
class PacedRelay {
  private timer: NodeJS.Timeout | null = null;
  constructor(
    private readonly a: SerialPort,
    private readonly b: SerialPort,
    private readonly bytesPerSecond: number,
  ) {}

  start(): void {
    const lanes = [this.lane(this.a, this.b), this.lane(this.b, this.a)];
    let last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const budget = ((now - last) / 1000) * this.bytesPerSecond;
      last = now;
      for (const l of lanes) l(budget);
    }, 5);
  }

  private lane(from: SerialPort, to: SerialPort): (budget: number) => void {
    let queue = Buffer.alloc(0);
    let credit = 0;
    from.on('data', (b: Buffer) => (queue = Buffer.concat([queue, b])));
    return (budget) => {
      // credit does not pile up while the line is idle: a real UART sends nothing ahead
      credit = queue.length === 0 ? 0 : credit + budget;
      const n = Math.min(queue.length, Math.floor(credit));
      if (n === 0) return;
      to.write(queue.subarray(0, n));
      queue = queue.subarray(n);
      credit -= n;
    };
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}

async function openPort(path: string): Promise<SerialPort> {
  const p = new SerialPort({ path, baudRate: 115200, lock: false, autoOpen: false });
  await new Promise<void>((res, rej) => p.open((e) => (e ? rej(e) : res())));
  p.on('error', () => {});
  return p;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const baud = args.includes('--baud') ? Number(args[args.indexOf('--baud') + 1]) : 115200;
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-bench-serial-'));
  const box = new PtyBox(dir);
  const pair = new PtyPair(join(dir, 'ttyUSB0'), join(dir, 'relay'));
  let relay: PacedRelay | null = null;
  const ports: SerialPort[] = [];
  try {
    await box.start();
    await pair.start();
    ports.push(await openPort(pair.boardPath), await openPort(box.tty));
    relay = new PacedRelay(ports[0], ports[1], baud / 10);
    relay.start();
    let t = performance.now();
    const shell = await openSerialShell({ port: pair.consolePath, baud, user: 'root', password: 'root', log: () => {} });
    const loginS = (performance.now() - t) / 1000;
    const n = 20;
    t = performance.now();
    for (let i = 0; i < n; i++) await shell.run('true');
    const rttMs = (performance.now() - t) / n;
    const put: { bytes: number; seconds: number }[] = [];
    for (const size of [4 * 1024, 32 * 1024]) {
      const bytes = new Uint8Array(randomBytes(size));
      t = performance.now();
      await shell.putFile(join(dir, `put-${size}`), bytes, 0o644);
      put.push({ bytes: size, seconds: (performance.now() - t) / 1000 });
      const back = await readFile(join(dir, `put-${size}`));
      if (createHash('sha256').update(back).digest('hex') !== createHash('sha256').update(bytes).digest('hex')) throw new Error('putFile: bytes differ');
    }
    const readSize = 32 * 1024;
    await writeFile(join(dir, 'read.bin'), randomBytes(readSize));
    t = performance.now();
    const r = await shell.run(`base64 ${join(dir, 'read.bin')}`);
    const readS = (performance.now() - t) / 1000;
    if (Buffer.from(r.stdout, 'base64').length !== readSize) throw new Error('read back: wrong length');
    await shell.close();
    const result = {
      baud,
      loginSeconds: +loginS.toFixed(2),
      roundTripMs: +rttMs.toFixed(1),
      putFile: put.map((p) => ({ bytes: p.bytes, seconds: +p.seconds.toFixed(2), kibPerSecond: +(p.bytes / 1024 / p.seconds).toFixed(2) })),
      readBase64: { bytes: readSize, seconds: +readS.toFixed(2), kibPerSecond: +(readSize / 1024 / readS).toFixed(2) },
    };
    if (args.includes('--json')) console.log(JSON.stringify(result, null, 2));
    else {
      console.log(`serial BoxShell at ${baud} baud (paced relay, real sh on a pty in canonical mode with echo)`);
      console.log(`  login and marker prompt: ${result.loginSeconds} s; round trip of \`true\`: ${result.roundTripMs} ms`);
      for (const p of result.putFile) console.log(`  putFile ${p.bytes / 1024} KiB: ${p.seconds} s (${p.kibPerSecond} KiB/s)`);
      console.log(`  reading ${readSize / 1024} KiB as base64: ${result.readBase64.seconds} s (${result.readBase64.kibPerSecond} KiB/s)`);
    }
  } finally {
    relay?.stop();
    for (const p of ports) if (p.isOpen) await new Promise<void>((res) => p.close(() => res()));
    await pair.stop();
    await box.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((e) => {
  console.error(`bench-serial: ${(e as Error).message}`);
  process.exit(1);
});
