/**
 * A deterministic .tar.gz writer: entries go out exactly as given (the caller sorts them), with a fixed
 * mtime, and the gzip header carries no timestamp and a fixed OS byte, so equal input gives equal bytes on
 * any machine with the same zlib. Bytes are hashed on the way to disk.
 */
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { Transform, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import * as tar from 'tar-stream';
import { ArchiveLimitError, ArchiveTree } from './path-safety.js';
import type { TarEntryToWrite } from './tar-entry.js';
import { UserError } from '../util/errors.js';

/** Forces the gzip header's MTIME to 0 and OS to 3 (Unix) whatever platform zlib was built for. */
class GzipHeaderNormalizer extends Transform {
  private seen = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.seen < 10) {
      chunk = Buffer.from(chunk);
      for (let i = 0; i < chunk.length && this.seen + i < 10; i++) {
        const at = this.seen + i;
        if (at >= 4 && at <= 7) chunk[i] = 0;
        if (at === 9) chunk[i] = 3;
      }
    }
    this.seen += chunk.length;
    cb(null, chunk);
  }
}

class Digest extends Transform {
  readonly hash = createHash('sha256');
  bytes = 0;
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }
}

export interface TarWriteResult {
  sha256: string;
  bytes: number;
  entries: number;
}

function headerOf(entry: TarEntryToWrite, mtime: Date): tar.Header | (Partial<tar.Header> & { name: string }) {
  const size = entry.content ? ('buffer' in entry.content ? entry.content.buffer.length : entry.content.size) : 0;
  return {
    name: entry.type === 'directory' ? `${entry.path}/` : entry.path,
    type: entry.type,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    uname: entry.uname,
    gname: entry.gname,
    mtime,
    size: entry.type === 'file' ? size : 0,
    linkname: entry.linkname ?? '',
    devmajor: entry.devmajor ?? 0,
    devminor: entry.devminor ?? 0,
  };
}

function addEntry(pack: tar.Pack, entry: TarEntryToWrite, mtime: Date): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const done = (err?: Error | null) => (err ? reject(err) : resolve());
    const header = headerOf(entry, mtime);
    const content = entry.type === 'file' ? entry.content : undefined;
    if (!content) {
      if (entry.type === 'file') pack.entry(header, Buffer.alloc(0), done);
      else pack.entry(header, done);
      return;
    }
    if ('buffer' in content) {
      pack.entry(header, content.buffer, done);
      return;
    }
    const sink = pack.entry(header, done);
    (async () => {
      let written = 0;
      for await (const chunk of createReadStream(content.file)) {
        written += (chunk as Buffer).length;
        if (!sink.write(chunk as Buffer)) await new Promise<void>((r) => sink.once('drain', () => r()));
      }
      if (written !== content.size) throw new Error(`${content.file}: size changed while writing the tarball`);
      sink.end(undefined as unknown as Buffer);
    })().catch((err: Error) => {
      sink.destroy(err);
      reject(err);
    });
  });
}

function checkEntry(tree: ArchiveTree, entry: TarEntryToWrite, label: string): void {
  let checked;
  try {
    checked = tree.add({ name: entry.path, type: entry.type, linkname: entry.linkname });
  } catch (err) {
    if (err instanceof ArchiveLimitError) throw new UserError(`${label}: ${err.message}`, { code: 'package-invalid', cause: err });
    throw err;
  }
  if (checked.problem) throw new UserError(`${label}: entry '${entry.path}' escapes the root (${checked.problem})`, { code: 'package-invalid' });
}

/**
 * Write `entries` in the given order as a gzip tarball at `outFile`. Every entry is held to the path-safety
 * rule of path-safety.ts as it goes out (no entry through an earlier symlink, no symlink above the
 * root): the box's tar must never be handed a tarball that writes outside its target. `label` names the
 * tarball in errors (outFile is usually a temporary name).
 */
export async function writeTarGz(outFile: string, entries: Iterable<TarEntryToWrite>, mtimeSeconds: number, level = 6, label = outFile): Promise<TarWriteResult> {
  const pack = tar.pack();
  const digest = new Digest();
  const writing = pipeline(pack, createGzip({ level }), new GzipHeaderNormalizer(), digest, createWriteStream(outFile, { mode: 0o644 }));
  const mtime = new Date(mtimeSeconds * 1000);
  let count = 0;
  const tree = new ArchiveTree({ escapingSymlinks: 'refuse' });
  try {
    for (const entry of entries) {
      checkEntry(tree, entry, label);
      await addEntry(pack, entry, mtime);
      count++;
    }
    pack.finalize();
    await writing;
  } catch (err) {
    pack.destroy(err as Error);
    await writing.catch(() => {});
    throw err;
  }
  return { sha256: digest.hash.digest('hex'), bytes: digest.bytes, entries: count };
}
