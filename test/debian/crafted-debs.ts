/**
 * Hand-assembled .debs for hostile-input tests: the ar container and the tar members are written byte by
 * byte (tar-stream), so entries no dpkg-deb would produce (links written through, device nodes, huge
 * control files) can be built without root and without touching the file system they describe.
 */
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createGzip, gzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { arArchive, arHeader } from '../helpers/ar.js';

export interface CraftedEntry {
  name: string;
  type?: tar.Header['type'];
  linkname?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  content?: string;
  devmajor?: number;
  devminor?: number;
}

export async function tarBuffer(entries: CraftedEntry[]): Promise<Buffer> {
  const pack = tar.pack();
  const collected = (async () => {
    const chunks: Buffer[] = [];
    for await (const c of pack) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  })();
  for (const e of entries) {
    const type = e.type ?? 'file';
    const hasData = type === 'file' || type === 'contiguous-file';
    const header: tar.Header = {
      name: e.name,
      type,
      linkname: e.linkname ?? '',
      mode: e.mode ?? (type === 'directory' ? 0o755 : 0o644),
      uid: e.uid ?? 0,
      gid: e.gid ?? 0,
      devmajor: e.devmajor ?? 0,
      devminor: e.devminor ?? 0,
      mtime: new Date(0),
      size: hasData ? Buffer.byteLength(e.content ?? '') : 0,
      uname: '',
      gname: '',
    };
    await new Promise<void>((resolve, reject) => {
      if (hasData) pack.entry(header, e.content ?? '', (err) => (err ? reject(err) : resolve()));
      else pack.entry(header, (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  return collected;
}

export const CONTROL_TEXT = 'Package: crafted\nVersion: 1.0\nArchitecture: powerpc\nMaintainer: T <t@example.org>\nDescription: crafted\n';

/** A .deb from tar entries: gzip members, as lenny's dpkg-deb wrote them. */
export async function craftedDeb(data: CraftedEntry[], control: CraftedEntry[] = [{ name: './control', content: CONTROL_TEXT }]): Promise<Buffer> {
  return arArchive([
    ['debian-binary', Buffer.from('2.0\n')],
    ['control.tar.gz', gzipSync(await tarBuffer(control))],
    ['data.tar.gz', gzipSync(await tarBuffer(data))],
  ]);
}

/**
 * A .deb whose control.tar.gz holds a maintainer script of `scriptBytes` bytes, streamed to disk (the
 * script is never in memory here either), with an empty data.tar.gz.
 */
export async function debWithHugeScript(out: string, scriptName: string, scriptBytes: number): Promise<void> {
  const controlGz = `${out}.control.tar.gz`;
  const pack = tar.pack();
  const writing = pipeline(pack, createGzip({ level: 1 }), createWriteStream(controlGz));
  await new Promise<void>((resolve, reject) => pack.entry({ name: './control', mtime: new Date(0) }, CONTROL_TEXT, (e) => (e ? reject(e) : resolve())));
  const sink = pack.entry({ name: `./${scriptName}`, size: scriptBytes, mode: 0o755, mtime: new Date(0) });
  const block = Buffer.alloc(1 << 20, 'x');
  for (let left = scriptBytes; left > 0; left -= block.length) {
    if (!sink.write(left >= block.length ? block : block.subarray(0, left))) await new Promise<void>((r) => sink.once('drain', () => r()));
  }
  sink.end(undefined as unknown as Buffer);
  pack.finalize();
  await writing;
  const dataGz = gzipSync(await tarBuffer([{ name: './', type: 'directory' }]));
  const fh = await open(out, 'w');
  try {
    const control = await open(controlGz, 'r');
    const { size } = await control.stat();
    await fh.write(Buffer.concat([Buffer.from('!<arch>\n'), arHeader('debian-binary', 4), Buffer.from('2.0\n'), arHeader('control.tar.gz', size)]));
    const buf = Buffer.alloc(1 << 20);
    for (let pos = 0; pos < size; ) {
      const { bytesRead } = await control.read(buf, 0, buf.length, pos);
      await fh.write(buf.subarray(0, bytesRead));
      pos += bytesRead;
    }
    await control.close();
    if (size % 2) await fh.write(Buffer.from('\n'));
    await fh.write(Buffer.concat([arHeader('data.tar.gz', dataGz.length), dataGz, dataGz.length % 2 ? Buffer.from('\n') : Buffer.alloc(0)]));
  } finally {
    await fh.close();
  }
}
