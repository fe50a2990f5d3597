/**
 * Failure classes and the detectors that recognise them in the console stream: kernel panics and Oopses,
 * boot banners (to count reboots), bytes that look like a wrong baud rate or a flood, and the one-line
 * advice the user gets for each class.
 */
import type { ErrorCode } from '../contracts/error-codes.js';

export type FailureClass =
  | 'port-error'
  | 'port-lost'
  | 'no-data'
  | 'wrong-baud'
  | 'line-too-long'
  | 'kernel-panic'
  | 'unexpected-reboot'
  | 'reboot-loop'
  | 'installer-failed'
  | 'firstboot-failed'
  | 'stalled'
  | 'timeout'
  | 'login-refused'
  | 'check-failed'
  | 'aborted';

/** Bytes without CR or LF after which the stream is a flood, not a console: the kernel's longest line is 1 KiB. */
export const MAX_LINE_BYTES = 64 * 1024;

/** What each class means and what to do about it; `console --help` prints this table. */
export const FAILURE_CLASSES: Record<FailureClass, string> = {
  'port-error': 'the serial port cannot be opened (wrong --port, adapter missing, port in use)',
  'port-lost': 'the serial port went away (adapter unplugged, pty closed, I/O error) and did not come back within the reconnect budget',
  'no-data': 'not a single byte arrived: check the cable (null-modem), the port, and that the box is powered',
  'wrong-baud': 'bytes arrive but are not text: the baud rate is wrong (the box uses 115200 8N1; try --baud 9600, 38400, 57600)',
  'line-too-long': `garbage or a flood: ${MAX_LINE_BYTES / 1024} KiB without a line end, which no console line is; something other than the box is talking`,
  'kernel-panic': 'the kernel printed "Kernel panic" or an Oops',
  'unexpected-reboot': 'a boot banner appeared in the middle of the install, the first boot or the shell session',
  'reboot-loop': 'the box rebooted again and again before reaching the installer or a login prompt',
  'installer-failed': 'the installer printed "obsbuild-install: FAILED [n/N] step: reason"',
  'firstboot-failed': 'the first-boot script printed "obsbuild-firstboot: [n/N] FAILED: reason"',
  'stalled': 'an installer or first-boot step printed nothing new within its budget',
  'timeout': 'a phase did not finish within its budget (e.g. nobody rebooted the box after the install)',
  'login-refused': 'the board answered "Login incorrect" (use --password or OBSBUILD_ROOT_PASSWORD)',
  'check-failed': 'the box is up but at least one post-boot check failed',
  aborted: 'you quit (Ctrl-] in --interactive, or Ctrl-C) before the verdict',
};

/**
 * The error code a failure class stands for in the report and the exit code: a check that failed is a failed
 * verification, a stop by the user an interruption, everything else the line or the box misbehaving.
 */
export const FAILURE_CODES: Record<FailureClass, ErrorCode> = {
  'port-error': 'console-failed',
  'port-lost': 'console-failed',
  'no-data': 'console-failed',
  'wrong-baud': 'console-failed',
  'line-too-long': 'console-failed',
  'kernel-panic': 'console-failed',
  'unexpected-reboot': 'console-failed',
  'reboot-loop': 'console-failed',
  'installer-failed': 'console-failed',
  'firstboot-failed': 'console-failed',
  stalled: 'console-failed',
  timeout: 'console-failed',
  'login-refused': 'console-failed',
  'check-failed': 'verify-failed',
  aborted: 'interrupted',
};

export class ConsoleFault extends Error {
  constructor(
    readonly failureClass: FailureClass,
    message: string,
  ) {
    super(message);
    this.name = 'ConsoleFault';
  }
}

export const PANIC_RE = /Kernel panic - not syncing|\bOops[:\[ ]|BUG: unable to handle|Unable to handle kernel (?:paging|NULL)/;
const UBOOT_RE = /U-Boot \d/;
const LINUX_BANNER_RE = /Linux version \d+\.\d+/;

/**
 * Counts boots from banners: a U-Boot banner starts a boot; a "Linux version" line starts one only when
 * no U-Boot banner preceded it (a console opened after the firmware spoke, or a firmware that is quiet).
 */
export class BootCounter {
  boots = 0;
  private sawFirmware = false;

  /** Returns true when `line` starts a new boot. */
  line(line: string): boolean {
    if (UBOOT_RE.test(line)) {
      this.sawFirmware = true;
      this.boots++;
      return true;
    }
    if (LINUX_BANNER_RE.test(line)) {
      if (this.sawFirmware) {
        this.sawFirmware = false;
        return false;
      }
      this.boots++;
      return true;
    }
    return false;
  }
}

/** Text-likeness of raw bytes: printable ASCII, CR, LF, TAB, ESC, BS and BEL count as text. */
function isTextByte(b: number): boolean {
  return (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x0d || b === 0x09 || b === 0x1b || b === 0x08 || b === 0x07;
}

export interface LineQualityVerdict {
  bytes: number;
  textRatio: number;
  /** Longest run of bytes without a line end, in the window. */
  longestLine: number;
  wrongBaud: boolean;
}

/**
 * A sliding window over the last bytes received. A wrong baud rate shows as a low share of text bytes
 * (framing errors produce 0x00, 0xff and high-bit bytes). UTF-8 text is allowed for: valid multi-byte
 * sequences count as text. A long stretch of good text without a line end is not a baud problem but a
 * flood; `lineRun` counts it across pushes so the caller can tell the two apart.
 */
export class LineQuality {
  private readonly window: Uint8Array;
  private filled = 0;
  private pos = 0;
  total = 0;
  /** Bytes since the last CR or LF, over every push. */
  lineRun = 0;

  constructor(private readonly size = 512) {
    this.window = new Uint8Array(size);
  }

  push(buf: Uint8Array): void {
    for (const b of buf) {
      this.window[this.pos] = b;
      this.pos = (this.pos + 1) % this.size;
      if (this.filled < this.size) this.filled++;
      this.lineRun = b === 0x0a || b === 0x0d ? 0 : this.lineRun + 1;
    }
    this.total += buf.length;
  }

  private ordered(): Uint8Array {
    if (this.filled < this.size) return this.window.subarray(0, this.filled);
    const out = new Uint8Array(this.size);
    out.set(this.window.subarray(this.pos), 0);
    out.set(this.window.subarray(0, this.pos), this.size - this.pos);
    return out;
  }

  verdict(minBytes = 48): LineQualityVerdict {
    const bytes = this.ordered();
    let text = 0;
    let run = 0;
    let longest = 0;
    for (let i = 0; i < bytes.length; i++) {
      const b = bytes[i];
      let n = 1;
      let ok = isTextByte(b);
      if (!ok && b >= 0xc2 && b <= 0xf4) {
        // a well-formed UTF-8 sequence counts as text
        const need = b >= 0xf0 ? 3 : b >= 0xe0 ? 2 : 1;
        let good = i + need < bytes.length;
        for (let k = 1; good && k <= need; k++) good = (bytes[i + k] & 0xc0) === 0x80;
        if (good) {
          ok = true;
          n = need + 1;
        }
      }
      if (ok) text += n;
      run = b === 0x0a || b === 0x0d ? 0 : run + n;
      if (run > longest) longest = run;
      i += n - 1;
    }
    const ratio = bytes.length ? text / bytes.length : 1;
    const wrongBaud = bytes.length >= minBytes && ratio < 0.75;
    return { bytes: bytes.length, textRatio: ratio, longestLine: longest, wrongBaud };
  }
}
