import { basename } from 'node:path';
import { UserError } from '../util/errors.js';
import { isInstalled, parseStatusSummary } from './dpkgstatus.js';
import { describeElf, ELF_HEAD_BYTES, parseElfIdentity, type ElfIdentity } from './elf.js';
import { normalizeTarPath, resolveLexically } from '../archive/path-safety.js';
import type { TarEntry } from '../archive/tar-entry.js';
import { escapeError, walkTarGz, type Capture, type WalkResult } from '../archive/tar-read.js';
import { ZoneinfoCollector, type ZoneLookup } from './zoneinfo.js';

/** The small files of the base system the image pipeline needs, captured during the one pass. */
export const CAPTURED_FILES = {
  dpkgStatus: 'var/lib/dpkg/status',
  shadow: 'etc/shadow',
  debianVersion: 'etc/debian_version',
  passwd: 'etc/passwd',
  group: 'etc/group',
  syslogConf: 'etc/syslog.conf',
  hostname: 'etc/hostname',
  dpkgDbFormat: 'var/lib/dpkg/info/format',
} as const;
export type CapturedName = keyof typeof CAPTURED_FILES;

/** Plat'Home's (and Debian's stock OBS600 builder's) root password "root", MD5-crypt. */
export const STOCK_ROOT_HASH = '$1$afC9J.v6$Dkq.k8sVRq7n0Py5eWWAp1';

const CAPTURE_LIMIT: Record<CapturedName, number> = {
  dpkgStatus: 64 << 20,
  shadow: 1 << 20,
  debianVersion: 4096,
  passwd: 1 << 20,
  group: 1 << 20,
  syslogConf: 1 << 20,
  hostname: 4096,
  dpkgDbFormat: 4096,
};

const SUITES: Record<string, string> = {
  '3': 'woody', '4': 'etch', '5': 'lenny', '6': 'squeeze', '7': 'wheezy', '8': 'jessie', '9': 'stretch',
  '10': 'buster', '11': 'bullseye', '12': 'bookworm', '13': 'trixie',
};

/** `5.0.3` → lenny; `lenny/sid` → lenny. */
export function suiteOfDebianVersion(version: string): string | undefined {
  const codename = /^([a-z]+)\//.exec(version);
  if (codename) return codename[1];
  const major = /^(\d+)/.exec(version);
  return major ? SUITES[major[1]] : undefined;
}

export interface ShellInfo {
  /** The symlink chain from bin/sh to the binary, root-relative (e.g. ['bin/sh', 'bin/dash']). */
  chain: string[];
  elf?: ElfIdentity;
}

export interface RootfsReport extends WalkResult {
  debianVersion?: string;
  suite?: string;
  /** The dpkg architecture of the installed packages (the most common one other than `all`). */
  architecture?: string;
  /** Installed packages per Architecture: field value. */
  dpkgArchitectures: Record<string, number>;
  installedPackages: number;
  shell?: ShellInfo;
  /** Whether root still has the stock root/root password (undefined without /etc/shadow). */
  rootHasStockPassword?: boolean;
  /** Contents of the captured files that exist in the tarball. */
  files: Partial<Record<CapturedName, string>>;
  /** The zone asked for (RootfsCheckOptions.zone) in the rootfs's tzdata, or why it is not there. */
  zoneinfo?: ZoneLookup;
  warnings: string[];
}

export interface RootfsCheckOptions {
  /** The dpkg architecture the packages are for; null skips the check. Default powerpc. */
  expectArch?: string | null;
  /** The Debian suite the packages are for; null skips the check. Default lenny. */
  expectSuite?: string | null;
  /** A time zone (the site's timezone:) whose file under usr/share/zoneinfo the pass finds; none when absent. */
  zone?: string | null;
  onProgress?: (done: number, total: number) => void;
}

const MAX_LINK_HOPS = 40;

