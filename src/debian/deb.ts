/**
 * Reading .deb packages as streams: the ar container (ar.ts) holds debian-binary, control.tar[.gz|.xz|.zst]
 * and data.tar[.gz|.xz|.zst|.bz2]. The control member is small and read into memory, under the caps below;
 * data.tar is streamed entry by entry (src/archive/tar-read.ts) and held to the path-safety rule of
 * src/archive/path-safety.ts. Every format problem becomes a UserError naming the .deb.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ArchiveLimitError, ArchiveTree, describeSpecialFile, entryComponents, isSpecialFile } from '../archive/path-safety.js';
import type { TarEntry } from '../archive/tar-entry.js';
import { readTar, TarFormatError, type EntryContent, type TarEntryHandler } from '../archive/tar-read.js';
import { UserError } from '../util/errors.js';
import { ArFormatError, listArMembers, openArMember, type ArMember } from './ar.js';
import { parseStanza, type Stanza } from './control.js';
import { compressionOf, decompress } from './decompress.js';

export type { EntryContent };

export interface DebControl {
  control: Stanza;
  /** Control members other than the tar itself: control, md5sums, conffiles, preinst, postinst... */
  files: Map<string, { content: Buffer; mode: number }>;
}

async function members(debPath: string): Promise<ArMember[]> {
  let list: ArMember[];
  try {
    list = await listArMembers(debPath);
  } catch (err) {
    if (err instanceof ArFormatError) throw new UserError(`${debPath}: not a valid .deb: ${err.message}`, { code: 'package-invalid', cause: err });
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${debPath}: no such file`, { code: 'package-invalid', cause: err });
    throw err;
  }
  if (list[0]?.name !== 'debian-binary') throw new UserError(`${debPath}: not a valid .deb: first member is not debian-binary`, { code: 'package-invalid' });
  return list;
}

function findMember(debPath: string, list: ArMember[], base: 'control.tar' | 'data.tar'): ArMember {
  const member = list.find((m) => m.name === base || m.name.startsWith(`${base}.`));
  if (!member) throw new UserError(`${debPath}: not a valid .deb: no ${base} member`, { code: 'package-invalid' });
  if (!compressionOf(member.name)) throw new UserError(`${debPath}: unsupported compression in member ${member.name}`, { code: 'package-invalid' });
  return member;
}

/** Strip `./`; reject absolute names and `..` (src/archive/path-safety.ts). */
export function normalizeEntryPath(debPath: string, raw: string, member = 'data.tar'): string {
  const parts = entryComponents(raw);
  if (typeof parts === 'string') throw new UserError(`${debPath}: ${member} entry '${raw}' escapes the root (${parts})`, { code: 'package-invalid' });
  return parts.join('/');
}

/**
 * Caps on the control member, which is read into memory. Real values for comparison: the biggest
 * maintainer scripts are tens of KiB, the biggest templates (tzdata, all translations) about 300 KiB,
 * md5sums of a 100 000-file package about 10 MiB.
 */
export const CONTROL_LIMITS = {
  /** The control.tar member as stored (compressed). */
  member: 16 << 20,
  /** preinst, postinst, prerm, postrm, config: shell scripts, never megabytes. */
  script: 1 << 20,
  md5sums: 32 << 20,
  /** Any other control file (control, conffiles, templates, shlibs, symbols, triggers...). */
  other: 4 << 20,
  /** All control files together, uncompressed. */
  total: 48 << 20,
  files: 64,
};
const SCRIPTS = new Set(['preinst', 'postinst', 'prerm', 'postrm', 'config']);

function controlFileLimit(name: string): [number, string] {
  if (SCRIPTS.has(name)) return [CONTROL_LIMITS.script, 'a maintainer script'];
  if (name === 'md5sums') return [CONTROL_LIMITS.md5sums, 'md5sums'];
  return [CONTROL_LIMITS.other, 'a control file'];
}

function mib(bytes: number): string {
  return `${bytes / (1 << 20)} MiB`;
}

/**
 * Walk a tar member with the archive reader, calling `onEntry` with each entry and its content stream
 * (leftovers are drained), under `tree` when given. Every failure is a UserError naming the .deb.
 */
async function walkTarMember(debPath: string, member: ArMember, onEntry: TarEntryHandler, tree?: ArchiveTree): Promise<void> {
  try {
    await readTar([decompress(openArMember(debPath, member), compressionOf(member.name)!)], onEntry, tree);
  } catch (err) {
    if (err instanceof UserError) throw err;
    if (err instanceof TarFormatError) throw new UserError(`${debPath}: corrupt .deb: ${member.name}: ${err.message}`, { code: 'package-invalid', cause: err });
    // Only data.tar is walked with a tree, which is what counts entries.
    if (err instanceof ArchiveLimitError) throw new UserError(`${debPath}: data.tar has ${err.message}`, { code: 'package-invalid', cause: err });
    throw new UserError(`${debPath}: corrupt or truncated .deb: ${member.name}: ${(err as Error).message}`, { code: 'package-invalid', cause: err });
  }
}

/** All of a stream, or undefined as soon as it holds more than `limit` bytes (never buffering more). */
async function readAtMost(stream: EntryContent, limit: number): Promise<Buffer | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    size += (chunk as Buffer).length;
    if (size > limit) return undefined;
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function readDebControl(debPath: string): Promise<DebControl> {
  const list = await members(debPath);
  const member = findMember(debPath, list, 'control.tar');
  if (member.size > CONTROL_LIMITS.member) {
    throw new UserError(`${debPath}: the ${member.name} member is ${member.size} bytes; a control member is at most ${mib(CONTROL_LIMITS.member)}`, { code: 'package-invalid' });
  }
  const files = new Map<string, { content: Buffer; mode: number }>();
  let total = 0;
  await walkTarMember(debPath, member, async (entry, content) => {
    const name = normalizeEntryPath(debPath, entry.name, member.name);
    if (entry.type !== 'file' || name === '') return;
    if (files.size === CONTROL_LIMITS.files) throw new UserError(`${debPath}: ${member.name} holds more than ${CONTROL_LIMITS.files} files`, { code: 'package-invalid' });
    const [limit, what] = controlFileLimit(name);
    const tooBig = () => new UserError(`${debPath}: control file ${name} is larger than ${mib(limit)}, which is not plausible for ${what}`, { code: 'package-invalid' });
    // The declared size is checked first, so an oversized member is refused before it is decompressed.
    if (entry.size > limit) throw tooBig();
    const data = await readAtMost(content, limit);
    if (!data) throw tooBig();
    total += data.length;
    if (total > CONTROL_LIMITS.total) throw new UserError(`${debPath}: the control files add up to more than ${mib(CONTROL_LIMITS.total)}`, { code: 'package-invalid' });
    files.set(name, { content: data, mode: entry.mode });
  });
  const control = files.get('control');
  if (!control) throw new UserError(`${debPath}: not a valid .deb: control.tar has no control file`, { code: 'package-invalid' });
  let stanza: Stanza;
  try {
    stanza = parseStanza(control.content.toString('utf8'));
  } catch (err) {
    throw new UserError(`${debPath}: bad control file: ${(err as Error).message}`, { code: 'package-invalid', cause: err });
  }
  if (!stanza.get('Package') || !stanza.get('Version')) throw new UserError(`${debPath}: control file lacks Package or Version`, { code: 'package-invalid' });
  return { control: stanza, files };
}

/** Stream data.tar: one call per entry (mode without the file-type bits), with its content stream (empty for non-files). */
export async function forEachDataEntry(debPath: string, onEntry: (entry: TarEntry, content: EntryContent) => Promise<void>): Promise<void> {
  const list = await members(debPath);
  const member = findMember(debPath, list, 'data.tar');
  const tree = new ArchiveTree({ escapingSymlinks: 'refuse' });
  await walkTarMember(
    debPath,
    member,
    async (read, content, safety) => {
      if (isSpecialFile(read.type)) {
        throw new UserError(`${debPath}: data.tar entry '${read.name}' is ${describeSpecialFile(read.type)}: obsbuild does not install device nodes from packages`, { code: 'package-invalid' });
      }
      if (safety.problem) throw new UserError(`${debPath}: data.tar entry '${read.name}' escapes the root (${safety.problem})`, { code: 'package-invalid' });
      const entry: TarEntry = { ...read, mode: read.mode & 0o7777, linkname: undefined };
      if (read.type === 'symlink') entry.linkname = read.linkname ?? '';
      if (read.type === 'link') entry.linkname = normalizeEntryPath(debPath, read.linkname ?? '');
      await onEntry(entry, content);
    },
    tree,
  );
}

export interface FileDigests {
  size: number;
  sha256: string;
  md5: string;
}

/** SHA256 and MD5 of a file in one streaming pass. */
export async function digestFile(file: string): Promise<FileDigests> {
  const sha = createHash('sha256');
  const md5 = createHash('md5');
  let size = 0;
  for await (const chunk of createReadStream(file)) {
    sha.update(chunk as Buffer);
    md5.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { size, sha256: sha.digest('hex'), md5: md5.digest('hex') };
}

export interface ExpectedChecksums {
  size?: number;
  sha256?: string;
  md5?: string;
}

/**
 * Check a .deb against its index entry: SHA256 when the index has it, else MD5Sum (lenny's indexes), and the
 * size. Returns the file's digests. A mismatch is a UserError naming the file.
 */
export async function verifyDebChecksum(debPath: string, expected: ExpectedChecksums): Promise<FileDigests> {
  try {
    await stat(debPath);
  } catch {
    throw new UserError(`${debPath}: no such file`, { code: 'package-invalid' });
  }
  const got = await digestFile(debPath);
  if (expected.size !== undefined && expected.size !== got.size) {
    throw new UserError(`${debPath}: size mismatch: index says ${expected.size} bytes, file has ${got.size} (truncated or wrong file)`, { code: 'package-invalid' });
  }
  if (expected.sha256) {
    if (got.sha256 !== expected.sha256.toLowerCase()) {
      throw new UserError(`${debPath}: checksum mismatch: index says SHA256 ${expected.sha256}, file has ${got.sha256}`, { code: 'package-invalid' });
    }
  } else if (expected.md5) {
    if (got.md5 !== expected.md5.toLowerCase()) {
      throw new UserError(`${debPath}: checksum mismatch: index says MD5Sum ${expected.md5}, file has ${got.md5}`, { code: 'package-invalid' });
    }
  } else {
    throw new UserError(`${debPath}: the index gives no SHA256 or MD5Sum to verify it against`, { code: 'package-invalid' });
  }
  return got;
}
