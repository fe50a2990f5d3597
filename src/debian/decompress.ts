/**
 * Decompression by file suffix: gzip in-process (zlib), xz / zstd / bzip2 / lzma by streaming through the
 * real tools (`xz -dc` ...), so big members never sit in memory. A failing tool (corrupt or truncated
 * input) turns into a stream error instead of a short, silently "successful" output.
 */
import { spawn } from 'node:child_process';
import { PassThrough, Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';

export type Compression = 'none' | 'gzip' | 'xz' | 'zstd' | 'bzip2' | 'lzma';

export function compressionOf(fileName: string): Compression | undefined {
  if (/\.tar$/.test(fileName) || fileName === 'Packages') return 'none';
  if (/\.gz$/.test(fileName)) return 'gzip';
  if (/\.xz$/.test(fileName)) return 'xz';
  if (/\.zst$/.test(fileName)) return 'zstd';
  if (/\.bz2$/.test(fileName)) return 'bzip2';
  if (/\.lzma$/.test(fileName)) return 'lzma';
  return undefined;
}

const TOOLS: Record<Exclude<Compression, 'none' | 'gzip'>, [string, string[]]> = {
  xz: ['xz', ['-dc']],
  zstd: ['zstd', ['-dcq']],
  bzip2: ['bzip2', ['-dc']],
  lzma: ['xz', ['--format=lzma', '-dc']],
};

export function decompress(input: Readable, compression: Compression): Readable {
  if (compression === 'none') return input;
  if (compression === 'gzip') {
    const gunzip = createGunzip({ chunkSize: 64 * 1024 });
    input.on('error', (err) => gunzip.destroy(err));
    return input.pipe(gunzip);
  }
  const [cmd, args] = TOOLS[compression];
  const out = new PassThrough();
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  // Only the last line is reported; keep a bounded tail whatever the tool prints.
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr = (stderr + d).slice(-4096)));
  child.stdin.on('error', () => {}); // EPIPE when the tool gives up early; its exit status tells why
  input.on('error', (err) => {
    child.kill();
    out.destroy(err);
  });
  input.pipe(child.stdin);
  child.stdout.pipe(out, { end: false });
  child.on('error', (err) => out.destroy(new Error(`cannot run ${cmd}: ${err.message}`)));
  child.on('close', (code, signal) => {
    if (code === 0) out.end();
    else if (!out.destroyed) out.destroy(new Error(`${cmd}: ${stderr.trim().split('\n').pop() || `exit ${code ?? signal}`}`));
  });
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return out;
}
