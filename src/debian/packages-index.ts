/**
 * Debian `Packages` indexes: read one (plain, .gz or .xz, streamed stanza by stanza), or build the same
 * entries from a folder of .deb files when there is no index (`--packages DIR`).
 */
import { pathExists } from 'fs-extra';
import { constants } from 'node:fs';
import { open, readdir, realpath, stat } from 'node:fs/promises';
import { basename, join, sep } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { UserError } from '../util/errors.js';
import { ControlSyntaxError, PACKAGES_LIMITS, Stanza, StanzaStreamParser, formatStanzas, parseStanzas } from './control.js';
import { digestFile, readDebControl } from './deb.js';
import { compressionOf, decompress } from './decompress.js';
import { parseVersion } from './version.js';
import { parseRelations, RelationSyntaxError, type Relation, type RelationGroups } from './relations.js';

/** What an index entry says outright (the relations are parsed on demand, see IndexEntry). */
interface PackageFields {
  name: string;
  version: string;
  arch: string;
  /** Path relative to the archive root (pool/main/...), as the index says. */
  filename?: string;
  size?: number;
  sha256?: string;
  md5?: string;
  provides: Relation[];
  /** Where the .deb is on disk, once known (local folder, or the mirror cache after download). */
  localPath?: string;
}

export interface PackageEntry extends PackageFields {
  readonly depends: RelationGroups;
  readonly preDepends: RelationGroups;
  readonly stanza: Stanza;
}

const NO_RELATIONS: Relation[] = [];

/**
 * An index entry. Depends and Pre-Depends are parsed when first read, and an entry read from a big index
 * keeps its (slimmed) stanza as text, parsed on demand: a 20 000-package index then stays small, and
 * only the entries the resolver visits pay for parsing.
 */
// The class takes PackageFields' declarations from this interface (declaration merging): one list of fields.
interface IndexEntry extends PackageFields {}
class IndexEntry implements PackageEntry {
  #where: string;
  #stanza: Stanza | string;
  #depends?: RelationGroups;
  #preDepends?: RelationGroups;

  constructor(stanza: Stanza, where: string, compact: boolean) {
    const name = stanza.get('Package');
    const version = stanza.get('Version');
    if (!name || !version) throw new UserError(`${where}: stanza without Package or Version`, { code: 'package-invalid' });
    try {
      parseVersion(version);
    } catch (err) {
      throw new UserError(`${where}: package ${name}: ${(err as Error).message}`, { code: 'package-invalid', cause: err });
    }
    checkEntryNames(name, version, stanza.get('Architecture'), where);
    const sizeText = stanza.get('Size');
    if (sizeText !== undefined && !/^\d{1,15}$/.test(sizeText)) throw new UserError(`${where}: package ${name}: Size '${sizeText.slice(0, 40)}' is not a number of bytes`, { code: 'package-invalid' });
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
    this.localPath = undefined;
  }

  private relations(text: string | undefined): RelationGroups {
    try {
      return parseRelations(text);
    } catch (err) {
      if (err instanceof RelationSyntaxError) throw new UserError(`${this.#where}: package ${this.name}: ${err.message}`, { code: 'package-invalid', cause: err });
      throw err;
    }
  }

