/**
 * Debian `Packages` indexes: read one (plain, .gz or .xz, streamed stanza by stanza), or build the same
 * entries from a folder of .deb files when there is no index (`--packages DIR`).
 */
import { pathExists } from 'fs-extra';
import { createReadStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { UserError } from '../util/errors.js';
import { ControlSyntaxError, Stanza, StanzaStreamParser, formatStanzas, parseStanza } from './control.js';
import { digestFile, readDebControl } from './deb.js';
import { compressionOf, decompress } from './decompress.js';
import { parseVersion } from './version.js';
import { parseRelations, RelationSyntaxError, type Relation, type RelationGroups } from './relations.js';

export interface PackageEntry {
  name: string;
  version: string;
  arch: string;
  /** Path relative to the archive root (pool/main/...), as the index says. */
  filename?: string;
  size?: number;
  sha256?: string;
  md5?: string;
  readonly depends: RelationGroups;
  readonly preDepends: RelationGroups;
  provides: Relation[];
  readonly stanza: Stanza;
  /** Where the .deb is on disk, once known (local folder, or the mirror cache after download). */
  localPath?: string;
}

const NO_RELATIONS: Relation[] = [];

/**
 * An index entry. Depends and Pre-Depends are parsed when first read, and an entry read from a big index
 * keeps its (slimmed) stanza as text, parsed on demand: a 20 000-package index then stays small, and
 * only the entries the resolver visits pay for parsing.
 */
class IndexEntry implements PackageEntry {
  name: string;
  version: string;
  arch: string;
  filename?: string;
  size?: number;
  sha256?: string;
  md5?: string;
  provides: Relation[];
  localPath?: string;
  #where: string;
  #stanza: Stanza | string;
  #depends?: RelationGroups;
  #preDepends?: RelationGroups;

  constructor(stanza: Stanza, where: string, compact: boolean) {
    const name = stanza.get('Package');
    const version = stanza.get('Version');
    if (!name || !version) throw new UserError(`${where}: stanza without Package or Version`);
    try {
      parseVersion(version);
    } catch (err) {
      throw new UserError(`${where}: package ${name}: ${(err as Error).message}`);
    }
    const sizeText = stanza.get('Size');
    const providesText = stanza.get('Provides');
    this.name = name;
    this.version = version;
    this.arch = stanza.get('Architecture') ?? 'all';
    this.filename = stanza.get('Filename');
    this.size = sizeText ? Number(sizeText) : undefined;
    this.sha256 = stanza.get('SHA256');
    this.md5 = stanza.get('MD5sum') ?? stanza.get('MD5Sum');
    this.#where = where;
    this.#stanza = compact ? stanza.toString() : stanza;
    this.provides = providesText ? this.relations(providesText).map((g) => g[0]) : NO_RELATIONS;
  }

  private relations(text: string | undefined): RelationGroups {
    try {
      return parseRelations(text);
    } catch (err) {
      if (err instanceof RelationSyntaxError) throw new UserError(`${this.#where}: package ${this.name}: ${err.message}`);
      throw err;
    }
  }

  get stanza(): Stanza {
    if (typeof this.#stanza === 'string') this.#stanza = parseStanza(this.#stanza);
    return this.#stanza;
  }

  get depends(): RelationGroups {
    return (this.#depends ??= this.relations(this.stanza.get('Depends')));
  }

  get preDepends(): RelationGroups {
    return (this.#preDepends ??= this.relations(this.stanza.get('Pre-Depends')));
  }
}

export function entryFromStanza(stanza: Stanza, where: string, compact = false): PackageEntry {
  return new IndexEntry(stanza, where, compact);
}

/** Fields the resolver, downloader and manifest use; the rest (descriptions...) is dropped to keep big indexes small. */
const INDEX_FIELDS = new Set([
  'package', 'version', 'architecture', 'depends', 'pre-depends', 'provides', 'filename', 'size', 'md5sum', 'sha256',
  'essential', 'priority', 'section', 'source', 'installed-size', 'multi-arch',
]);

/**
 * A copy of the stanza with only INDEX_FIELDS. Values are copied into fresh strings: V8 keeps substrings
 * as views into their parent, which would pin every chunk of a 20 MB index in memory.
 */
function slim(stanza: Stanza): Stanza {
  const out = new Stanza();
  for (const [name, value] of stanza.entries()) {
    if (INDEX_FIELDS.has(name.toLowerCase())) out.set(Buffer.from(name).toString(), Buffer.from(value).toString());
  }
  return out;
}

/** Read every stanza of a Packages index (compression from the file name), streaming. */
export async function readPackagesIndex(file: string): Promise<PackageEntry[]> {
  const compression = compressionOf(basename(file)) ?? 'none';
  const parser = new StanzaStreamParser();
  const entries: PackageEntry[] = [];
  try {
    const text = decompress(createReadStream(file), compression).setEncoding('utf8');
    for await (const chunk of text) {
      for (const stanza of parser.push(chunk as string)) entries.push(entryFromStanza(slim(stanza), file, true));
    }
    for (const stanza of parser.end()) entries.push(entryFromStanza(slim(stanza), file, true));
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof ControlSyntaxError) throw new UserError(`${file}:${err.line}: ${err.message}`);
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file}: no such file`);
    throw new UserError(`${file}: cannot read the index: ${(err as Error).message}`);
  }
  return entries;
}

/** Build index entries from the .deb files of a folder (their control files and checksums). */
export async function buildIndexFromDebs(dir: string): Promise<PackageEntry[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.deb')).sort();
  const entries: PackageEntry[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const { control } = await readDebControl(path);
    const digests = await digestFile(path);
    const stanza = new Stanza(control.entries());
    stanza.set('Filename', name).set('Size', String(digests.size)).set('MD5sum', digests.md5).set('SHA256', digests.sha256);
    const entry = entryFromStanza(stanza, path);
    entry.localPath = path;
    entries.push(entry);
  }
  return entries;
}

const INDEX_NAMES = ['Packages', 'Packages.gz', 'Packages.xz'];

/**
 * `--packages DIR`: use DIR's Packages index when there is one (its Filename fields resolved against DIR,
 * or by base name for flat folders), else scan DIR's .deb files.
 */
export async function loadPackagesDir(dir: string): Promise<PackageEntry[]> {
  if (!(await pathExists(dir))) throw new UserError(`${dir}: no such packages folder`);
  for (const name of INDEX_NAMES) {
    const indexPath = join(dir, name);
    if (!(await pathExists(indexPath))) continue;
    const entries = await readPackagesIndex(indexPath);
    for (const entry of entries) {
      if (!entry.filename) continue;
      for (const candidate of [join(dir, entry.filename), join(dir, basename(entry.filename))]) {
        if (await pathExists(candidate)) {
          entry.localPath = candidate;
          break;
        }
      }
    }
    return entries;
  }
  const entries = await buildIndexFromDebs(dir);
  if (!entries.length) throw new UserError(`${dir}: no Packages index and no .deb files`);
  return entries;
}

/** Write entries back as a Packages index text. */
export function formatPackagesIndex(entries: PackageEntry[]): string {
  return formatStanzas(entries.map((e) => e.stanza));
}
