import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runTool } from '../util/run-tool.js';

/** Debian's kernel package, unpacked: the bzImage and a modules tree with a fresh modules.dep. */
export interface UnpackedKernel {
  /** `uname -r`, e.g. 6.1.0-56-amd64. */
  release: string;
  /** The kernel package's version, e.g. 6.1.192-2. */
  packageVersion: string;
  vmlinuz: string;
  /** The unpacked package root: lib/modules/<release>/… lives under it. */
  root: string;
}

export async function unpackKernel(deb: string, dest: string): Promise<UnpackedKernel> {
  await mkdir(dest, { recursive: true });
  await runTool('dpkg-deb', ['-x', deb, dest], { what: `unpacking ${deb}` });
  const packageVersion = (await runTool('dpkg-deb', ['-f', deb, 'Version'])).trim();
  const releases = await readdir(join(dest, 'lib/modules'));
  if (releases.length !== 1) throw new Error(`${deb}: expected one lib/modules/<release>, found ${releases.join(', ')}`);
  const release = releases[0];
  const vmlinuz = join(dest, 'boot', `vmlinuz-${release}`);
  if (!existsSync(vmlinuz)) throw new Error(`${deb}: no boot/vmlinuz-${release}`);
  // The package leaves modules.dep to its postinst: make it here.
  await runTool('depmod', ['-b', dest, release], { what: 'indexing the kernel modules' });
  return { release, packageVersion, vmlinuz, root: dest };
}

/** modules.dep as a map from module path (relative to lib/modules/<release>) to its dependencies. */
export async function readModulesDep(kernel: UnpackedKernel): Promise<Map<string, string[]>> {
  const text = await readFile(join(kernel.root, 'lib/modules', kernel.release, 'modules.dep'), 'utf8');
  return parseModulesDep(text);
}

export function parseModulesDep(text: string): Map<string, string[]> {
  const deps = new Map<string, string[]>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    deps.set(line.slice(0, colon), line.slice(colon + 1).trim().split(/\s+/).filter(Boolean));
  }
  return deps;
}

/** A module's path in modules.dep from its name (dashes and underscores are the same to modprobe). */
export function modulePathByName(deps: Map<string, string[]>, name: string): string | undefined {
  const want = name.replace(/-/g, '_');
  for (const path of deps.keys()) {
    const base = path.slice(path.lastIndexOf('/') + 1).replace(/\.ko(\.[a-z]+)?$/, '').replace(/-/g, '_');
    if (base === want) return path;
  }
  return undefined;
}

/** The given module paths plus everything they depend on, in modules.dep terms. */
export function moduleClosure(deps: Map<string, string[]>, paths: string[]): string[] {
  const seen = new Set<string>();
  const visit = (p: string) => {
    if (seen.has(p)) return;
    seen.add(p);
    for (const d of deps.get(p) ?? []) visit(d);
  };
  for (const p of paths) visit(p);
  return [...seen].sort();
}

/** Module paths under the given kernel/ subdirectories or files. */
export function modulesUnder(deps: Map<string, string[]>, dirs: string[]): string[] {
  const prefixes = dirs.map((d) => `kernel/${d}`);
  return [...deps.keys()].filter((p) => prefixes.some((pre) => p === pre || p.startsWith(`${pre}/`)));
}
