import { basename } from 'node:path';
import { SetidWarnings, describeSpecialFile, isSpecialFile } from '../archive/path-safety.js';
import type { TarEntry } from '../archive/tar-entry.js';
import { escapeError, walkTarGz, type WalkResult } from '../archive/tar-read.js';
import { UserError } from '../util/errors.js';

/**
 * kern.tgz: Plat'Home's kernel modules, unpacked at `/` on the box. What matters is the
 * lib/modules/<release>/ tree: its release must be the uImage kernel's, and for a load balancer it must
 * hold ip_vs.ko.
 */

export interface KernTgzReport extends WalkResult {
  /** Every lib/modules/<release>/ directory found. */
  versions: string[];
  /** The release of the modules tree (the only one, or the one matching the kernel). */
  modulesVersion: string;
  moduleCount: number;
  hasModulesDep: boolean;
  /** Path of ip_vs.ko inside the archive, when present. */
  ipVsPath?: string;
  /** Every modules tree found, by release. */
  trees: Record<string, ModulesTree>;
  warnings: string[];
}

export interface ModulesTree {
  moduleCount: number;
  hasModulesDep: boolean;
  ipVsPath?: string;
}

const MODULES_DIR = /^(?:lib\/modules)\/([^/]+)(?:\/(.*))?$/;

export interface KernTgzOptions {
  /** The kernel's release (from the uImage): the modules must be for it. */
  kernelVersion?: string;
  onProgress?: (done: number, total: number) => void;
}

export async function inspectKernTgz(file: string, opts: KernTgzOptions = {}): Promise<KernTgzReport> {
  const label = basename(file);
  const perVersion = new Map<string, { modules: number; dep: boolean; ipVs?: string }>();
  const trees: Record<string, ModulesTree> = {};
  const outside: string[] = [];
  const setid = new SetidWarnings(label);
  const onEntry = (e: TarEntry) => {
    if (isSpecialFile(e.type)) {
      throw new UserError(`${label}: entry "${e.name}" is ${describeSpecialFile(e.type)}: a kernel modules archive holds no device nodes`, { code: 'input-invalid' });
    }
    if (e.type === 'file') {
      setid.add(e.path, e.mode, e.uid, e.gid);
    }
    if (e.path === '' || e.path === 'lib' || e.path === 'lib/modules') return;
    const m = MODULES_DIR.exec(e.path);
    if (!m) {
      if (e.type !== 'directory') outside.push(e.path);
      return;
    }
    const [, version, rest = ''] = m;
    const v = perVersion.get(version) ?? { modules: 0, dep: false };
    perVersion.set(version, v);
    if (e.type === 'file' || e.type === 'link') {
      if (rest.endsWith('.ko')) v.modules++;
      if (rest === 'modules.dep') v.dep = true;
      if (/(^|\/)ip_vs\.ko$/.test(rest) && (!v.ipVs || rest === 'kernel/net/netfilter/ipvs/ip_vs.ko')) v.ipVs = e.path;
    }
  };
  const walk = await walkTarGz(file, { onEntry, onProgress: opts.onProgress });
  if (walk.escapes.length > 0) throw escapeError(label, walk.escapes);

  const versions = [...perVersion.keys()].sort();
  if (versions.length === 0) {
    throw new UserError(`${label}: no lib/modules/<version>/ tree: this is not a kernel modules archive`, { code: 'input-invalid' });
  }
  const warnings: string[] = setid.lines();
  let modulesVersion: string;
  if (opts.kernelVersion !== undefined) {
    if (!perVersion.has(opts.kernelVersion)) {
      throw modulesMismatch(label, versions, opts.kernelVersion);
    }
    modulesVersion = opts.kernelVersion;
  } else {
    modulesVersion = versions[versions.length - 1];
  }
  if (versions.length > 1) {
    warnings.push(`${label}: modules for several kernels (${versions.join(', ')})`);
  }
  if (outside.length > 0) {
    warnings.push(`${label}: ${outside.length} entries outside lib/modules/ (e.g. /${outside[0]}); they are unpacked at / too`);
  }
  for (const [v, t] of perVersion) trees[v] = { moduleCount: t.modules, hasModulesDep: t.dep, ipVsPath: t.ipVs };
  const chosen = perVersion.get(modulesVersion)!;
  if (chosen.modules === 0) warnings.push(`${label}: lib/modules/${modulesVersion}/ holds no .ko modules`);
  return {
    ...walk,
    versions,
    modulesVersion,
    moduleCount: chosen.modules,
    hasModulesDep: chosen.dep,
    ipVsPath: chosen.ipVs,
    trees,
    warnings,
  };
}

/** The OpenWrt classic: modules for one kernel, a kernel of another. Say which is which. */
export function modulesMismatch(label: string, versions: string[], kernelVersion: string): UserError {
  return new UserError(
    `${label}: modules are for kernel ${versions.join(', ')} but uImage.initrd-cfboot is kernel ${kernelVersion}: ` +
      `use the kern.tgz Plat'Home published with that kernel`,
    { code: 'input-invalid' },
  );
}

/**
 * For checks run in parallel with the uImage's: pick the modules tree matching the kernel release,
 * or throw the mismatch error.
 */
export function matchModulesToKernel(report: KernTgzReport, kernelVersion: string): KernTgzReport {
  if (report.modulesVersion === kernelVersion) return report;
  const tree = report.trees[kernelVersion];
  if (!tree) throw modulesMismatch(basename(report.file), report.versions, kernelVersion);
  return { ...report, modulesVersion: kernelVersion, ...tree };
}
