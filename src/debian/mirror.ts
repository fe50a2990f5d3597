/**
 * `--mirror URL`: a Debian archive layout. The suite's Release file must carry the archive's signature
 * (Release.gpg, checked by gpgv: see release-signature.ts) unless the user allows unsigned mirrors. The
 * index `dists/<suite>/<component>/binary-<arch>/Packages.gz` (or .xz, or plain) is downloaded into a
 * cache, checked against the Release file, and parsed; .debs are downloaded on demand from their Filename,
 * verified against the index's SHA256 (or MD5Sum, which is all lenny's index carries), and reused from the
 * cache when they still verify. So every byte installed traces back to the archive's signature.
 */
import { pathExists } from 'fs-extra';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { writeAtomically } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { parseStanzas } from './control.js';
import { digestFile, verifyDebChecksum } from './deb.js';
import { readPackagesIndex, type PackageEntry } from './packages-index.js';
import { DEBIAN_KEYRINGS, verifyDetachedSignature, type SignatureVerdict } from './release-signature.js';

export interface DownloadProgress {
  url: string;
  received: number;
  total?: number;
  done: boolean;
}

export interface MirrorOptions {
  url: string;
  suite: string;
  arch: string;
  component?: string;
  cacheDir?: string;
  /** Keyrings for the Release signature (default: Debian's archive keys, removed ones included). */
  keyrings?: string[];
  /** Use a mirror without a (valid) signed Release file, with a warning. */
  allowUnsigned?: boolean;
  onProgress?: (p: DownloadProgress) => void;
  /** Informational lines (cache reuse, fallbacks, who signed the Release file). */
  onNote?: (line: string) => void;
  /** What the user must see: a mirror used without a verified signature (--allow-unsigned). */
  onWarning?: (line: string) => void;
  /** The Release file's signature checked out. */
  onSigned?: (verdict: SignatureVerdict) => void;
}

/** $XDG_CACHE_HOME/obsbuild, else ~/.cache/obsbuild. */
export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return join(env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'obsbuild');
}

function mirrorCacheRoot(opts: MirrorOptions): string {
  const slug = opts.url.replace(/^[a-z]+:\/\//i, '').replace(/\/+$/, '').replace(/[^A-Za-z0-9._-]+/g, '_');
  return join(opts.cacheDir ?? defaultCacheDir(), 'mirrors', slug);
}

function urlOf(base: string, rel: string): string {
  return `${base.replace(/\/+$/, '')}/${rel.replace(/^\/+/, '')}`;
}

class HttpStatusError extends UserError {
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`${url}: HTTP ${status}`);
  }
}

/** Download `url` to `dest` atomically, reporting progress. */
export async function download(url: string, dest: string, onProgress?: (p: DownloadProgress) => void): Promise<void> {
  if (url.startsWith('file:')) return copyLocal(url, dest, onProgress);
  let res: Response;
  try {
    res = await fetch(url);
  } catch (err) {
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new UserError(`${url}: cannot download: ${cause}`);
  }
  if (!res.ok || !res.body) throw new HttpStatusError(res.status, url);
  const total = Number(res.headers.get('content-length')) || undefined;
  let received = 0;
  let lastReport = 0;
  // Counting inside the pipeline: a 'data' listener on the body would start the flow before the file is open.
  const counter = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      received += chunk.length;
      if (onProgress && received - lastReport >= 256 * 1024) {
        lastReport = received;
        onProgress({ url, received, total, done: false });
      }
      cb(null, chunk);
    },
  });
  await writeAtomically(dest, async (tmp) => {
    try {
      await pipeline(Readable.fromWeb(res.body as import('node:stream/web').ReadableStream), counter, createWriteStream(tmp));
    } catch (err) {
      throw new UserError(`${url}: download interrupted: ${(err as Error).message}`);
    }
    if (total !== undefined && received !== total) throw new UserError(`${url}: download cut short (${received} of ${total} bytes)`);
  });
  onProgress?.({ url, received, total, done: true });
}

/** A mirror copy on a local disk (`--mirror file:///srv/debian`): same layout, no network. */
async function copyLocal(url: string, dest: string, onProgress?: (p: DownloadProgress) => void): Promise<void> {
  const source = fileURLToPath(url);
  let size: number;
  try {
    size = (await stat(source)).size;
  } catch {
    throw new HttpStatusError(404, url);
  }
  await writeAtomically(dest, (tmp) => pipeline(createReadStream(source), createWriteStream(tmp)));
  onProgress?.({ url, received: size, total: size, done: true });
}

interface ReleaseSum {
  sha256?: string;
  md5?: string;
  size: number;
}

/** A Release file listing `files` (paths under dists/<suite>/) with their SHA256, as an archive publishes it. */
export function formatRelease(opts: { origin: string; suite: string; architectures: string[]; files: { path: string; size: number; sha256: string }[] }): string {
  return (
    `Origin: ${opts.origin}\nSuite: ${opts.suite}\nCodename: ${opts.suite}\nArchitectures: ${opts.architectures.join(' ')}\nComponents: main\n` +
    `SHA256:\n${opts.files.map((f) => ` ${f.sha256} ${f.size} ${f.path}\n`).join('')}`
  );
}

