/**
 * Streaming removal of terminal escape sequences (CSI such as busybox's `ESC[6n` or bash's `ESC[?2004h`,
 * OSC window titles, two-byte ESC sequences), carriage returns and NULs, so prompts can be matched on
 * plain text. A sequence split across two reads is held back until it completes.
 */
const ESC = 0x1b;
const BEL = 0x07;

type State = 'text' | 'esc' | 'csi' | 'osc' | 'osc-esc';

export class EscapeStripper {
  private state: State = 'text';
  /** Length of the current sequence, to give up on runaway sequences (line noise). */
  private seqLen = 0;

  /** Returns the printable text of `chunk`, with escape sequences, CR and NUL removed. */
  push(chunk: string): string {
    let out = '';
    // plain text is copied in runs, not a character at a time: a flood must cost little per byte
    let run = -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      switch (this.state) {
        case 'text':
          if (c !== ESC && c !== 0x9b && c !== 0x0d && c !== 0x00) {
            if (run < 0) run = i;
            break;
          }
          if (run >= 0) out += chunk.slice(run, i);
          run = -1;
          if (c === ESC) {
            this.state = 'esc';
            this.seqLen = 0;
          } else if (c === 0x9b) {
            this.state = 'csi'; // 8-bit CSI
            this.seqLen = 0;
          }
          break;
        case 'esc':
          if (c === 0x5b /* [ */) this.state = 'csi';
          else if (c === 0x5d /* ] */) this.state = 'osc';
          else if (c >= 0x20 && c <= 0x2f) {
            // intermediate byte (e.g. ESC ( B): stay until the final byte
          } else this.state = 'text';
          break;
        case 'csi':
          // parameters and intermediates are 0x20-0x3f; the final byte is 0x40-0x7e
          if (c >= 0x40 && c <= 0x7e) this.state = 'text';
          else if (c < 0x20 || c > 0x7e || ++this.seqLen > 64) {
            this.state = 'text';
            if (c !== ESC && c >= 0x20) out += chunk[i];
            else if (c === ESC) this.state = 'esc';
          }
          break;
        case 'osc':
          if (c === BEL) this.state = 'text';
          else if (c === ESC) this.state = 'osc-esc';
          else if (++this.seqLen > 512) this.state = 'text';
          break;
        case 'osc-esc':
          this.state = c === 0x5c /* \ */ ? 'text' : 'osc';
          break;
      }
    }
    if (run >= 0) out += chunk.slice(run);
    return out;
  }
}

/** One-shot helper for whole strings. */
export function stripEscapes(s: string): string {
  return new EscapeStripper().push(s);
}

/** Shows control characters visibly (`ESC[6n` as `\e[6n`), for messages about prompts and garbage. */
export function visible(s: string): string {
  return s.replace(/[\x00-\x08\x0b-\x1f\x7f]/g, (ch) => {
    if (ch === '\x1b') return '\\e';
    if (ch === '\r') return '\\r';
    if (ch === '\t') return '\\t';
    return `\\x${ch.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
}
