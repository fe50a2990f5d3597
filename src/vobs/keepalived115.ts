import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative } from 'node:path';
import { digestFile } from '../debian/deb.js';
import { writeAtomically } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import {
  KEEPALIVED_115_ARCH,
  KEEPALIVED_115_CONFFILES,
  KEEPALIVED_115_COPYRIGHT,
  KEEPALIVED_115_DEB_VERSION,
  KEEPALIVED_115_INIT_SCRIPT,
  KEEPALIVED_115_PACKAGE,
  KEEPALIVED_115_POSTINST,
  KEEPALIVED_115_POSTRM,
  KEEPALIVED_115_PRERM,
  keepalived115Control,
  parseShlibsDepends,
} from './keepalived115-deb.js';
import { vobsCacheDir, vobsRecipe } from './recipe.js';
import { runTool } from '../util/run-tool.js';

/**
 * keepalived 1.1.15 (what the box runs) built from its upstream source for the virtual board's amd64 bookworm
 * guest and packaged as a .deb, so reload behaviour is proven against that daemon and not Debian's 2.x.
 * The source is never part of obsbuild: the user names the tarball (option or OBSBUILD_KEEPALIVED_115_SOURCE)
 * and its sha256 must be the one below (upstream tag v1.1.15, `git archive`).
 *
 *   <vobs cache>/keepalived-1.1.15/<source sha256 prefix>-<recipe hash>/
 *     keepalived_1.1.15-1+obsbuild1_amd64.deb
 *     build.json   what was built, how long it took (the directory is renamed into place complete)
 */

export const KEEPALIVED_115_SOURCE_ENV = 'OBSBUILD_KEEPALIVED_115_SOURCE';
export const KEEPALIVED_115_SHA256 = 'ae00c924c468ce96fe17f2fe9aad2f341494636fd70e177886bd644823b3408e';
/** A .tar.gz of keepalived's source is about 200 KB; anything this large is not it. */
const MAX_SOURCE_BYTES = 16 * 1024 * 1024;
/** The tag's day, 2007-09-18: file dates in the .deb, and the date `keepalived --version` prints. */
const SOURCE_DATE_EPOCH = '1190073600';
const VERSION_DATE = '09/18,2007';

/** Everything that shapes the built package; its hash keys the cache next to the source's sha256. */
export const KEEPALIVED_115_RECIPE = {
  debVersion: KEEPALIVED_115_DEB_VERSION,
  arch: KEEPALIVED_115_ARCH,
  // gcc 4.x defaults (lenny's compiler): K&R-era code and tentative definitions shared across objects.
  cflags: '-O2 -std=gnu89 -fcommon',
  configureArgs: ['--prefix=/usr', '--sysconfdir=/etc', '--mandir=/usr/share/man'],
  // configure enables IPVS only for a 2.6 kernel tree holding net/ip_vs.h; this stand-in is enough.
  standinKernel: {
    'include/linux/utsrelease.h': '#define UTS_RELEASE "2.6.26"\n',
    'include/net/ip_vs.h': '#include <linux/ip_vs.h>\n',
  } as Record<string, string>,
  sourceDateEpoch: SOURCE_DATE_EPOCH,
  // configure bakes the day it ran into VERSION_STRING; pinned, the binary is the same whenever it is built.
  versionDate: VERSION_DATE,
  initScript: KEEPALIVED_115_INIT_SCRIPT,
  postinst: KEEPALIVED_115_POSTINST,
  prerm: KEEPALIVED_115_PRERM,
  postrm: KEEPALIVED_115_POSTRM,
  conffiles: KEEPALIVED_115_CONFFILES,
  copyright: KEEPALIVED_115_COPYRIGHT,
  /** Bump when the package's file layout changes. */
  layoutRevision: 1,
};

export function keepalived115RecipeHash(): string {
  return createHash('sha256').update(JSON.stringify(KEEPALIVED_115_RECIPE)).digest('hex').slice(0, 16);
}

export const KEEPALIVED_115_DEB_NAME = `${KEEPALIVED_115_PACKAGE}_${KEEPALIVED_115_DEB_VERSION.replace(/^\d+:/, '')}_${KEEPALIVED_115_ARCH}.deb`;

