/**
 * A complete build setup for image tests: stand-in Plat'Home inputs (test/fixtures/inputs/make-standin-inputs.ts),
 * hand-made lenny-style .debs (dpkg-deb -Zgzip, Architecture powerpc) with a Packages index carrying only
 * MD5Sum as lenny's did, and a site file.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { makeDeb, type FakePackage } from '../fixtures/debs/make-deb.js';
import { makeStandinInputs, type StandinOptions } from '../fixtures/inputs/make-standin-inputs.js';
import { repoRoot } from '../helpers/cli.js';

export const LENNY_PACKAGES: FakePackage[] = [
  {
    name: 'libpopt0',
    version: '1.14-4',
    depends: 'libc6 (>= 2.7-1)',
    files: [
      { path: '/usr/lib/libpopt.so.0.0.0', content: 'popt\n' },
      { path: '/usr/lib/libpopt.so.0', symlink: 'libpopt.so.0.0.0' },
    ],
  },
  {
    name: 'ipvsadm',
    version: '1:1.24-2.1',
    depends: 'libc6 (>= 2.7-1), libpopt0 (>= 1.14), debconf (>= 0.5) | debconf-2.0',
    files: [
      { path: '/sbin/ipvsadm', content: '#!/bin/sh\necho ipvsadm\n', mode: 0o755 },
      { path: '/sbin/ipvsadm-save', content: '#!/bin/sh\n', mode: 0o755 },
      { path: '/sbin/ipvsadm-restore', content: '#!/bin/sh\n', mode: 0o755 },
      { path: '/etc/init.d/ipvsadm', content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
    ],
    scripts: { config: '#!/bin/sh\nset -e\n. /usr/share/debconf/confmodule\ndb_input medium ipvsadm/auto_load_rules || true\ndb_go\n' },
    templates: 'Template: ipvsadm/auto_load_rules\nType: boolean\nDefault: false\nDescription: Do you want to automatically load IPVS rules on boot?\n',
  },
  {
    name: 'keepalived',
    version: '1.1.15-1',
    depends: 'libc6 (>= 2.7-1), libpopt0 (>= 1.14), libssl0.9.8 (>= 0.9.8f-5), ipvsadm',
    files: [
      { path: '/usr/sbin/keepalived', content: 'keepalived binary\n', mode: 0o755 },
      { path: '/etc/init.d/keepalived', content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
      { path: '/etc/keepalived', dir: true },
      { path: '/etc/keepalived/keepalived.conf', content: '! sample configuration from the package\n' },
    ],
    conffiles: ['/etc/init.d/keepalived', '/etc/keepalived/keepalived.conf'],
    scripts: { postinst: '#!/bin/sh\nset -e\nexit 0\n' },
  },
];

/** A Packages index in lenny's shape (MD5Sum, no SHA256) for the .debs in dir. */
export async function writeLennyIndex(dir: string, debs: string[], override: (name: string) => Partial<Record<string, string>> = () => ({})): Promise<void> {
  const { execFileSync } = await import('node:child_process');
  const stanzas: string[] = [];
  for (const deb of debs) {
    const control = execFileSync('dpkg-deb', ['-f', deb]).toString().trimEnd();
    const bytes = await readFile(deb);
    const fields: Record<string, string> = {
      Filename: `pool/main/${basename(deb)}`,
      Size: String(bytes.length),
      MD5sum: createHash('md5').update(bytes).digest('hex'),
    };
    const name = /^Package: (.*)$/m.exec(control)![1];
    Object.assign(fields, override(name));
    stanzas.push(control + '\n' + Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n');
  }
  await writeFile(join(dir, 'Packages'), stanzas.join('\n'));
}

export const SITE_SINGLE = join(repoRoot, 'test/fixtures/sites/nat-single.yaml');
export const SITE_PAIR = join(repoRoot, 'test/fixtures/sites/dr-http-pair.yaml');

export interface Workspace {
  root: string;
  inputs: string;
  packages: string;
  out: string;
  site: string;
  cleanup(): Promise<void>;
}

/** A temp dir with inputs/, packages/ (flat folder of .debs + Packages), out/ and a copy of a site file. */
export async function makeWorkspace(opts: { standin?: StandinOptions; site?: string; packages?: FakePackage[] } = {}): Promise<Workspace> {
  const root = await mkdtemp(join(tmpdir(), 'obsbuild-image-test-'));
  const inputs = join(root, 'inputs');
  const packages = join(root, 'packages');
  await mkdir(packages, { recursive: true });
  await makeStandinInputs(inputs, opts.standin ?? {});
  const debs = (opts.packages ?? LENNY_PACKAGES).map((p) => makeDeb(packages, p));
  await writeLennyIndex(packages, debs);
  const site = join(root, 'obsbuild.yaml');
  await writeFile(site, await readFile(opts.site ?? SITE_SINGLE));
  return {
    root,
    inputs,
    packages,
    out: join(root, 'out'),
    site,
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

export function imageArgs(ws: Workspace, ...more: string[]): string[] {
  return ['image', '--profile', 'lb', '--site', ws.site, '--inputs', ws.inputs, '--packages', ws.packages, '--out', ws.out, ...more];
}

/**
 * The overlay tarball extracted into a temporary folder for `fn`, removed afterwards. As root, tar keeps the
 * archive's owners and modes, as msf_init.sh's extraction on the box does.
 */
export async function withExtractedOverlay<T>(overlay: string, fn: (root: string) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'obsbuild-overlay-x-'));
  try {
    await promisify(execFile)('tar', ['-xzf', overlay, '-C', root, '--same-owner', '--same-permissions']);
    return await fn(root);
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
