/**
 * deb822 control stanzas (DEBIAN/control, dpkg status, Packages indexes): the one module that knows the
 * format. Field names are matched case-insensitively, their spelling and order are kept, continuation
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

export class ControlSyntaxError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Parse every stanza of a deb822 text. Multi-line values keep their continuation lines exactly
 * (`Description: short\n long...`); a value that starts on the next line (`Conffiles:\n /etc/x md5`)
 * is stored with its leading newline so it writes back the same way.
 */
export function parseStanzas(text: string): Stanza[] {
  const stanzas: Stanza[] = [];
  let current: [string, string][] = [];
  const flush = () => {
    if (current.length) stanzas.push(new Stanza(current));
    current = [];
  };
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].endsWith('\r') ? lines[i].slice(0, -1) : lines[i];
    if (line.trim() === '') {
      flush();
      continue;
    }
    if (line.startsWith('#') && current.length === 0) continue; // deb822 comments between stanzas
    if (line.startsWith(' ') || line.startsWith('\t')) {
      const last = current[current.length - 1];
      if (!last) throw new ControlSyntaxError(i + 1, 'continuation line without a field');
      last[1] += `\n${line}`;
      continue;
    }
    const colon = line.indexOf(':');
    if (colon <= 0) throw new ControlSyntaxError(i + 1, `expected 'Field: value', got '${line.slice(0, 60)}'`);
    const name = line.slice(0, colon);
    if (/\s/.test(name)) throw new ControlSyntaxError(i + 1, `bad field name '${name}'`);
    const value = trimBlanks(line.slice(colon + 1));
    current.push([name, value]);
  }
  flush();
  return stanzas;
}

/** Leading and trailing spaces and tabs off, in one pass (a `[ \t]+$` regex is quadratic on inner blanks). */
function trimBlanks(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && (s[start] === ' ' || s[start] === '\t')) start++;
  while (end > start && (s[end - 1] === ' ' || s[end - 1] === '\t')) end--;
  return s.slice(start, end);
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

/** A Packages stanza is a few KiB (long descriptions included): past this the input is not an index. */
export const MAX_STANZA_CHARS = 16 << 20;

/**
 * Incremental parser for big indexes: feed text chunks, get complete stanzas back as soon as their blank
 * line arrives, so a Packages file is never held whole in memory.
 */
export class StanzaStreamParser {
  /** The current stanza's text so far, as received (joined once, when its blank line arrives). */
  private parts: string[] = [];
  private partsLength = 0;
  private partsNewlines = 0;
  private lineOffset = 0;
  /**
   * What the text so far ends with, as far as a separator is concerned: "\n" or "\n\r" (a blank line may
   * be under way), "\r" (a CRLF may be), or "". Each chunk is searched with this prefix only, so a long
   * stanza is never rescanned (or re-flattened) from its start: the parser is linear in its input.
   */
  private carry = '';

  push(chunk: string): Stanza[] {
    const out: Stanza[] = [];
    const text = this.carry + chunk;
    const skip = this.carry.length;
    const separator = /\r?\n[ \t]*\r?\n/g;
    let from = 0; // consumed so far, in chunk coordinates
    let found = false;
    for (let m = separator.exec(text); m; m = separator.exec(text)) {
      const sepEnd = m.index + m[0].length - skip;
      // A separator that began in earlier text leaves its first bytes in the block: parseStanzas ignores them.
      const block = this.parts.join('') + chunk.slice(from, Math.max(from, m.index - skip));
      out.push(...this.parseBlock(block));
      this.lineOffset += this.partsNewlines + countNewlines(chunk.slice(from, sepEnd));
      this.parts = [];
      this.partsLength = 0;
      this.partsNewlines = 0;
      from = sepEnd;
      found = true;
    }
    const rest = chunk.slice(from);
    if (rest) {
      this.parts.push(rest);
      this.partsLength += rest.length;
      this.partsNewlines += countNewlines(rest);
    }
    this.carry = separatorCarry(found ? rest : this.carry + rest);
    if (this.partsLength > MAX_STANZA_CHARS) {
      throw new ControlSyntaxError(this.lineOffset + 1, `a stanza longer than ${MAX_STANZA_CHARS >> 20} MiB, which no real index has`);
    }
    return out;
  }

  end(): Stanza[] {
    const rest = this.parts.join('');
    this.parts = [];
    this.partsLength = 0;
    this.partsNewlines = 0;
    this.carry = '';
    return this.parseBlock(rest);
  }

  private parseBlock(block: string): Stanza[] {
    try {
      return parseStanzas(block);
    } catch (err) {
      if (err instanceof ControlSyntaxError) throw new ControlSyntaxError(err.line + this.lineOffset, err.message);
      throw err;
    }
  }
}

/** The canonical end of `text` for a separator search (see StanzaStreamParser.carry); reads only its trailing blanks. */
function separatorCarry(text: string): string {
  let i = text.length;
  const cr = text[i - 1] === '\r';
  if (cr) i--;
  while (i > 0 && (text[i - 1] === ' ' || text[i - 1] === '\t')) i--;
  if (text[i - 1] === '\n') return cr ? '\n\r' : '\n';
  return cr ? '\r' : '';
}

function countNewlines(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}