/** The tarball the user named: the option wins over the environment; undefined when neither is set. */
export function keepalived115SourcePath(option?: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  const value = option ?? env[KEEPALIVED_115_SOURCE_ENV];
  return value ? value : undefined;
}

/** Checks the named tarball is keepalived 1.1.15's; returns its sha256. Anything else is a one-line UserError. */
export async function verifyKeepalived115Source(path: string): Promise<string> {
  const where = `${path} (${KEEPALIVED_115_SOURCE_ENV})`;
  let size: number;
  try {
    const st = await stat(path);
    if (!st.isFile()) throw new UserError(`${where}: not a file`, { code: 'input-invalid' });
    size = st.size;
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${where}: ${code === 'ENOENT' ? 'no such file' : `cannot read it (${code ?? String(err)})`}`, { code: 'input-invalid', cause: err });
  }
  if (size > MAX_SOURCE_BYTES) throw new UserError(`${where}: ${size} bytes, too large for keepalived 1.1.15's source`, { code: 'input-invalid' });
  const { sha256 } = await digestFile(path);
  if (sha256 !== KEEPALIVED_115_SHA256) {
    throw new UserError(`${where}: sha256 ${sha256} is not keepalived-1.1.15.tar.gz's (${KEEPALIVED_115_SHA256})`, { code: 'input-invalid' });
  }
  return sha256;
}

export interface Keepalived115Info {
  package: string;
  version: string;
  arch: string;
  sourceSha256: string;
  recipeHash: string;
  /** computed from the binaries' NEEDED libraries (dpkg-shlibdeps) */
  depends: string;
  debBytes: number;
  /** Seconds per step. */
  timings: Record<string, number>;
  builtAt: string;
}

export interface Keepalived115Deb {
  dir: string;
  deb: string;
  info: Keepalived115Info;
}

export interface Keepalived115Options {
  /** The tarball; verified against KEEPALIVED_115_SHA256. */
  source: string;
  /** The vobs cache root; the default is the one the stand-in inputs use. */
  cacheRoot?: string;
  rebuild?: boolean;
  log?: (line: string) => void;
}

/** The vobs cache root: the parent of the stand-in inputs' per-recipe directory, so both live and go together. */
function defaultVobsCacheRoot(): string {
  return dirname(vobsCacheDir(vobsRecipe()));
}

export function keepalived115CacheDir(sourceSha256: string, cacheRoot: string = defaultVobsCacheRoot()): string {
  return join(cacheRoot, 'keepalived-1.1.15', `${sourceSha256.slice(0, 16)}-${keepalived115RecipeHash()}`);
}

/** The cached .deb, or undefined when not (completely) built. */
export async function cachedKeepalived115Deb(dir: string): Promise<Keepalived115Deb | undefined> {
  const infoFile = join(dir, 'build.json');
  const deb = join(dir, KEEPALIVED_115_DEB_NAME);
  if (!existsSync(infoFile) || !existsSync(deb)) return undefined;
  return { dir, deb, info: JSON.parse(await readFile(infoFile, 'utf8')) as Keepalived115Info };
}

/** Builds (once per source and recipe) and returns keepalived 1.1.15's .deb. */
export async function ensureKeepalived115Deb(opts: Keepalived115Options): Promise<Keepalived115Deb> {
  const log = opts.log ?? (() => {});
  const sha = await verifyKeepalived115Source(opts.source);
  const dir = keepalived115CacheDir(sha, opts.cacheRoot);
  if (!opts.rebuild) {
    const cached = await cachedKeepalived115Deb(dir);
    if (cached) {
      log(`keepalived 1.1.15: cached in ${dir}`);
      return cached;
    }
  }
  log(`keepalived 1.1.15: building into ${dir}`);
  const info = await writeAtomically(dir, (tmp) => buildInto(tmp, opts.source, sha, log));
  return { dir, deb: join(dir, KEEPALIVED_115_DEB_NAME), info };
}

async function timed<T>(timings: Record<string, number>, name: string, log: (l: string) => void, work: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const r = await work();
  timings[name] = Math.round((performance.now() - t0) / 100) / 10;
  log(`keepalived 1.1.15: ${name} done in ${timings[name]} s`);
  return r;
}

/** Compiles at low priority: the build shares the machine with whatever else runs. */
function niced(cmd: string, args: string[]): [string, string[]] {
  return ['nice', ['-n', '10', cmd, ...args]];
}

async function buildInto(dir: string, source: string, sha: string, log: (l: string) => void): Promise<Keepalived115Info> {
  const r = KEEPALIVED_115_RECIPE;
  const timings: Record<string, number> = {};
  const work = join(dir, 'work');
  const src = join(work, 'src');
  const kernel = join(work, 'kernel');
  const root = join(work, 'root');
  await mkdir(src, { recursive: true });
  const env = { CFLAGS: r.cflags, SOURCE_DATE_EPOCH: r.sourceDateEpoch, LC_ALL: 'C' };

  await timed(timings, 'unpack', log, async () => {
    await runTool('tar', ['-xzf', source, '-C', src, '--strip-components=1', '--no-same-owner'], { what: `unpacking ${source}` });
    // git archive drops the empty bin/ the Makefiles link into.
    await mkdir(join(src, 'bin'), { recursive: true });
    for (const [rel, text] of Object.entries(r.standinKernel)) {
      await mkdir(dirname(join(kernel, rel)), { recursive: true });
      await writeFile(join(kernel, rel), text);
    }
  });

  await timed(timings, 'configure', log, async () => {
    const [cmd, args] = niced('./configure', [...r.configureArgs, `--with-kernel-dir=${kernel}`]);
    const out = await runTool(cmd, args, { cwd: src, env, what: 'configuring keepalived 1.1.15' });
    // Without these the package would lack what the box uses; configure only warns.
    for (const want of ['Use IPVS Framework       : Yes', 'Use VRRP Framework       : Yes']) {
      if (!out.includes(want)) {
        throw new UserError(`configuring keepalived 1.1.15: "${want}" missing from configure's summary (is linux-libc-dev installed?)`, { code: 'tool-failed' });
      }
    }
    const configH = join(src, 'keepalived/include/config.h');
    const text = await readFile(configH, 'utf8');
    const pinned = text.replace(/^(#define VERSION_STRING .*\()[0-9]{2}\/[0-9]{2},[0-9]{4}(\)\\n"$)/m, `$1${r.versionDate}$2`);
    if (pinned === text) throw new UserError(`configuring keepalived 1.1.15: no dated VERSION_STRING in ${configH}`, { code: 'tool-failed' });
    await writeFile(configH, pinned);
  });

  await timed(timings, 'make', log, async () => {
    const [cmd, args] = niced('make', []);
    await runTool(cmd, args, { cwd: src, env, what: 'compiling keepalived 1.1.15 (needs build-essential, libssl-dev, libpopt-dev)' });
  });

  const depends = await timed(timings, 'package', log, async () => {
    await layOut(src, root);
    const deps = await shlibsDepends(work, [join(root, 'usr/sbin/keepalived'), join(root, 'usr/bin/genhash')]);
    await writeControl(root, deps);
    await runTool('dpkg-deb', ['--root-owner-group', '-Zxz', '--build', root, join(dir, KEEPALIVED_115_DEB_NAME)], {
      env: { SOURCE_DATE_EPOCH: r.sourceDateEpoch },
      what: 'packaging keepalived 1.1.15',
    });
    return deps;
  });

  await rm(work, { recursive: true, force: true });
  const info: Keepalived115Info = {
    package: KEEPALIVED_115_PACKAGE,
    version: KEEPALIVED_115_DEB_VERSION,
    arch: KEEPALIVED_115_ARCH,
    sourceSha256: sha,
    recipeHash: keepalived115RecipeHash(),
    depends,
    debBytes: (await stat(join(dir, KEEPALIVED_115_DEB_NAME))).size,
    timings,
    builtAt: new Date().toISOString(),
  };
  await writeFile(join(dir, 'build.json'), JSON.stringify(info, null, 2) + '\n');
  return info;
}

async function put(root: string, rel: string, data: string | Buffer, mode: number): Promise<void> {
  const path = join(root, rel);
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
  await chmod(path, mode);
}

/** The files lenny's package installs, at its paths and modes (upstream's `make install` is Red Hat-shaped). */
async function layOut(src: string, root: string): Promise<void> {
  await put(root, 'usr/sbin/keepalived', await readFile(join(src, 'bin/keepalived')), 0o755);
  await put(root, 'usr/bin/genhash', await readFile(join(src, 'bin/genhash')), 0o755);
  await put(root, 'etc/init.d/keepalived', KEEPALIVED_115_INIT_SCRIPT, 0o755);
  await mkdir(join(root, 'etc/keepalived'), { recursive: true });
  const man: [string, string][] = [
    ['man/man8/keepalived.8', 'usr/share/man/man8/keepalived.8.gz'],
    ['man/man5/keepalived.conf.5', 'usr/share/man/man5/keepalived.conf.5.gz'],
    ['man/man1/genhash.1', 'usr/share/man/man1/genhash.1.gz'],
  ];
  for (const [from, to] of man) {
    await mkdir(dirname(join(root, to)), { recursive: true });
    await runTool('sh', ['-c', 'gzip -9n < "$1" > "$2"', 'sh', join(src, 'doc', from), join(root, to)], { what: `compressing ${from}` });
    await chmod(join(root, to), 0o644);
  }
  const doc = 'usr/share/doc/keepalived';
  await put(root, `${doc}/copyright`, KEEPALIVED_115_COPYRIGHT, 0o644);
  for (const f of await readdir(join(src, 'doc/samples'))) {
    await put(root, `${doc}/samples/${f}`, await readFile(join(src, 'doc/samples', f)), 0o644);
  }
}

/** dpkg-shlibdeps over the binaries: the Depends their NEEDED libraries call for on this (bookworm) system. */
async function shlibsDepends(work: string, binaries: string[]): Promise<string> {
  const pkg = join(work, 'shlibs');
  // dpkg-shlibdeps reads debian/control for the package it computes for; a stub names ours.
  await put(pkg, 'debian/control', `Source: ${KEEPALIVED_115_PACKAGE}\n\nPackage: ${KEEPALIVED_115_PACKAGE}\nArchitecture: ${KEEPALIVED_115_ARCH}\n`, 0o644);
  const out = await runTool('dpkg-shlibdeps', ['-O', ...binaries.flatMap((b) => ['-e', b])], {
    cwd: pkg,
    what: 'computing keepalived 1.1.15\'s library dependencies (dpkg-dev)',
  });
  const deps = parseShlibsDepends(out);
  if (!deps) throw new UserError(`dpkg-shlibdeps gave no shlibs:Depends for ${binaries.join(', ')}`, { code: 'tool-failed' });
  return deps;
}

async function writeControl(root: string, depends: string): Promise<void> {
  const files = await listFiles(root);
  let bytes = 0;
  const md5sums: string[] = [];
  for (const f of files) {
    const d = await digestFile(join(root, f));
    bytes += d.size;
    md5sums.push(`${d.md5}  ${f}`);
  }
  await put(root, 'DEBIAN/control', keepalived115Control({ depends, installedSizeKiB: Math.ceil(bytes / 1024) }), 0o644);
  await put(root, 'DEBIAN/conffiles', KEEPALIVED_115_CONFFILES.join('\n') + '\n', 0o644);
  await put(root, 'DEBIAN/md5sums', md5sums.join('\n') + '\n', 0o644);
  await put(root, 'DEBIAN/postinst', KEEPALIVED_115_POSTINST, 0o755);
  await put(root, 'DEBIAN/prerm', KEEPALIVED_115_PRERM, 0o755);
  await put(root, 'DEBIAN/postrm', KEEPALIVED_115_POSTRM, 0o755);
}

/** Regular files under `root` (DEBIAN/ excluded), relative, sorted. */
async function listFiles(root: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(root, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const rel = relative(root, join(e.parentPath, e.name));
    if (!rel.startsWith('DEBIAN/')) out.push(rel);
  }
  return out.sort();
}
