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
    const value = line.slice(colon + 1).replace(/^[ \t]+/, '').replace(/[ \t]+$/, '');
    current.push([name, value]);
  }
  flush();
  return stanzas;
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
  private pending = '';
  private lineOffset = 0;
  /** Where the next separator search starts: text before it is known to hold none. */
  private scanFrom = 0;
  /** Index of the last newline in `pending`, -1 when it holds none. */
  private lastNewline = -1;

  push(chunk: string): Stanza[] {
    const before = this.pending.length;
    this.pending += chunk;
    const out: Stanza[] = [];
    // Scan with a moving start and cut the buffer once: slicing per stanza would copy the tail each time.
    const separator = /\r?\n[ \t]*\r?\n/g;
    separator.lastIndex = this.scanFrom;
    let start = 0;
    for (let m = separator.exec(this.pending); m; m = separator.exec(this.pending)) {
      out.push(...this.parseBlock(this.pending.slice(start, m.index)));
      this.lineOffset += countNewlines(this.pending.slice(start, m.index + m[0].length));
      start = m.index + m[0].length;
    }
    // A separator completed by the next chunk starts at the last newline (or the \r before it), so the
    // next search resumes there instead of rescanning a long stanza from its start (quadratic). Only the
    // new chunk is searched for that newline.
    const inChunk = chunk.lastIndexOf('\n');
    this.lastNewline = (inChunk >= 0 ? before + inChunk : this.lastNewline) - start;
    this.pending = this.pending.slice(start);
    this.scanFrom = Math.max(0, (this.lastNewline >= 0 ? this.lastNewline : this.pending.length) - 1);
    if (this.pending.length > MAX_STANZA_CHARS) {
      throw new ControlSyntaxError(this.lineOffset + 1, `a stanza longer than ${MAX_STANZA_CHARS >> 20} MiB, which no real index has`);
    }
    return out;
  }

  end(): Stanza[] {
    const rest = this.pending;
    this.pending = '';
    this.scanFrom = 0;
    this.lastNewline = -1;
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

function countNewlines(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) === 10) n++;
  return n;
}
