/**
 * `--mirror URL`: a Debian archive layout. The suite's Release file must carry the archive's signature
 * (Release.gpg, checked by gpgv: see release-signature.ts) unless the user allows unsigned mirrors. The
 * index `dists/<suite>/<component>/binary-<arch>/Packages.gz` (or .xz, or plain) is downloaded into a
 * cache, checked against the Release file, and parsed; .debs are downloaded on demand from their Filename
 * (a path under pool/, nothing else), kept in the cache under apt's name for them, verified against the
 * index's SHA256 (or MD5Sum, which is all lenny's index carries), and reused from the cache when they still
 * verify. So every byte installed traces back to the archive's signature. Until then, nothing the mirror
 * sends is trusted: every download has a size cap (download.ts), and no index field names a local path.
 */
import { pathExists } from 'fs-extra';
import { lstat, readFile, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { UserError } from '../util/errors.js';
import { ControlSyntaxError, parseStanzas, RELEASE_LIMITS } from './control.js';
import { digestFile, verifyDebChecksum } from './deb.js';
import { download, DownloadTooBigError, HttpStatusError, type DownloadLimit, type DownloadProgress } from './download.js';
import { archiveFilename, readPackagesIndex, type PackageEntry } from './packages-index.js';
import { DEBIAN_KEYRINGS, verifyDetachedSignature, type SignatureVerdict } from './release-signature.js';

export type { DownloadProgress } from './download.js';

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
  /** Give up on a download when the mirror sends nothing for this long (default: download.ts's). */
  idleTimeoutMs?: number;
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

/**
 * Caps for what a mirror sends before anything vouches for it, far above any real archive's files:
 * Debian's Release files are ~200 kB, their signatures ~2 kB, the biggest Packages index ~100 MB unpacked.
 * An index the Release file lists is capped at the size given there, a .deb at its Size in the index.
 */
const RELEASE_LIMIT: DownloadLimit = { maxBytes: 16 << 20, why: 'the cap for a Release file' };
const SIGNATURE_LIMIT: DownloadLimit = { maxBytes: 1 << 20, why: 'the cap for a Release.gpg signature' };
const INDEX_MAX = 256 << 20;
/** No .deb comes near 1 GiB (lenny's biggest are ~100 MB); a bigger Size in an index is refused. */
export const DEB_MAX = 1 << 30;

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

/** Checksums of the index files as listed in a Release file (`SHA256:` / `MD5Sum:` blocks); `where` names it in errors. */
export function parseReleaseSums(text: string, where = 'Release'): Map<string, ReleaseSum> {
  const sums = new Map<string, ReleaseSum>();
  let stanzas;
  try {
    stanzas = parseStanzas(text, RELEASE_LIMITS);
  } catch (err) {
    if (err instanceof ControlSyntaxError) throw new UserError(`${where}:${err.line}: ${err.message}`, { code: 'package-invalid', cause: err });
    throw err;
  }
  const stanza = stanzas[0];
  if (!stanza) return sums;
  for (const [field, key] of [['MD5Sum', 'md5'], ['SHA256', 'sha256']] as const) {
    for (const line of (stanza.get(field) ?? '').split('\n')) {
      const [hash, size, path] = line.trim().split(/\s+/);
      if (!hash || !path) continue;
      // A size that is not a plain number would make every comparison fail, or cap a download at NaN.
      if (!/^\d{1,15}$/.test(size ?? '')) throw new UserError(`${where}: ${field} entry for ${path.slice(0, 200)} has size '${String(size).slice(0, 40)}', not a number of bytes`, { code: 'package-invalid' });
      const entry = sums.get(path) ?? { size: Number(size) };
      entry[key] = hash.toLowerCase();
      sums.set(path, entry);
    }
  }
  return sums;
}

const INDEX_VARIANTS = ['Packages.gz', 'Packages.xz', 'Packages'];

/** The most bytes to take for an index: its size in the (signed) Release file when listed there, else the cap. */
function indexLimit(url: string, expected: ReleaseSum | undefined, distRel: string): DownloadLimit {
  if (!expected) return { maxBytes: INDEX_MAX, why: 'the cap for a Packages index' };
  if (expected.size > INDEX_MAX) throw new UserError(`${url}: ${distRel}/Release lists it with ${expected.size} bytes, over the cap for a Packages index (${INDEX_MAX} bytes)`, { code: 'package-invalid' });
  return { maxBytes: expected.size, why: `its size in ${distRel}/Release` };
}

/** Download (or reuse from the cache when offline) and parse the mirror's Packages index. */
export async function fetchMirrorIndex(opts: MirrorOptions): Promise<PackageEntry[]> {
  const component = opts.component ?? 'main';
  const root = mirrorCacheRoot(opts);
  const distRel = `dists/${opts.suite}`;
  let release: Map<string, ReleaseSum> | undefined;
  const releaseUrl = urlOf(opts.url, `${distRel}/Release`);
  const releasePath = join(root, distRel, 'Release');
  let haveRelease = false;
  try {
    await download(releaseUrl, releasePath, RELEASE_LIMIT, opts.onProgress, { idleTimeoutMs: opts.idleTimeoutMs });
    haveRelease = true;
  } catch (err) {
    if (!(err instanceof HttpStatusError)) throw err;
    if (!opts.allowUnsigned) {
      throw new UserError(
        `${releaseUrl}: HTTP ${err.status}: the mirror has no Release file for suite "${opts.suite}", so nothing can be verified; check the URL and packages.suite, or pass --allow-unsigned for an unsigned mirror`,
        { code: 'mirror-failed', cause: err },
      );
    }
    opts.onWarning?.(`${opts.url}: no Release file for ${opts.suite}; the index is checked against nothing (--allow-unsigned)`);
  }
  if (haveRelease) {
    // The signature first: what the Release file says is read only once the archive vouches for it.
    await checkReleaseSignature(opts, releaseUrl, releasePath);
    release = parseReleaseSums(await readFile(releasePath, 'utf8'), releaseUrl);
  }
  const tried: string[] = [];
  for (const variant of INDEX_VARIANTS) {
    const rel = `${component}/binary-${opts.arch}/${variant}`;
    const url = urlOf(opts.url, `${distRel}/${rel}`);
    const dest = join(root, distRel, rel);
    const expected = release?.get(rel);
    try {
      await download(url, dest, indexLimit(url, expected, distRel), opts.onProgress, { idleTimeoutMs: opts.idleTimeoutMs });
    } catch (err) {
      if (err instanceof HttpStatusError && err.status === 404) {
        tried.push(variant);
        continue;
      }
      // Offline, the cached copy (checked below like a download) will do; an oversized answer is no outage.
      if (err instanceof DownloadTooBigError || !(await pathExists(dest))) throw err;
      opts.onNote?.(`${(err as Error).message}; using the cached ${dest}`);
    }
    if (expected) {
      const got = await digestFile(dest);
      const ok = expected.sha256 ? got.sha256 === expected.sha256 : expected.md5 ? got.md5 === expected.md5 : true;
      if (!ok || got.size !== expected.size) {
        await rm(dest, { force: true });
        throw new UserError(`${url}: checksum does not match ${distRel}/Release`, { code: 'mirror-failed' });
      }
    }
    return readPackagesIndex(dest);
  }
  throw new UserError(`${opts.url}: no package index for ${opts.suite}/${component}/${opts.arch} (tried ${tried.join(', ')} under ${distRel}/${component}/binary-${opts.arch}/)`, { code: 'mirror-failed' });
}

/** Release.gpg over Release, unless unsigned mirrors are allowed (then a failed check is a warning). */
async function checkReleaseSignature(opts: MirrorOptions, releaseUrl: string, releasePath: string): Promise<void> {
  const signaturePath = `${releasePath}.gpg`;
  try {
    await rm(signaturePath, { force: true }); // never judge this Release by an older download's signature
    try {
      await download(`${releaseUrl}.gpg`, signaturePath, SIGNATURE_LIMIT, opts.onProgress, { idleTimeoutMs: opts.idleTimeoutMs });
    } catch (err) {
      if (!(err instanceof HttpStatusError)) throw err;
      throw new UserError(`${releaseUrl}.gpg: HTTP ${err.status}: the Release file is not signed, so nothing from this mirror can be verified; pass --allow-unsigned to use it anyway`, { code: 'mirror-failed', cause: err });
    }
    const verdict = await verifyDetachedSignature(releasePath, signaturePath, opts.keyrings ?? DEBIAN_KEYRINGS, releaseUrl);
    opts.onSigned?.(verdict);
    opts.onNote?.(
      `${releaseUrl}: signed by "${verdict.signer}" (${verdict.fingerprint})` +
        (verdict.keyExpired ? '; that key has expired since, as archived releases\' keys do' : ''),
    );
  } catch (err) {
    if (!(err instanceof UserError) || err instanceof DownloadTooBigError || !opts.allowUnsigned) throw err;
    opts.onWarning?.(`${err.message.replace(/; pass --allow-unsigned.*$/, '')} (used anyway: --allow-unsigned)`);
  }
}

/**
 * Where a .deb is kept in the cache: named by package, version and architecture as apt names its
 * archives (`<name>_<version, ':' as %3a>_<arch>.deb`), never by the index's Filename, so no index field
 * can point the cache's writes and deletions outside the cache's own folder. The entry's fields were
 * checked against dpkg's character sets when the index was read.
 */
export function debCachePath(cacheRoot: string, entry: PackageEntry, where: string): string {
  const name = `${entry.name}_${entry.version.replace(/:/g, '%3a')}_${entry.arch}.deb`;
  if (name.length > 255) throw new UserError(`${where}: index entry ${entry.name.slice(0, 60)}: name, version and architecture too long for a file name`, { code: 'package-invalid' });
  return join(cacheRoot, 'debs', name);
}

/** The .deb's Size in the index is all it may have; an index with no Size gets the general cap. */
function debLimit(url: string, entry: PackageEntry): DownloadLimit {
  if (entry.size === undefined) return { maxBytes: DEB_MAX, why: 'the cap for a .deb (the index gives no Size)' };
  if (entry.size > DEB_MAX) throw new UserError(`${url}: the index gives Size ${entry.size}, over the cap for a .deb (${DEB_MAX} bytes)`, { code: 'package-invalid' });
  return { maxBytes: entry.size, why: 'its Size in the index' };
}

/** Make each entry's .deb available locally (cache hit that verifies, else download + verify); sets localPath. */
export async function fetchDebs(opts: MirrorOptions, entries: PackageEntry[]): Promise<void> {
  const root = mirrorCacheRoot(opts);
  for (const entry of entries) {
    if (!entry.filename) throw new UserError(`${opts.url}: index entry ${entry.name} ${entry.version} has no Filename`, { code: 'package-invalid' });
    const url = urlOf(opts.url, archiveFilename(entry.filename, `${opts.url}: index entry ${entry.name} ${entry.version}`, { pool: true }));
    const dest = debCachePath(root, entry, opts.url);
    const expected = { sha256: entry.sha256, md5: entry.md5, size: entry.size };
    if (await isRegularFile(dest)) {
      try {
        await verifyDebChecksum(dest, expected);
        entry.localPath = dest;
        opts.onNote?.(`${entry.name} ${entry.version}: from the cache`);
        continue;
      } catch {
        // stale or damaged cache entry: the download below replaces it (atomically)
      }
    }
    await download(url, dest, debLimit(url, entry), opts.onProgress, { idleTimeoutMs: opts.idleTimeoutMs });
    try {
      await verifyDebChecksum(dest, expected);
    } catch (err) {
      await rm(dest, { force: true });
      throw err;
    }
    entry.localPath = dest;
  }
}

async function isRegularFile(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFile();
  } catch {
    return false;
  }
}