/** Follow symlinks (in any path component) and hard links inside the archive, as the kernel would. */
export function resolveInArchive(
  start: string,
  symlinks: Map<string, string>,
  hardlinks: Map<string, string>,
): { chain: string[]; path: string } | undefined {
  const chain = [start];
  let pending = start.split('/').filter(Boolean);
  let done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const candidate = [...done, pending[0]].join('/');
    const link = symlinks.get(candidate);
    if (link !== undefined) {
      if (++hops > MAX_LINK_HOPS) return undefined;
      const base = link.startsWith('/') ? '' : done.join('/');
      const relative = link.replace(/^\/+/, '');
      // Inside the archive, `..` at the root stays at the root (as in a chroot).
      const joined = resolveLexically(`${base}/${relative}`, 'clamp')!.join('/');
      pending = [...joined.split('/').filter(Boolean), ...pending.slice(1)];
      done = [];
      chain.push(pending.join('/'));
      continue;
    }
    done.push(pending.shift()!);
  }
  let path = done.join('/');
  const hard = hardlinks.get(path);
  if (hard !== undefined) path = hard;
  if (chain[chain.length - 1] !== path) chain.push(path);
  return { chain, path };
}

/**
 * One streaming pass over the rootfs tarball: integrity to the last byte, what Debian it is, for which
 * machine, and the small files the image pipeline edits. Throws UserError on a damaged archive, an
 * entry escaping the root, a tarball that is not a Debian root filesystem, or (unless disabled) a
 * different architecture or suite than expected.
 */
