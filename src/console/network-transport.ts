/**
 * The console over a console server: `tcp://host:port` (a raw TCP port, as ser2net's `raw`/`tcp` accepter
 * serves) or `rfc2217://host:port` (telnet with RFC 2217, which sets the far serial line to 8N1 at our baud).
 * Same events as the local serial port: a dropped connection is 'down' at once, and the transport keeps
 * reconnecting until the console's reconnect budget runs out, so a console server restart is a gap, not a
 * failed install.
 */
import { EventEmitter } from 'node:events';
import { connect, type Socket } from 'node:net';
import { UserError } from '../util/errors.js';
import type { ConsoleTransport, Gap } from './transport.js';
import { encodeData, lineSettings, COM_PORT, SERVER_REPLY_OFFSET, OPT_COM_PORT, TelnetDecoder } from './telnet.js';

export interface NetworkPort {
  protocol: 'tcp' | 'rfc2217';
  host: string;
  port: number;
  /** As the user wrote it, for messages. */
  spec: string;
}

const SPEC_RE = /^(rfc2217|tcp):\/\/(\[[0-9A-Fa-f:.]{2,45}\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):([0-9]{1,5})$/;

/** `rfc2217://host:port` or `tcp://host:port`; undefined when `spec` is not a URL of either kind. */
export function parseNetworkPort(spec: string): NetworkPort | undefined {
  if (!/^[a-z0-9]+:\/\//i.test(spec)) return undefined;
  const m = SPEC_RE.exec(spec);
  if (!m || Number(m[3]) < 1 || Number(m[3]) > 65535) {
    throw new UserError(`--port ${JSON.stringify(spec.slice(0, 100))}: expected rfc2217://host:port or tcp://host:port (host a name, an IPv4 address or [IPv6], port 1-65535)`, {
      code: 'usage',
    });
  }
  return { protocol: m[1] as NetworkPort['protocol'], host: m[2].replace(/^\[|\]$/g, ''), port: Number(m[3]), spec };
}

export interface NetworkTransportOptions {
  target: NetworkPort;
  baudRate: number;
  /** How long one connection attempt may take. */
  connectTimeoutMs?: number;
  /** Pause between reconnection attempts. */
  retryMs?: number;
  /** How long to wait for the server to confirm the baud rate (rfc2217). */
  settingsTimeoutMs?: number;
  /** One-line notes for the transcript (line settings confirmed or not). */
  onNote?: (line: string) => void;
}

export class NetworkTransport extends EventEmitter implements ConsoleTransport {
  private socket: Socket | null = null;
  private decoder: TelnetDecoder | null = null;
  private downSince: Date | null = null;
  private retry: NodeJS.Timeout | null = null;
  private closing = false;

  constructor(private readonly opts: NetworkTransportOptions) {
    super();
  }

  get connected(): boolean {
    return this.socket !== null && this.downSince === null;
  }

  private get name(): string {
    return this.opts.target.spec;
  }

  async open(): Promise<void> {
    try {
      await this.connectOnce();
    } catch (err) {
      throw new UserError(`${this.name}: cannot reach the console server: ${(err as Error).message}`, { code: 'console-failed', cause: err });
    }
  }

  private connectOnce(): Promise<void> {
    const { host, port, protocol } = this.opts.target;
    return new Promise<void>((resolve, reject) => {
      const socket = connect({ host, port, noDelay: true });
      const timer = setTimeout(() => socket.destroy(new Error(`no answer within ${(this.opts.connectTimeoutMs ?? 5000) / 1000} s`)), this.opts.connectTimeoutMs ?? 5000);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        socket.on('error', (err) => this.lost(socket, err.message));
        socket.on('close', () => this.lost(socket, 'the console server closed the connection'));
        this.socket = socket;
        if (protocol === 'tcp') {
          socket.on('data', (b: Buffer) => this.emit('data', b));
          resolve();
          return;
        }
        void this.startTelnet(socket).then(resolve, reject);
      });
    });
  }

  /** Telnet negotiation, then the line settings; resolves once the server confirmed the baud (or it timed out). */
  private async startTelnet(socket: Socket): Promise<void> {
    let confirmBaud: ((baud: number) => void) | undefined;
    const confirmed = new Promise<number>((resolve) => (confirmBaud = resolve));
    const decoder = new TelnetDecoder({
      data: (b) => this.emit('data', b),
      reply: (b) => socket.write(b),
      subnegotiation: (option, payload) => {
        if (option === OPT_COM_PORT && payload[0] === COM_PORT.setBaudrate + SERVER_REPLY_OFFSET && payload.length >= 5) {
          confirmBaud?.(payload.readUInt32BE(1));
        }
      },
    });
    this.decoder = decoder;
    socket.on('data', (b: Buffer) => decoder.feed(b));
    socket.write(TelnetDecoder.opening(true));
    for (const command of lineSettings(this.opts.baudRate)) socket.write(command);
    const wait = this.opts.settingsTimeoutMs ?? 3000;
    const baud = await Promise.race([confirmed, new Promise<null>((r) => setTimeout(() => r(null), wait).unref())]);
    if (baud === null) this.opts.onNote?.(`${this.name}: the server did not confirm the line settings within ${wait / 1000} s (is it an RFC 2217 server?)`);
    else if (baud !== this.opts.baudRate) this.opts.onNote?.(`${this.name}: the server set ${baud} baud, not ${this.opts.baudRate}`);
    else this.opts.onNote?.(`${this.name}: RFC 2217 line settings confirmed: ${baud} 8N1, no flow control`);
  }

  private lost(socket: Socket, reason: string): void {
    if (this.socket !== socket || this.closing) return;
    this.socket = null;
    this.decoder = null;
    socket.removeAllListeners('data');
    socket.on('error', () => {}); // late errors of a dead connection are expected
    socket.destroy();
    if (!this.downSince) {
      this.downSince = new Date();
      this.emit('down', `${this.name}: ${reason}`);
    }
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (this.closing || this.retry) return;
    this.retry = setTimeout(() => {
      this.retry = null;
      if (this.closing) return;
      this.connectOnce().then(
        () => {
          if (this.closing) return;
          const from = this.downSince ?? new Date();
          const to = new Date();
          this.downSince = null;
          this.emit('up', { from, to, ms: to.getTime() - from.getTime() } satisfies Gap);
        },
        () => this.scheduleReconnect(),
      );
    }, this.opts.retryMs ?? 250);
  }

  async write(data: string | Buffer): Promise<void> {
    const socket = this.socket;
    if (!socket || this.downSince) throw new Error(`${this.name}: disconnected`);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
    const wire = this.opts.target.protocol === 'rfc2217' ? encodeData(bytes, this.decoder?.clientBinary ?? false) : bytes;
    await new Promise<void>((resolve, reject) => socket.write(wire, (err) => (err ? reject(err) : resolve())));
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.retry) clearTimeout(this.retry);
    this.retry = null;
    const socket = this.socket;
    this.socket = null;
    if (socket) await new Promise<void>((resolve) => socket.end(() => resolve()));
    socket?.destroy();
  }
}
