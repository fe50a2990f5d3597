/**
 * deb822 control stanzas (DEBIAN/control, dpkg status, Packages indexes, Release files): the one module
 * that knows the format, with one parser, bounded by the caps its caller gives. Field names are matched case-insensitively, their spelling and order are kept, continuation
 * lines (leading space or tab) are kept verbatim so a stanza written back is the stanza read.
 */
export class Stanza {
  /** lower-cased name -> [spelling, value]; Map keeps insertion order. */
  private readonly fields = new Map<string, [string, string]>();

  constructor(entries: Iterable<[string, string]> = []) {
    for (const [name, value] of entries) this.set(name, value);
  }

  get(name: string): string | undefined {
    return this.fields.get(name.toLowerCase())?.[1];
  }

  has(name: string): boolean {
    return this.fields.has(name.toLowerCase());
  }

  /** Replaces the value in place (keeping the field's position) or appends the field. */
  set(name: string, value: string): this {
    const key = name.toLowerCase();
    const existing = this.fields.get(key);
    this.fields.set(key, [existing ? existing[0] : name, value]);
    return this;
  }

  delete(name: string): boolean {
    return this.fields.delete(name.toLowerCase());
  }

  /** [spelling, value] pairs in order. */
  entries(): [string, string][] {
    return [...this.fields.values()].map(([n, v]) => [n, v]);
  }

  /** The stanza's text, each field on its own line(s), no trailing blank line. */
  toString(): string {
    return this.entries()
      .map(([name, value]) => (value.startsWith('\n') ? `${name}:${value}` : `${name}: ${value}`))
      .join('\n');
  }
}

/** A syntax error or a cap reached, at `line` of the text. */
export class ControlSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Caps on what one reading takes. A line, a stanza, a stanza's fields and the stanzas of a text each have a
 * cap no real file comes near, so a hostile text costs bounded time and memory and ends in an error naming
 * its line.
 */
export interface StanzaLimits {
  /** characters in one line */
  maxLine: number;
  /** characters in one stanza, its lines together */
  maxStanza: number;
  /** fields in one stanza */
  maxFields: number;
  /** stanzas in the whole text */
  maxStanzas: number;
}

/** A Packages stanza is a few KiB (long descriptions included): past this the input is not an index. */
export const MAX_STANZA_CHARS = 16 << 20;

/** A text already in memory (DEBIAN/control, a dpkg status file): its reader capped its size. */
const IN_MEMORY_LIMITS: StanzaLimits = { maxLine: Infinity, maxStanza: Infinity, maxFields: Infinity, maxStanzas: Infinity };

/** A stream of unknown length: each stanza must fit in memory. */
const STREAM_LIMITS: StanzaLimits = { maxLine: MAX_STANZA_CHARS, maxStanza: MAX_STANZA_CHARS, maxFields: Infinity, maxStanzas: Infinity };

/**
 * Packages: lines up to 1 MiB (the longest real ones, Rust crates' Provides in current Debian, are ~100 kB),
 * stanzas of ~30 fields, and 200 000 packages (Debian's biggest index has ~65 000; lenny's powerpc ~23 000).
 */
export const PACKAGES_LIMITS: StanzaLimits = { maxLine: 1 << 20, maxStanza: 4 << 20, maxFields: 256, maxStanzas: 200_000 };

/** Release: one stanza whose checksum blocks list a few thousand files, each on its own short line. */
export const RELEASE_LIMITS: StanzaLimits = { maxLine: 64 << 10, maxStanza: 16 << 20, maxFields: 256, maxStanzas: 1 };

/**
 * Parse every stanza of a deb822 text. Multi-line values keep their continuation lines exactly
 * (`Description: short\n long...`); a value that starts on the next line (`Conffiles:\n /etc/x md5`)
 * is stored with its leading newline so it writes back the same way.
 */
export function parseStanzas(text: string, limits: StanzaLimits = IN_MEMORY_LIMITS): Stanza[] {
  const parser = new StanzaStreamParser(limits);
  return [...parser.push(text), ...parser.end()];
}

/** Leading and trailing spaces and tabs off, in one pass (a `[ \t]+$` regex is quadratic on inner blanks). */
function trimBlanks(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s.charCodeAt(start) === 32 || s.charCodeAt(start) === 9)) start++;
  while (end > start && (s.charCodeAt(end - 1) === 32 || s.charCodeAt(end - 1) === 9)) end--;
  return s.slice(start, end);
}

/** deb822's blank line: empty, or spaces and tabs only. */
function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 32 && c !== 9) return false;
  }
  return true;
}

export function parseStanza(text: string): Stanza {
  const stanzas = parseStanzas(text);
  if (stanzas.length !== 1) throw new ControlSyntaxError(1, `expected one stanza, found ${stanzas.length}`);
  return stanzas[0];
}

/** Stanzas separated by blank lines, with a final newline (dpkg's status and Packages layout). */
export function formatStanzas(stanzas: Stanza[]): string {
  return stanzas.map((s) => `${s.toString()}\n`).join('\n');
}

/** `n` characters as a message says it: whole MiB when it is some. */
function chars(n: number): string {
  return n % (1 << 20) === 0 ? `${n >> 20} MiB` : `${n} characters`;
}

/**
 * The one deb822 parser: feed text chunks, get stanzas back as soon as their blank line arrives, so a
 * Packages file is never held whole in memory. One pass, each character looked at once; a line spanning
 * chunks is kept in pieces and joined once, when it ends. `#` comments between stanzas are skipped.
 */
export class StanzaStreamParser {
  /** the current line's pieces while it spans chunks (joined once, when the line ends) */
  private partial: string[] = [];
  private partialLength = 0;
  private lineNo = 0;
  private fields: [string, string][] = [];
  private stanzaChars = 0;
  private stanzas = 0;
  private out: Stanza[] = [];

  constructor(private readonly limits: StanzaLimits = STREAM_LIMITS) {}

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
      throw new ControlSyntaxError(this.lineNo + 1, `line longer than ${this.limits.maxLine} characters`);
    }
  }

  private line(line: string): void {
    this.lineNo++;
    if (isBlank(line)) return this.flush();
    if (line.startsWith('#') && this.fields.length === 0) return; // deb822 comments between stanzas
    this.stanzaChars += line.length + 1;
    if (this.stanzaChars > this.limits.maxStanza) throw new ControlSyntaxError(this.lineNo, `a stanza longer than ${chars(this.limits.maxStanza)}`);
    const first = line.charCodeAt(0);
    if (first === 32 || first === 9) {
      const last = this.fields[this.fields.length - 1];
      if (!last) throw new ControlSyntaxError(this.lineNo, 'continuation line without a field');
      last[1] += `\n${line}`;
      return;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ControlSyntaxError(this.lineNo, `expected 'Field: value', got '${line.slice(0, 60)}'`);
    const name = line.slice(0, colon);
    if (/\s/.test(name)) throw new ControlSyntaxError(this.lineNo, `bad field name '${name.slice(0, 60)}'`);
    if (this.fields.length >= this.limits.maxFields) throw new ControlSyntaxError(this.lineNo, `stanza with more than ${this.limits.maxFields} fields`);
    this.fields.push([name, trimBlanks(line.slice(colon + 1))]);
  }

  private flush(): void {
    if (this.fields.length) {
      this.stanzas++;
      if (this.stanzas > this.limits.maxStanzas) throw new ControlSyntaxError(this.lineNo, `more than ${this.limits.maxStanzas} stanzas`);
      this.out.push(new Stanza(this.fields));
    }
    this.fields = [];
    this.stanzaChars = 0;
  }
}
