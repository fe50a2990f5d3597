import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import tar from 'tar-stream';
import { ArchiveLimitError, ArchiveTree, sizedNonFile, type ArchiveTreeOptions } from '../util/archive-path.js';
import { UserError } from '../util/errors.js';

/**
 * One streaming pass over a .tar.gz: sha256 of the file as stored, gzip and tar integrity to the last
 * byte, and every entry handed to the caller, without extracting anything to disk. Memory stays flat:
 * an entry's data is only kept when the caller asks for it (bounded), the rest is read and dropped.
 */

export type TarEntryType = tar.Header['type'];

export interface TarEntry {
  /** Path relative to the archive root, without `./` or a trailing slash; '' is the root itself. */
  path: string;
  /** The name as stored in the archive. */
  rawName: string;
  type: TarEntryType;
  size: number;
  mode: number;
  uid: number;
  gid: number;
  linkname?: string;
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
  /** Relative symlinks above the root (see util/archive-path.ts): refused unless the archive is a root filesystem. */
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

/**
 * Normalize a tar member name to a root-relative path. Returns undefined when the name is absolute
 * or climbs above the root with `..`: extracting it would write outside the target directory.
 */
export function normalizeTarPath(name: string): string | undefined {
  if (name.startsWith('/')) return undefined;
  const parts: string[] = [];
  for (const part of name.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (parts.length === 0) return undefined;
      parts.pop();
    } else {
      parts.push(part);
    }
  }
  return parts.join('/');
}

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
  const extract = tar.extract();
  extract.on('entry', (header, stream, next) => {
    entries++;
    const type = (header.type ?? 'file') as TarEntryType;
    if (sizedNonFile(header)) {
      next(new UserError(`${label}: corrupt tar archive: ${header.name} is a ${type} with ${header.size} bytes of data`, { code: 'input-invalid' }));
      return;
    }
    let checked;
    try {
      checked = tree.add({ name: header.name, type: type ?? 'file', linkname: header.linkname ?? undefined });
    } catch (err) {
      stream.resume();
      next(err instanceof ArchiveLimitError ? new UserError(`${label}: ${err.message}`, { code: 'input-invalid', cause: err }) : (err as Error));
      return;
    }
    if (checked.problem) escapes.push(checked.path === undefined ? header.name : `${header.name} (${checked.problem})`);
    const entry: TarEntry = {
      path: checked.path ?? header.name,
      rawName: header.name,
      type,
      size: header.size ?? 0,
      mode: header.mode ?? 0,
      uid: header.uid ?? 0,
      gid: header.gid ?? 0,
      linkname: header.linkname ?? undefined,
    };
    const want = opts.capture?.(entry);
    const limit = want === undefined ? 0 : 'head' in want ? want.head : want.whole;
    const chunks: Buffer[] = [];
    let kept = 0;
    let tooBig = false;
    stream.on('data', (data: unknown) => {
      const chunk = data as Buffer;
      if (kept >= limit) {
        if (want && 'whole' in want) tooBig = true;
        return;
      }
      const part = chunk.subarray(0, limit - kept);
      chunks.push(Buffer.from(part));
      kept += part.length;
      if (want && 'whole' in want && part.length < chunk.length) tooBig = true;
    });
    stream.on('error', next);
    stream.on('end', () => {
      if (tooBig) {
        next(new UserError(`${label}: ${entry.path} is larger than ${limit} bytes, which is not plausible for this file`, { code: 'input-invalid' }));
        return;
      }
      try {
        opts.onEntry?.(entry, want === undefined ? undefined : Buffer.concat(chunks));
        next();
      } catch (err) {
        next(err as Error);
      }
    });
  });

  try {
    // 256 KiB inflate chunks instead of zlib's 16 KiB: a quarter of the time in the rootfs pass went to
    // per-chunk stream overhead (measured with npm run bench).
    const gunzip = createGunzip({ chunkSize: 1 << 18 });
    await pipeline(createReadStream(file, { highWaterMark: 256 << 10 }), hashTap, gunzip, tailTap, extract);
  } catch (err) {
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
