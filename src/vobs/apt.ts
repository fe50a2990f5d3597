import { mkdir, readdir } from 'node:fs/promises';
import { runTool } from '../util/run-tool.js';

/** Thin wrappers over this machine's apt: the stand-in is made of Debian's own packages. */

/** The first Depends of a metapackage (linux-image-amd64 → linux-image-6.1.0-56-amd64). */
export async function metapackageTarget(name: string): Promise<string> {
  const out = await runTool('apt-cache', ['depends', '--no-recommends', '--no-suggests', name], {
    what: `looking up ${name}`,
  });
  const m = /^\s*Depends:\s*(\S+)/m.exec(out);
  if (!m) throw new Error(`apt-cache depends ${name}: no Depends line`);
  return m[1];
}

/** Every real package `names` need (recursively), as apt sees it: the closure a mirror must hold. */
export async function dependencyClosure(names: string[]): Promise<string[]> {
  const out = await runTool(
    'apt-cache',
    ['depends', '--recurse', '--no-recommends', '--no-suggests', '--no-conflicts', '--no-breaks', '--no-replaces',
      '--no-enhances', ...names],
    { what: 'resolving the mirror packages' },
  );
  // Top-level lines are package names; virtual ones are shown as <name> and skipped.
  const set = new Set<string>();
  for (const line of out.split('\n')) if (/^[a-z0-9][a-z0-9+.-]*$/.test(line)) set.add(line);
  return [...set].sort();
}

/** `apt-get download` into `dir`; returns the .deb file names there. */
export async function downloadDebs(names: string[], dir: string): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  // apt drops privileges to _apt, which cannot write into root's cache: download as root, unsandboxed.
  const sandbox = process.getuid?.() === 0 ? ['-o', 'APT::Sandbox::User=root'] : [];
  await runTool('apt-get', ['download', ...sandbox, ...names], {
    cwd: dir,
    what: `downloading ${names.length === 1 ? names[0] : `${names.length} packages`}`,
  });
  return (await readdir(dir)).filter((n) => n.endsWith('.deb')).sort();
}

/** `dpkg-deb -x`: a package's files under `dest`. */
export async function unpackDeb(deb: string, dest: string): Promise<void> {
  await mkdir(dest, { recursive: true });
  await runTool('dpkg-deb', ['-x', deb, dest], { what: `unpacking ${deb}` });
}