/** Checksums of the index files as listed in a Release file (`SHA256:` / `MD5Sum:` blocks). */
export function parseReleaseSums(text: string): Map<string, ReleaseSum> {
  const sums = new Map<string, ReleaseSum>();
  const stanza = parseStanzas(text)[0];
  if (!stanza) return sums;
  for (const [field, key] of [['MD5Sum', 'md5'], ['SHA256', 'sha256']] as const) {
    for (const line of (stanza.get(field) ?? '').split('\n')) {
      const [hash, size, path] = line.trim().split(/\s+/);
      if (!hash || !path) continue;
      const entry = sums.get(path) ?? { size: Number(size) };
      entry[key] = hash.toLowerCase();
      sums.set(path, entry);
    }
  }
  return sums;
}

const INDEX_VARIANTS = ['Packages.gz', 'Packages.xz', 'Packages'];

/** Download (or reuse from the cache when offline) and parse the mirror's Packages index. */
export async function fetchMirrorIndex(opts: MirrorOptions): Promise<PackageEntry[]> {
  const component = opts.component ?? 'main';
  const root = mirrorCacheRoot(opts);
  const distRel = `dists/${opts.suite}`;
  let release: Map<string, ReleaseSum> | undefined;
  const releaseUrl = urlOf(opts.url, `${distRel}/Release`);
  const releasePath = join(root, distRel, 'Release');
  try {
    await download(releaseUrl, releasePath, opts.onProgress);
    release = parseReleaseSums(await readFile(releasePath, 'utf8'));
  } catch (err) {
    if (!(err instanceof HttpStatusError)) throw err;
    if (!opts.allowUnsigned) {
      throw new UserError(
        `${releaseUrl}: HTTP ${err.status}: the mirror has no Release file for suite "${opts.suite}", so nothing can be verified; check the URL and packages.suite, or pass --allow-unsigned for an unsigned mirror`,
      );
    }
    opts.onWarning?.(`${opts.url}: no Release file for ${opts.suite}; the index is checked against nothing (--allow-unsigned)`);
  }
  if (release) await checkReleaseSignature(opts, releaseUrl, releasePath);
  const tried: string[] = [];
  for (const variant of INDEX_VARIANTS) {
    const rel = `${component}/binary-${opts.arch}/${variant}`;
    const url = urlOf(opts.url, `${distRel}/${rel}`);
    const dest = join(root, distRel, rel);
    try {
      await download(url, dest, opts.onProgress);
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) {
        tried.push(variant);
        continue;
      }
      if (!(await pathExists(dest))) throw err;
      opts.onNote?.(`${(err as Error).message}; using the cached ${dest}`);
    }
    const expected = release?.get(rel);
    if (expected) {
      const got = await digestFile(dest);
      const ok = expected.sha256 ? got.sha256 === expected.sha256 : expected.md5 ? got.md5 === expected.md5 : true;
      if (!ok || got.size !== expected.size) {
        await rm(dest, { force: true });
        throw new UserError(`${url}: checksum does not match ${distRel}/Release`);
      }
    }
    return readPackagesIndex(dest);
  }
  throw new UserError(`${opts.url}: no package index for ${opts.suite}/${component}/${opts.arch} (tried ${tried.join(', ')} under ${distRel}/${component}/binary-${opts.arch}/)`);
}

/** Release.gpg over Release, unless unsigned mirrors are allowed (then a failed check is a warning). */
async function checkReleaseSignature(opts: MirrorOptions, releaseUrl: string, releasePath: string): Promise<void> {
  const signaturePath = `${releasePath}.gpg`;
  try {
    await rm(signaturePath, { force: true }); // never judge this Release by an older download's signature
    try {
      await download(`${releaseUrl}.gpg`, signaturePath, opts.onProgress);
    } catch (err) {
      if (!(err instanceof HttpStatusError)) throw err;
      throw new UserError(`${releaseUrl}.gpg: HTTP ${err.status}: the Release file is not signed, so nothing from this mirror can be verified; pass --allow-unsigned to use it anyway`);
    }
    const verdict = await verifyDetachedSignature(releasePath, signaturePath, opts.keyrings ?? DEBIAN_KEYRINGS, releaseUrl);
    opts.onSigned?.(verdict);
    opts.onNote?.(
      `${releaseUrl}: signed by "${verdict.signer}" (${verdict.fingerprint})` +
        (verdict.keyExpired ? '; that key has expired since, as archived releases\' keys do' : ''),
    );
  } catch (err) {
    if (!(err instanceof UserError) || !opts.allowUnsigned) throw err;
    opts.onWarning?.(`${err.message.replace(/; pass --allow-unsigned.*$/, '')} (used anyway: --allow-unsigned)`);
  }
}

/** Make each entry's .deb available locally (cache hit that verifies, else download + verify); sets localPath. */
export async function fetchDebs(opts: MirrorOptions, entries: PackageEntry[]): Promise<void> {
  const root = mirrorCacheRoot(opts);
  for (const entry of entries) {
    if (!entry.filename) throw new UserError(`${opts.url}: index entry ${entry.name} ${entry.version} has no Filename`);
    const dest = join(root, entry.filename);
    const expected = { sha256: entry.sha256, md5: entry.md5, size: entry.size };
    if (await pathExists(dest)) {
      try {
        await verifyDebChecksum(dest, expected);
        entry.localPath = dest;
        opts.onNote?.(`${entry.name} ${entry.version}: from the cache`);
        continue;
      } catch {
        await rm(dest, { force: true }); // stale or damaged cache entry: fetch again
      }
    }
    await mkdir(dirname(dest), { recursive: true });
    await download(urlOf(opts.url, entry.filename), dest, opts.onProgress);
    try {
      await verifyDebChecksum(dest, expected);
    } catch (err) {
      await rm(dest, { force: true });
      throw err;
    }
    entry.localPath = dest;
  }
}
