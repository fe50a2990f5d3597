/**
 * deb822 text from an archive (Packages indexes, Release files), read with limits: a mirror is not trusted
 * until its Release signature and checksums say so, and both are checked only after this text is read.
 * One pass over the input, each line looked at once; a line, a stanza, a stanza's field count and the
 * number of stanzas all have caps no real archive file comes near, so a hostile file costs bounded time
 * and memory and ends in an error naming the file and line.
 */
import { Stanza } from './control.js';

export interface StanzaLimits {
  /** characters in one line */
  maxLine: number;
  /** characters in one stanza, its lines together */
  maxStanza: number;
  /** fields in one stanza */
  maxFields: number;
  /** stanzas in the whole file */
  maxStanzas: number;
}

/**
 * Packages: lines up to 1 MiB (the longest real ones, Rust crates' Provides in current Debian, are ~100 kB),
 * stanzas of ~30 fields, and 200 000 packages (Debian's biggest index has ~65 000; lenny's powerpc ~23 000).
 */
export const PACKAGES_LIMITS: StanzaLimits = { maxLine: 1 << 20, maxStanza: 4 << 20, maxFields: 256, maxStanzas: 200_000 };

/** Release: one stanza whose checksum blocks list a few thousand files, each on its own short line. */
export const RELEASE_LIMITS: StanzaLimits = { maxLine: 64 << 10, maxStanza: 16 << 20, maxFields: 256, maxStanzas: 1 };

/** A syntax error or a cap reached, at `line` of the text. */
export class IndexTextError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9) return false;
  }
  return true;
}

/** Spaces and tabs off both ends, by index: a regex `[ \t]+$` backtracks quadratically over inner blanks. */
function trimBlanks(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === 32 || s.charCodeAt(start) === 9)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  return s.slice(start, end);
}

/**
 * Feed text chunks, get stanzas back as soon as their blank line arrives. The same syntax as control.ts's
 * parseStanzas (continuation lines kept verbatim, `#` comments between stanzas), with the limits above.
 */
export class BoundedStanzaReader {
  /** the current line's pieces while it spans chunks (joined once, when the line ends) */
  private partial: string[] = [];
  private partialLength = 0;
  private lineNo = 0;
  private fields: [string, string][] = [];
  private stanzaChars = 0;
  private stanzas = 0;
  private out: Stanza[] = [];

  constructor(private readonly limits: StanzaLimits) {}

  push(chunk: string): Stanza[] {
    let pos = 0;
    for (let nl = chunk.indexOf('\n', pos); nl >= 0; nl = chunk.indexOf('\n', pos)) {
      this.grow(nl - pos);
      const piece = chunk.slice(pos, nl);
      const line = this.partial.length ? this.partial.join('') + piece : piece;
      this.partial = [];
      this.partialLength = 0;
      this.line(line.endsWith('\r') ? line.slice(0, -1) : line);
      pos = nl + 1;
    }
    if (pos < chunk.length) {
      this.grow(chunk.length - pos);
      this.partial.push(chunk.slice(pos));
    }
    return this.take();
  }

  end(): Stanza[] {
    if (this.partial.length) {
      const line = this.partial.join('');
      this.partial = [];
      this.partialLength = 0;
      this.line(line.endsWith('\r') ? line.slice(0, -1) : line);
    }
    this.flush();
    return this.take();
  }

  private take(): Stanza[] {
    const out = this.out;
    this.out = [];
    return out;
  }

  /** Count characters of the line being read before keeping them: an endless line stops at the cap. */
  private grow(n: number): void {
    this.partialLength += n;
    if (this.partialLength > this.limits.maxLine) {
      throw new IndexTextError(this.lineNo + 1, `line longer than ${this.limits.maxLine} characters`);
    }
  }

  private line(line: string): void {
    this.lineNo++;
    if (isBlank(line)) return this.flush();
    if (line.startsWith('#') && this.fields.length === 0) return; // deb822 comments between stanzas
    this.stanzaChars += line.length + 1;
    if (this.stanzaChars > this.limits.maxStanza) throw new IndexTextError(this.lineNo, `stanza longer than ${this.limits.maxStanza} characters`);
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      const last = this.fields[this.fields.length - 1];
      if (!last) throw new IndexTextError(this.lineNo, 'continuation line without a field');
      last[1] += `\n${line}`;
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new IndexTextError(this.lineNo, `expected 'Field: value', got '${line.slice(0, 60)}'`);
    const name = line.slice(0, colon);
    if (/\s/.test(name)) throw new IndexTextError(this.lineNo, `bad field name '${name.slice(0, 60)}'`);
    if (this.fields.length >= this.limits.maxFields) throw new IndexTextError(this.lineNo, `stanza with more than ${this.limits.maxFields} fields`);
    this.fields.push([name, trimBlanks(line.slice(colon + 1))]);
  }

  private flush(): void {
    if (this.fields.length) {
      this.stanzas++;
      if (this.stanzas > this.limits.maxStanzas) throw new IndexTextError(this.lineNo, `more than ${this.limits.maxStanzas} stanzas`);
      this.out.push(new Stanza(this.fields));
    }
    this.fields = [];
    this.stanzaChars = 0;
  }
}

/** All stanzas of a text already in memory (whose size its reader capped), with the same limits. */
export function readBoundedStanzas(text: string, limits: StanzaLimits): Stanza[] {
  const reader = new BoundedStanzaReader(limits);
  return [...reader.push(text), ...reader.end()];
}