export async function inspectRootfs(tarball: string, opts: RootfsCheckOptions = {}): Promise<RootfsReport> {
  const label = basename(tarball);
  const expectArch = opts.expectArch === undefined ? 'powerpc' : opts.expectArch;
  const expectSuite = opts.expectSuite === undefined ? 'lenny' : opts.expectSuite;

  const wanted = new Map<string, CapturedName>(
    Object.entries(CAPTURED_FILES).map(([k, v]) => [v, k as CapturedName]),
  );
  const files: Partial<Record<CapturedName, string>> = {};
  const symlinks = new Map<string, string>();
  const hardlinks = new Map<string, string>();
  // First bytes of every regular file: /bin/sh's target can come before or after the link in the tar.
  const heads = new Map<string, Buffer>();
  const zoneinfo = opts.zone ? new ZoneinfoCollector(label, opts.zone) : undefined;

  const capture = (e: TarEntry): Capture => {
    if (e.type !== 'file') return undefined;
    const name = wanted.get(e.path);
    if (name) return { whole: CAPTURE_LIMIT[name] };
    const zoneBytes = zoneinfo?.wants(e);
    if (zoneBytes !== undefined) return { whole: zoneBytes };
    return { head: ELF_HEAD_BYTES };
  };
  const onEntry = (e: TarEntry, data: Buffer | undefined) => {
    if (e.type === 'symlink' && e.linkname !== undefined) {
      symlinks.set(e.path, e.linkname);
    } else if (e.type === 'link' && e.linkname !== undefined) {
      const target = normalizeTarPath(e.linkname);
      if (target !== undefined) hardlinks.set(e.path, target);
    } else if (data) {
      const name = wanted.get(e.path);
      if (name) files[name] = data.toString('utf8');
      else if (zoneinfo?.wants(e) !== undefined) zoneinfo.add(e.path, data);
      else heads.set(e.path, data);
    }
  };

  // A root filesystem is the tree everything else lands in; its relative links above / resolve to / on
  // the box (as in a chroot), and nothing may be written through them (refused by the walk).
  const walk = await walkTarGz(tarball, { capture, onEntry, onProgress: opts.onProgress, escapingSymlinks: 'allow' });
  if (walk.escapes.length > 0) throw escapeError(label, walk.escapes);

  const warnings: string[] = [];
  const report: RootfsReport = {
    ...walk,
    dpkgArchitectures: {},
    installedPackages: 0,
    files,
    warnings,
  };
  if (zoneinfo) report.zoneinfo = zoneinfo.lookup(resolveInArchive(zoneinfo.start, symlinks, hardlinks));

  if (files.dpkgStatus === undefined) {
    throw new UserError(`${label}: no /${CAPTURED_FILES.dpkgStatus}: this is not a Debian root filesystem tarball`, { code: 'input-invalid' });
  }
  const installed = parseStatusSummary(files.dpkgStatus).filter(isInstalled);
  report.installedPackages = installed.length;
  for (const p of installed) {
    const arch = p.architecture ?? '(none)';
    report.dpkgArchitectures[arch] = (report.dpkgArchitectures[arch] ?? 0) + 1;
  }
  const archCounts = Object.entries(report.dpkgArchitectures).filter(([a]) => a !== 'all' && a !== '(none)');
  archCounts.sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
  report.architecture = archCounts[0]?.[0];
  if (installed.length === 0) warnings.push(`${label}: the dpkg status lists no installed packages`);

  if (files.debianVersion !== undefined) {
    report.debianVersion = files.debianVersion.trim();
    report.suite = suiteOfDebianVersion(report.debianVersion);
  } else {
    warnings.push(`${label}: no /${CAPTURED_FILES.debianVersion}`);
  }

  const resolved = resolveInArchive('bin/sh', symlinks, hardlinks);
  if (!resolved) {
    warnings.push(`${label}: /bin/sh is a symlink loop`);
  } else {
    const head = heads.get(resolved.path);
    report.shell = { chain: resolved.chain, elf: head ? parseElfIdentity(head) : undefined };
    if (!head) warnings.push(`${label}: /bin/sh (${resolved.chain.map((p) => '/' + p).join(' -> ')}) is not in the tarball`);
    else if (!report.shell.elf) warnings.push(`${label}: /${resolved.path} (the target of /bin/sh) is not an ELF binary`);
  }

  if (files.shadow !== undefined) {
    const root = files.shadow.split('\n').find((l) => l.startsWith('root:'));
    report.rootHasStockPassword = root?.split(':')[1] === STOCK_ROOT_HASH;
  } else {
    warnings.push(`${label}: no /${CAPTURED_FILES.shadow}`);
  }

  if (expectArch) checkArchitecture(label, report, expectArch);
  if (expectSuite && report.suite && report.suite !== expectSuite) {
    throw new UserError(
      `${label}: this rootfs is Debian ${report.debianVersion} (${report.suite}), but the packages are for ${expectSuite}`,
      { code: 'input-invalid' },
    );
  }
  return report;
}

function checkArchitecture(label: string, report: RootfsReport, expected: string): void {
  const foreign = Object.entries(report.dpkgArchitectures).filter(([a]) => a !== 'all' && a !== '(none)' && a !== expected);
  const elf = report.shell?.elf;
  // The ELF table says "arm" for 32-bit ARM (armel/armhf cannot be told apart from the header alone).
  const elfMatches = !elf || elf.debianArch === expected || (elf.debianArch === 'arm' && /^arm(el|hf)?$/.test(expected));
  if (foreign.length === 0 && elfMatches) return;
  const evidence: string[] = [];
  if (foreign.length > 0) {
    evidence.push(`dpkg status: ${foreign.map(([a, n]) => `${n} package${n === 1 ? '' : 's'} for ${a}`).join(', ')}`);
  }
  if (!elfMatches && elf && report.shell) {
    evidence.push(`/${report.shell.chain[report.shell.chain.length - 1]}: ${describeElf(elf)}`);
  }
  const what = report.architecture && report.architecture !== expected ? report.architecture : elf?.debianArch ?? 'another architecture';
  throw new UserError(`${label}: this rootfs is for ${what}, not ${expected} (${evidence.join('; ')})`, { code: 'input-invalid' });
}