  get stanza(): Stanza {
    if (typeof this.#stanza === 'string') this.#stanza = parseStanzas(this.#stanza, PACKAGES_LIMITS)[0];
    return this.#stanza;
  }

  get depends(): RelationGroups {
    return (this.#depends ??= this.relations(this.stanza.get('Depends')));
  }

  get preDepends(): RelationGroups {
    return (this.#preDepends ??= this.relations(this.stanza.get('Pre-Depends')));
  }
}

/**
 * dpkg's character sets for package names, versions and architectures. Names, versions and architectures
 * end up in file names (the download cache, dpkg's info files), so an entry outside them is refused
 * where the index is read; no real index has one.
 */
const PACKAGE_NAME = /^[A-Za-z0-9][A-Za-z0-9+._-]{0,199}$/;
const VERSION_TEXT = /^[A-Za-z0-9.+~:-]{1,200}$/;
const ARCH_NAME = /^[A-Za-z0-9][A-Za-z0-9-]{0,39}$/;

function checkEntryNames(name: string, version: string, arch: string | undefined, where: string): void {
  if (!PACKAGE_NAME.test(name)) throw new UserError(`${where}: package name '${name.slice(0, 60)}' is not a Debian package name`, { code: 'package-invalid' });
  if (!VERSION_TEXT.test(version)) throw new UserError(`${where}: package ${name}: version '${version.slice(0, 60)}' has characters no Debian version has`, { code: 'package-invalid' });
  if (arch !== undefined && !ARCH_NAME.test(arch)) throw new UserError(`${where}: package ${name}: architecture '${arch.slice(0, 60)}' is not a Debian architecture`, { code: 'package-invalid' });
}

/**
 * An index's Filename as a path under the archive root (or the --packages folder): relative, made of plain
 * names, `.` segments dropped (`dpkg-scanpackages .` writes `./x.deb`), never `..`, never absolute. With
 * `pool`, it must lie under pool/, where Debian's archives keep every .deb. `where` names the entry.
 */
export function archiveFilename(raw: string, where: string, opts: { pool: boolean }): string {
  const fail = (why: string) => new UserError(`${where}: Filename '${raw.slice(0, 120)}' ${why}`, { code: 'package-invalid' });
  if (raw.length > 1024) throw fail('is longer than 1024 characters');
  if (raw.startsWith('/')) throw fail('is an absolute path; it must be relative to the archive root');
  const segments = raw.split('/').filter((s) => s !== '.');
  for (const s of segments) {
    if (s === '..') throw fail("climbs out of the archive with '..'");
    if (s === '') throw fail('has an empty path segment');
    // Debian's pool names use these characters only; '%' for apt-get download's `%3a` epochs in a folder.
    if (!/^[A-Za-z0-9._+~%-]{1,255}$/.test(s)) throw fail('has characters a Debian archive path does not have');
  }
  if (segments.length === 0) throw fail('names no file');
  if (opts.pool && (segments[0] !== 'pool' || segments.length < 2 || raw.includes('%'))) throw fail('is not a file under pool/, where Debian archives keep their .debs');
  return segments.join('/');
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

/** Most text an index may unpack to; Debian's biggest Packages file is ~100 MB. */
const INDEX_TEXT_MAX = 256 << 20;

/**
 * Open a file for reading only when it is a regular file: a device (/dev/zero) or a FIFO would be read
 * forever or block. O_NONBLOCK: opening a FIFO must not wait for a writer; a regular file reads the same.
 */
async function openRegularFile(file: string) {
  let handle;
  try {
    handle = await open(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${file}: no such file`, { code: 'package-invalid', cause: err });
    throw new UserError(`${file}: cannot read the index: ${(err as Error).message}`, { code: 'package-invalid', cause: err });
  }
  if (!(await handle.stat()).isFile()) {
    await handle.close();
    throw new UserError(`${file}: not a regular file`, { code: 'package-invalid' });
  }
  return handle;
}

/** Read every stanza of a Packages index (compression from the file name), streaming, within PACKAGES_LIMITS. */
export async function readPackagesIndex(file: string): Promise<PackageEntry[]> {
  const compression = compressionOf(basename(file)) ?? 'none';
  const reader = new StanzaStreamParser(PACKAGES_LIMITS);
  const entries: PackageEntry[] = [];
  const handle = await openRegularFile(file);
  const raw = handle.createReadStream();
  const bytes = decompress(raw, compression);
  try {
    const decoder = new StringDecoder('utf8');
    let unpacked = 0;
    for await (const chunk of bytes) {
      unpacked += (chunk as Buffer).length;
      if (unpacked > INDEX_TEXT_MAX) throw new UserError(`${file}: unpacks to more than ${INDEX_TEXT_MAX} bytes, more than any Debian index`, { code: 'package-invalid' });
      for (const stanza of reader.push(decoder.write(chunk as Buffer))) entries.push(entryFromStanza(slim(stanza), file, true));
    }
    for (const stanza of reader.push(decoder.end())) entries.push(entryFromStanza(slim(stanza), file, true));
    for (const stanza of reader.end()) entries.push(entryFromStanza(slim(stanza), file, true));
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof ControlSyntaxError) throw new UserError(`${file}:${err.line}: ${err.message}`, { code: 'package-invalid', cause: err });
    throw new UserError(`${file}: cannot read the index: ${(err as Error).message}`, { code: 'package-invalid', cause: err });
  } finally {
    bytes.destroy();
    raw.destroy();
  }
  return entries;
}

/**
 * A file in the --packages folder as a regular file inside it: the path, symlinks resolved, must stay in
 * the folder (no link to /dev/zero or to a file elsewhere), and be a plain file (no FIFO, no device).
 * Undefined when there is no such file; a UserError when there is one but it is not acceptable.
 */
async function fileInside(dirReal: string, dir: string, rel: string): Promise<string | undefined> {
  const path = join(dir, rel);
  let real: string;
  try {
    real = await realpath(path);
  } catch {
    return undefined;
  }
  if (!real.startsWith(dirReal + sep)) throw new UserError(`${path}: leads out of the packages folder (to ${real})`, { code: 'package-invalid' });
  if (!(await stat(real)).isFile()) throw new UserError(`${path}: not a regular file`, { code: 'package-invalid' });
  return path;
}

/** Build index entries from the .deb files of a folder (their control files and checksums). */
export async function buildIndexFromDebs(dir: string): Promise<PackageEntry[]> {
  const names = (await readdir(dir)).filter((n) => n.endsWith('.deb')).sort();
  const dirReal = await realpath(dir);
  const entries: PackageEntry[] = [];
  for (const name of names) {
    const path = await fileInside(dirReal, dir, name);
    if (!path) continue; // a dangling symlink: nothing to read
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
  if (!(await pathExists(dir))) throw new UserError(`${dir}: no such packages folder`, { code: 'package-invalid' });
  for (const name of INDEX_NAMES) {
    const indexPath = join(dir, name);
    if (!(await pathExists(indexPath))) continue;
    const entries = await readPackagesIndex(indexPath);
    const dirReal = await realpath(dir);
    for (const entry of entries) {
      if (!entry.filename) continue;
      const rel = archiveFilename(entry.filename, `${indexPath}: package ${entry.name} ${entry.version}`, { pool: false });
      for (const candidate of new Set([rel, basename(rel)])) {
        const path = await fileInside(dirReal, dir, candidate);
        if (path) {
          entry.localPath = path;
          break;
        }
      }
    }
    return entries;
  }
  const entries = await buildIndexFromDebs(dir);
  if (!entries.length) throw new UserError(`${dir}: no Packages index and no .deb files`, { code: 'package-invalid' });
  return entries;
}

/** Write entries back as a Packages index text. */
export function formatPackagesIndex(entries: PackageEntry[]): string {
  return formatStanzas(entries.map((e) => e.stanza));
}
