/**
 * The one tar reader: tar-stream's extractor at the end of a pipeline, every entry held to the path-safety
 * rule (path-safety.ts) and handed over in order, with its data as a stream. `walkTarGz` builds on it for a
 * .tar.gz on disk (rootfs, kern.tgz), the .deb reader for a package's members.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ArchiveLimitError, ArchiveTree, entryComponents, type ArchiveTreeOptions, type CheckedEntry } from './path-safety.js';
import type { TarEntry, TarEntryType } from './tar-entry.js';
import { UserError } from '../util/errors.js';

/** An entry's bytes: consume with `for await`, or leave them (the reader drains what is left). */
export type EntryContent = AsyncIterable<Buffer>;

/** A header the reader cannot go past (see sizedNonFile), or a type no tar writer makes; the caller names the file. */
export class TarFormatError extends Error {}

/**
 * Only regular files carry data in a tar archive. A header that gives a directory, link or device a size is
 * corrupt, and tar-stream never ends such an entry's stream (a walk would wait forever), so it is refused
 * from the header alone.
 */
function sizedNonFile(header: tar.Header): boolean {
  const type = header.type ?? 'file';
  return type !== 'file' && type !== 'contiguous-file' && (header.size ?? 0) > 0;
}

const TYPES = new Set<string>(['file', 'directory', 'symlink', 'link', 'character-device', 'block-device', 'fifo']);

/** tar-stream's type, with an unknown typeflag (null) and a contiguous file read as a regular file, as GNU tar does. */
function entryType(header: tar.Header): TarEntryType {
  const type = header.type ?? 'file';
  if (type === 'contiguous-file') return 'file';
  if (!TYPES.has(type)) throw new TarFormatError(`${header.name} has unsupported type ${type}`);
  return type as TarEntryType;
}

/** What the path-safety rule says of a name when there is no tree to check it against. */
function nameSafety(name: string): CheckedEntry {
  const parts = entryComponents(name);
  return typeof parts === 'string' ? { path: undefined, problem: parts } : { path: parts.join('/'), problem: undefined };
}

export type TarEntryHandler = (entry: TarEntry, content: EntryContent, safety: CheckedEntry) => void | Promise<void>;

type Stage = NodeJS.ReadableStream | NodeJS.ReadWriteStream;

/**
 * Read the tar stream that `stages` (a source and its transforms) produce. Each entry is checked against
 * `tree` (the whole archive's path-safety rule; without one, its name alone) and handed to `onEntry`,
 * which says what is wrong by throwing: the reader stops there. `entry.path` is the safe root-relative path,
 * or the stored name when `safety.path` is undefined. Throws TarFormatError, ArchiveLimitError (from the
 * tree), or tar-stream's and the stages' own errors, for the caller to put in a message naming the file.
 */
export async function readTar(stages: Stage[], onEntry: TarEntryHandler, tree?: ArchiveTree): Promise<void> {
  const extract = tar.extract();
  const feeding = pipeline([...stages, extract]);
  feeding.catch(() => {}); // reported below, through the iterator or the await
  try {
    for await (const stream of extract) {
      const header = stream.header;
      if (sizedNonFile(header)) throw new TarFormatError(`${header.name} is a ${header.type} with ${header.size} bytes of data`);
      const type = entryType(header);
      const linkname = header.linkname ?? undefined;
      const safety = tree ? tree.add({ name: header.name, type, linkname }) : nameSafety(header.name);
      const entry: TarEntry = {
        path: safety.path ?? header.name,
        name: header.name,
        type,
        mode: header.mode ?? 0,
        uid: header.uid ?? 0,
        gid: header.gid ?? 0,
        uname: header.uname ?? '',
        gname: header.gname ?? '',
        size: header.size ?? 0,
        linkname,
      };
      if (type === 'character-device' || type === 'block-device') {
        entry.devmajor = header.devmajor ?? 0;
        entry.devminor = header.devminor ?? 0;
      }
      await onEntry(entry, stream as unknown as EntryContent, safety);
      stream.resume();
    }
    await feeding;
  } catch (err) {
    extract.destroy();
    throw err;
  }
}

/** What to keep of an entry's data: nothing, its first bytes, or all of it up to a limit. */
export type Capture = undefined | { head: number } | { whole: number };

export interface WalkOptions {
  /** Decide per entry which bytes to keep; called before the data is read. */
  capture?: (entry: TarEntry) => Capture;
  /** Called for every entry once its data has been read (data only when captured). */
  onEntry?: (entry: TarEntry, data: Buffer | undefined) => void;
  /** Bytes of the file read so far (compressed), and the file size. */
  onProgress?: (done: number, total: number) => void;
  /** Relative symlinks above the root (see path-safety.ts): refused unless the archive is a root filesystem. */
  escapingSymlinks?: ArchiveTreeOptions['escapingSymlinks'];
}

export interface WalkResult {
  file: string;
  size: number;
  sha256: string;
  entries: number;
  /** Decompressed size of the tar stream. */
  tarBytes: number;
  /** Entries that would land outside the archive root (name, hard-link target, or through a symlink). */
  escapes: string[];
}

/** GNU tar ends every archive with at least two 512-byte zero blocks (then pads to a record). */
const END_MARKER = 1024;

