import { createConnection, type Socket } from 'node:net';

/**
 * A minimal QMP client (QEMU's JSON monitor protocol): one command at a time, events ignored.
 * Used to start the paused machine, pull the USB stick out and press reset.
 */
export class Qmp {
  private buffer = '';
  private waiting: { resolve(v: unknown): void; reject(e: Error): void } | undefined;
  private greeted!: Promise<void>;

  private constructor(private readonly socket: Socket) {}

  static async connect(path: string, timeoutMs = 10_000): Promise<Qmp> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        const socket = await new Promise<Socket>((resolve, reject) => {
          const s = createConnection(path);
          s.once('connect', () => resolve(s));
          s.once('error', reject);
        });
        const qmp = new Qmp(socket);
        qmp.listen();
        await qmp.greeted;
        await qmp.execute('qmp_capabilities');
        return qmp;
      } catch (err) {
        if (Date.now() > deadline) throw new Error(`QMP socket ${path}: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  private listen(): void {
    let greet!: () => void;
    this.greeted = new Promise<void>((r) => (greet = r));
    this.socket.on('data', (b) => {
      this.buffer += b.toString('utf8');
      let nl: number;
      while ((nl = this.buffer.indexOf('\n')) >= 0) {
        const line = this.buffer.slice(0, nl).trim();
        this.buffer = this.buffer.slice(nl + 1);
        if (!line) continue;
        const msg = JSON.parse(line) as { QMP?: unknown; return?: unknown; error?: { desc: string }; event?: string };
        if (msg.QMP) greet();
        else if (msg.event) continue;
        else if (this.waiting) {
          const w = this.waiting;
          this.waiting = undefined;
          if (msg.error) w.reject(new Error(msg.error.desc));
          else w.resolve(msg.return);
        }
      }
    });
    const fail = () => {
      const w = this.waiting;
      this.waiting = undefined;
      w?.reject(new Error('QMP connection closed'));
    };
    this.socket.on('close', fail);
    this.socket.on('error', fail);
  }

  private queue: Promise<unknown> = Promise.resolve();

  /** Run one QMP command; commands are queued, QMP answers them in order. */
  execute(command: string, args?: Record<string, unknown>): Promise<unknown> {
    const run = () => this.send(command, args);
    const result = this.queue.then(run, run);
    this.queue = result.catch(() => undefined);
    return result;
  }

  private send(command: string, args?: Record<string, unknown>): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.waiting = { resolve, reject };
      this.socket.write(JSON.stringify(args ? { execute: command, arguments: args } : { execute: command }) + '\n');
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
