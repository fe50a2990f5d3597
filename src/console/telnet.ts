/**
 * The telnet protocol as a console server speaks it (RFC 854, with RFC 2217's COM-PORT-OPTION to set the
 * serial line): every byte of the format is known here and nowhere else. The decoder is a small state machine
 * over the byte stream (linear, bounded: a subnegotiation longer than any RFC 2217 message is cut), the encoder
 * doubles 0xFF so data can never read as a command.
 */

export const IAC = 255;
export const DONT = 254;
export const DO = 253;
export const WONT = 252;
export const WILL = 251;
export const SB = 250;
export const SE = 240;

export const OPT_BINARY = 0;
export const OPT_ECHO = 1;
export const OPT_SGA = 3;
export const OPT_COM_PORT = 44;

/** RFC 2217 client-to-server commands; the server answers with the same number plus 100. */
export const COM_PORT = { setBaudrate: 1, setDatasize: 2, setParity: 3, setStopsize: 4, setControl: 5 } as const;
export const SERVER_REPLY_OFFSET = 100;
/** Values for 8N1 without flow control. */
export const PARITY_NONE = 1;
export const STOPSIZE_1 = 1;
export const CONTROL_NO_FLOW = 1;

/** The longest subnegotiation kept; RFC 2217's longest (a signature text) is far below it. */
const MAX_SUBNEGOTIATION = 256;

/** Options we agree to on our side (WILL) and want on the server's side (DO). */
const WE_WILL = new Set([OPT_BINARY, OPT_SGA, OPT_COM_PORT]);
const THEY_MAY = new Set([OPT_BINARY, OPT_SGA, OPT_ECHO, OPT_COM_PORT]);

export interface TelnetEvents {
  data(bytes: Buffer): void;
  /** Bytes to send back to the server (negotiation answers). */
  reply(bytes: Buffer): void;
  /** A complete subnegotiation: option and payload (IAC IAC already undone). */
  subnegotiation(option: number, payload: Buffer): void;
}

type State = 'data' | 'iac' | 'option' | 'sb' | 'sb-iac';

export class TelnetDecoder {
  private state: State = 'data';
  private verb = 0;
  private sb: number[] = [];
  private sbOption = -1;
  /** Option states already answered, so a server repeating itself does not start a loop. */
  private readonly ours = new Map<number, boolean>();
  private readonly theirs = new Map<number, boolean>();
  /** The server agreed to send binary: a CR from it is data, not a CR NUL pair. */
  serverBinary = false;
  /** We agreed to send binary. */
  clientBinary = false;
  comPortAccepted: boolean | undefined;

  constructor(private readonly on: TelnetEvents) {}

  /** What a client says first: binary both ways, no go-ahead, and (rfc2217) the COM port option. */
  static opening(comPort: boolean): Buffer {
    const b = [IAC, WILL, OPT_BINARY, IAC, DO, OPT_BINARY, IAC, WILL, OPT_SGA, IAC, DO, OPT_SGA];
    if (comPort) b.push(IAC, WILL, OPT_COM_PORT);
    return Buffer.from(b);
  }

  feed(chunk: Buffer): void {
    let plainStart = -1;
    const flush = (end: number) => {
      if (plainStart >= 0 && end > plainStart) this.on.data(chunk.subarray(plainStart, end));
      plainStart = -1;
    };
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      switch (this.state) {
        case 'data':
          if (c === IAC) {
            flush(i);
            this.state = 'iac';
          } else if (plainStart < 0) plainStart = i;
          break;
        case 'iac':
          if (c === IAC) {
            this.on.data(Buffer.from([IAC]));
            this.state = 'data';
          } else if (c === DO || c === DONT || c === WILL || c === WONT) {
            this.verb = c;
            this.state = 'option';
          } else if (c === SB) {
            this.sb = [];
            this.sbOption = -1;
            this.state = 'sb';
          } else {
            this.state = 'data'; // NOP, GA, AYT...: nothing a console needs
          }
          break;
        case 'option':
          this.negotiate(this.verb, c);
          this.state = 'data';
          break;
        case 'sb':
          if (c === IAC) this.state = 'sb-iac';
          else this.keep(c);
          break;
        case 'sb-iac':
          if (c === IAC) {
            this.keep(IAC);
            this.state = 'sb';
          } else {
            // IAC SE ends it; anything else after IAC is a broken server, and ends it too
            this.on.subnegotiation(this.sbOption, Buffer.from(this.sb));
            this.state = 'data';
          }
          break;
      }
    }
    if (this.state === 'data') flush(chunk.length);
  }

  private keep(c: number): void {
    if (this.sbOption < 0) this.sbOption = c;
    else if (this.sb.length < MAX_SUBNEGOTIATION) this.sb.push(c);
  }

  private negotiate(verb: number, option: number): void {
    const answer = (v: number) => this.on.reply(Buffer.from([IAC, v, option]));
    if (verb === DO || verb === DONT) {
      const yes = verb === DO && WE_WILL.has(option);
      if (option === OPT_BINARY) this.clientBinary = yes;
      if (option === OPT_COM_PORT) this.comPortAccepted = yes;
      if (this.ours.get(option) === yes) return;
      this.ours.set(option, yes);
      answer(yes ? WILL : WONT);
    } else {
      const yes = verb === WILL && THEY_MAY.has(option);
      if (option === OPT_BINARY) this.serverBinary = yes;
      if (this.theirs.get(option) === yes) return;
      this.theirs.set(option, yes);
      answer(yes ? DO : DONT);
    }
  }
}

/** Data for the wire: 0xFF doubled, and a bare CR sent as CR NUL unless binary was agreed (RFC 854). */
export function encodeData(data: Buffer, binary: boolean): Buffer {
  if (!data.includes(IAC) && (binary || !data.includes(13))) return data;
  const out = Buffer.alloc(data.length * 2);
  let j = 0;
  for (let i = 0; i < data.length; i++) {
    const c = data[i];
    out[j++] = c;
    if (c === IAC) out[j++] = IAC;
    else if (c === 13 && !binary && data[i + 1] !== 10) out[j++] = 0;
  }
  return out.subarray(0, j);
}

/** IAC SB COM-PORT-OPTION <command> <value...> IAC SE, the value's 0xFF bytes doubled. */
export function comPortCommand(command: number, value: Buffer): Buffer {
  const body: number[] = [];
  for (const c of value) {
    body.push(c);
    if (c === IAC) body.push(IAC);
  }
  return Buffer.from([IAC, SB, OPT_COM_PORT, command, ...body, IAC, SE]);
}

/** The four commands that set 8N1 at `baud` with no flow control. */
export function lineSettings(baud: number): Buffer[] {
  const rate = Buffer.alloc(4);
  rate.writeUInt32BE(baud);
  return [
    comPortCommand(COM_PORT.setBaudrate, rate),
    comPortCommand(COM_PORT.setDatasize, Buffer.from([8])),
    comPortCommand(COM_PORT.setParity, Buffer.from([PARITY_NONE])),
    comPortCommand(COM_PORT.setStopsize, Buffer.from([STOPSIZE_1])),
    comPortCommand(COM_PORT.setControl, Buffer.from([CONTROL_NO_FLOW])),
  ];
}