/** Translate zlib and tar-stream failures into one line a user can act on. */
function describeFailure(label: string, err: unknown): UserError | unknown {
  if (err instanceof UserError) return err;
  const e = err as NodeJS.ErrnoException;
  const msg = String(e?.message ?? err);
  if (e?.code === 'Z_BUF_ERROR' || /unexpected end of file/i.test(msg)) {
    return new UserError(`${label}: the gzip data ends early: the file is truncated (download it again)`, { code: 'input-invalid', cause: err });
  }
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
    return new UserError(`${label}: corrupt gzip data (${msg}): download the file again`, { code: 'input-invalid', cause: err });
  }
  if (/unexpected end of data/i.test(msg)) {
    return new UserError(`${label}: the tar archive inside ends in the middle of an entry: the file is truncated`, { code: 'input-invalid', cause: err });
  }
  if (/invalid (tar )?header|tar header|checksum/i.test(msg)) {
    return new UserError(`${label}: corrupt tar archive (${msg})`, { code: 'input-invalid', cause: err });
  }
  if (e?.code === 'ENOENT' || e?.code === 'EACCES' || e?.code === 'EISDIR') {
    return new UserError(`${label}: cannot read the file (${e.code})`, { code: 'input-invalid', cause: err });
  }
  return err;
}

/** The bytes `want` keeps of an entry's content; all of it is read either way (the tar stream must go on). */
async function captured(label: string, entry: TarEntry, content: EntryContent, want: NonNullable<Capture>): Promise<Buffer> {
  const limit = 'head' in want ? want.head : want.whole;
  const chunks: Buffer[] = [];
  let kept = 0;
  for await (const chunk of content) {
    const room = limit - kept;
    if ('whole' in want && chunk.length > room) {
      throw new UserError(`${label}: ${entry.path} is larger than ${limit} bytes, which is not plausible for this file`, { code: 'input-invalid' });
    }
    if (room <= 0) continue;
    const part = chunk.subarray(0, room);
    chunks.push(Buffer.from(part));
    kept += part.length;
  }
  return Buffer.concat(chunks);
}

/**
 * One streaming pass over a .tar.gz: sha256 of the file as stored, gzip and tar integrity to the last
 * byte, and every entry handed to the caller, without extracting anything to disk. Memory stays flat:
 * an entry's data is only kept when the caller asks for it (bounded), the rest is read and dropped.
 */
export async function walkTarGz(file: string, opts: WalkOptions = {}): Promise<WalkResult> {
  const label = basename(file);
  let total: number;
  try {
    total = (await stat(file)).size;
  } catch (err) {
    throw describeFailure(label, err);
  }
  const hash = createHash('sha256');
  let readBytes = 0;
  const hashTap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      readBytes += chunk.length;
      opts.onProgress?.(readBytes, total);
      cb(null, chunk);
    },
  });

  // Keep the last END_MARKER bytes of the tar stream to check the end-of-archive marker is there.
  let tarBytes = 0;
  let tail: Buffer = Buffer.alloc(0);
  const tailTap = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      tarBytes += chunk.length;
      tail = chunk.length >= END_MARKER ? chunk.subarray(chunk.length - END_MARKER) : Buffer.concat([tail, chunk]).subarray(-END_MARKER);
      // Copy so the retained tail does not pin a large chunk in memory.
      if (chunk.length >= END_MARKER) tail = Buffer.from(tail);
      cb(null, chunk);
    },
  });

  const escapes: string[] = [];
  let entries = 0;
  const tree = new ArchiveTree({ escapingSymlinks: opts.escapingSymlinks ?? 'refuse' });
  const onEntry: TarEntryHandler = async (entry, content, safety) => {
    entries++;
    if (safety.problem) escapes.push(safety.path === undefined ? entry.name : `${entry.name} (${safety.problem})`);
    const want = opts.capture?.(entry);
    const data = want === undefined ? undefined : await captured(label, entry, content, want);
    opts.onEntry?.(entry, data);
  };

  try {
    // 256 KiB inflate chunks instead of zlib's 16 KiB: a quarter of the time in the rootfs pass went to
    // per-chunk stream overhead (measured with npm run bench).
    const stages = [createReadStream(file, { highWaterMark: 256 << 10 }), hashTap, createGunzip({ chunkSize: 1 << 18 }), tailTap];
    await readTar(stages, onEntry, tree);
  } catch (err) {
    if (err instanceof TarFormatError) throw new UserError(`${label}: corrupt tar archive: ${err.message}`, { code: 'input-invalid', cause: err });
    if (err instanceof ArchiveLimitError) throw new UserError(`${label}: ${err.message}`, { code: 'input-invalid', cause: err });
    const code = (err as NodeJS.ErrnoException)?.code;
    if (!(err instanceof UserError) && !(typeof code === 'string' && code.startsWith('Z_'))) {
      // Damaged deflate data often decodes to garbage that trips the tar parser first; the real
      // cause is the gzip layer, so check it to the end before blaming the tar archive.
      const gzipErr = await gzipFailure(file);
      if (gzipErr) throw describeFailure(label, gzipErr);
    }
    throw describeFailure(label, err);
  }
  if (tarBytes < END_MARKER || tail.some((b) => b !== 0)) {
    throw new UserError(`${label}: the tar archive has no end-of-archive marker: it was cut short before it was compressed`, { code: 'input-invalid' });
  }
  return { file, size: total, sha256: hash.digest('hex'), entries, tarBytes, escapes };
}

/** The gzip layer's own error, if any (a second pass, only taken when the first one failed). */
async function gzipFailure(file: string): Promise<unknown> {
  try {
    await pipeline(createReadStream(file, { highWaterMark: 1 << 20 }), createGunzip(), new Writable({ write: (_c, _e, cb) => cb() }));
    return undefined;
  } catch (err) {
    return err;
  }
}

/** One line for escaping entries, used by every tarball check. */
export function escapeError(label: string, escapes: string[]): UserError {
  const more = escapes.length > 1 ? ` (and ${escapes.length - 1} more)` : '';
  return new UserError(`${label}: entry "${escapes[0]}" escapes the archive root${more}: refusing an archive that would write outside its target`, { code: 'input-invalid' });
}
