import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { digestFile } from '../../src/debian/deb.js';
import { loadPackagesDir } from '../../src/debian/packages-index.js';
import { installedFromStatus, resolvePackages } from '../../src/debian/resolver.js';
import type { GeneratedFile } from '../../src/contracts/generated-file.js';
import { writeOverlay, type OverlayPackage } from '../../src/image/overlay.js';
import { UserError } from '../../src/util/errors.js';
import { LENNY_BASE_STATUS, makeDeb } from '../fixtures/debs/make-deb.js';
import { REAL_SET, realDebs } from '../fixtures/debs/real-debs.js';

const work = mkdtempSync(join(tmpdir(), 'obsbuild-overlay-test-'));
const debDir = join(work, 'debs');
after(() => rmSync(work, { recursive: true, force: true }));

const MTIME = 1700000000;
let packages: OverlayPackage[] = [];

before(async () => {
  mkdirSync(debDir);
  makeDeb(debDir, {
    name: 'libpopt0',
    version: '1.14-4',
    files: [
      { path: '/usr/lib/libpopt.so.0.0.0', content: '\x7fELF fake popt\n', mode: 0o644 },
      { path: '/usr/lib/libpopt.so.0', symlink: 'libpopt.so.0.0.0' },
      { path: '/usr/share/doc/libpopt0/copyright', content: 'popt copyright\n' },
    ],
  });
  makeDeb(debDir, {
    name: 'ipvsadm',
    version: '1:1.24-2.1',
    depends: 'libpopt0 (>= 1.14)',
    files: [
      { path: '/sbin/ipvsadm', content: 'ipvsadm binary\n', mode: 0o755 },
      { path: '/sbin/ipvsadm-save', content: 'save script\n', mode: 0o755 },
      { path: '/sbin/ipvsadm-restore', hardlinkTo: '/sbin/ipvsadm-save' },
      { path: '/etc/init.d/ipvsadm', content: '#!/bin/sh\n# ipvsadm init\n', mode: 0o755 },
    ],
    conffiles: ['/etc/init.d/ipvsadm'],
    scripts: { preinst: '#!/bin/sh\nexit 0\n', config: '#!/bin/sh\n. /usr/share/debconf/confmodule\ndb_input high ipvsadm/auto_load_rules || true\n', postinst: '#!/bin/sh\nset -e\n' },
    templates: 'Template: ipvsadm/auto_load_rules\nType: boolean\nDefault: false\nDescription: Do you want to automatically load IPVS rules on boot?\n',
  });
  makeDeb(debDir, {
    name: 'keepalived',
    version: '1:1.1.15-1',
    depends: 'ipvsadm, libc6 (>= 2.7-1), libpopt0',
    files: [
      { path: '/usr/sbin/keepalived', content: 'keepalived binary\n', mode: 0o755 },
      { path: '/usr/sbin/genhash', content: 'genhash binary\n', mode: 0o4750, uid: 0, gid: 1 },
      { path: '/var/lib/keepalived', dir: true, mode: 0o700, uid: 1, gid: 1 },
      { path: '/var/lib/keepalived/state', content: 'x\n', mode: 0o640, uid: 1, gid: 1 },
      { path: '/etc/init.d/keepalived', content: '#!/bin/sh\n# keepalived init from the package\n', mode: 0o755 },
      { path: '/etc/keepalived/keepalived.conf', content: '! sample from the package\n', mode: 0o644 },
    ],
    conffiles: ['/etc/init.d/keepalived', '/etc/keepalived/keepalived.conf'],
    scripts: { postinst: '#!/bin/sh\nset -e\nupdate-rc.d keepalived defaults >/dev/null\n', prerm: '#!/bin/sh\n' },
  });
  const entries = await loadPackagesDir(debDir);
  const resolution = resolvePackages({ wanted: ['keepalived', 'ipvsadm'], index: entries, installed: installedFromStatus(LENNY_BASE_STATUS), arch: 'powerpc' });
  packages = resolution.packages.map((p) => ({ debPath: p.entry.localPath!, entry: p.entry }));
});

const GENERATED: GeneratedFile[] = [
  { path: '/etc/keepalived/keepalived.conf', content: '! rendered by obsbuild\nvirtual_server 192.168.253.120 80 {\n}\n', mode: 0o640 },
  { path: '/etc/obsbuild/manifest-id', content: 'abc123\n', mode: 0o644 },
  { path: '/etc/init.d/obsbuild-firstboot', content: '#!/bin/sh\necho firstboot\n', mode: 0o755 },
  { path: '/etc/rcS.d/S99obsbuild-firstboot', content: '', mode: 0o777, type: 'symlink', linkTarget: '../init.d/obsbuild-firstboot' },
  { path: '/root/.ssh', content: '', mode: 0o700, type: 'dir' },
  { path: '/root/.ssh/authorized_keys', content: 'ssh-ed25519 AAAA test\n', mode: 0o600 },
];

function tarList(file: string): string[] {
  return execFileSync('tar', ['-tvzf', file]).toString().trim().split('\n');
}

function row(lines: string[], name: string): string {
  const found = lines.find((l) => l.endsWith(` ${name}`) || l.includes(` ${name} -> `) || l.includes(` ${name} link to `));
  assert.ok(found, `no entry ${name} in:\n${lines.join('\n')}`);
  return found;
}

test('overlay of lenny-style powerpc packages: exact owners, modes, links; sorted; config overrides package files', async () => {
  const out = join(work, 'a', 'obsbuild-overlay.tgz');
  const result = await writeOverlay(out, { packages, baseStatus: LENNY_BASE_STATUS, files: GENERATED, mtime: MTIME });
  assert.deepEqual(result.packages.map((p) => `${p.name} ${p.version} ${p.arch} preinst=${p.preinst}`), ['libpopt0 1.14-4 powerpc preinst=false', 'ipvsadm 1:1.24-2.1 powerpc preinst=true', 'keepalived 1:1.1.15-1 powerpc preinst=false']);
  assert.equal(result.packages[0].sha256, (await digestFile(packages[0].debPath)).sha256);
  assert.equal(result.sha256, (await digestFile(out)).sha256);
  assert.equal(result.bytes, readFileSync(out).length);

  const lines = tarList(out);
  assert.equal(lines.length, result.entries);
  assert.match(row(lines, 'usr/sbin/genhash'), /^-rwsr-x--- root\/(root|daemon) /);
  assert.match(row(lines, 'var/lib/keepalived/'), /^drwx------ daemon\/daemon /);
  assert.match(row(lines, 'var/lib/keepalived/state'), /^-rw-r----- daemon\/daemon /);
  assert.match(row(lines, 'usr/lib/libpopt.so.0'), /^lrwxrwxrwx root\/root .* usr\/lib\/libpopt\.so\.0 -> libpopt\.so\.0\.0\.0$/);
  assert.match(row(lines, 'sbin/ipvsadm-save'), /^hrwxr-xr-x root\/root .* sbin\/ipvsadm-save link to sbin\/ipvsadm-restore$/);
  assert.match(row(lines, 'etc/rcS.d/S99obsbuild-firstboot'), /^lrwxrwxrwx root\/root .* -> \.\.\/init\.d\/obsbuild-firstboot$/);
  assert.match(row(lines, 'root/.ssh/'), /^drwx------ root\/root /);
  assert.match(row(lines, 'etc/keepalived/keepalived.conf'), /^-rw-r----- root\/root /);
  // Fixed mtime on every entry.
  const when = execFileSync('date', ['-u', '-d', `@${MTIME}`, '+%Y-%m-%d %H:%M']).toString().trim();
  for (const l of lines) assert.ok(l.includes(when) || !/\d{4}-\d\d-\d\d \d\d:\d\d/.test(l), `mtime in ${l}`);
  // Sorted, unique, and every parent directory present before its children.
  const names = execFileSync('tar', ['-tzf', out]).toString().trim().split('\n').map((n) => n.replace(/\/$/, ''));
  assert.deepEqual(names, [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))));
  assert.equal(new Set(names).size, names.length);
  for (const n of names) if (n.includes('/')) assert.ok(names.indexOf(n.slice(0, n.lastIndexOf('/'))) >= 0 && names.indexOf(n.slice(0, n.lastIndexOf('/'))) < names.indexOf(n), `parent of ${n}`);
  // Deterministic gzip header: no timestamp, Unix OS byte.
  const head = readFileSync(out).subarray(0, 10);
  assert.deepEqual([...head.subarray(4, 8)], [0, 0, 0, 0]);
  assert.equal(head[9], 3);

  // Extract as root and look with the real tools.
  const root = join(work, 'root-a');
  mkdirSync(root);
  execFileSync('tar', ['-xzf', out, '-C', root]);
  assert.equal(readFileSync(join(root, 'etc/keepalived/keepalived.conf'), 'utf8'), GENERATED[0].content);
  assert.equal(readFileSync(join(root, 'etc/init.d/keepalived'), 'utf8'), '#!/bin/sh\n# keepalived init from the package\n');
  const admin = join(root, 'var/lib/dpkg');
  mkdirSync(join(admin, 'updates'), { recursive: true });
  const query = (...args: string[]) => execFileSync('dpkg-query', [`--admindir=${admin}`, ...args]).toString();
  assert.equal(
    query('-W', '-f', '${Package} ${Version} ${db:Status-Abbrev}\n'),
    ['base-files 5.0.0 ii ', 'debconf 1.5.24 ii ', 'ipvsadm 1:1.24-2.1 iU ', 'keepalived 1:1.1.15-1 iU ', 'libc6 2.7-18lenny7 ii ', 'libgcc1 1:4.3.2-1.1 ii ', 'libpopt0 1.14-4 iU ', 'oldthing 1.0-1 rc ', ''].join('\n'),
  );
  assert.equal(query('-s', 'keepalived').split('\n')[1], 'Status: install ok unpacked');
  assert.equal(
    query('-L', 'keepalived'),
    ['/.', '/etc', '/etc/init.d', '/etc/init.d/keepalived', '/etc/keepalived', '/etc/keepalived/keepalived.conf', '/usr', '/usr/sbin', '/usr/sbin/genhash', '/usr/sbin/keepalived', '/var', '/var/lib', '/var/lib/keepalived', '/var/lib/keepalived/state', ''].join('\n'),
  );
  // Conffiles carry the package's md5 (the overridden keepalived.conf reads as locally modified, as it is).
  const confs = query('-W', '-f', '${Conffiles}\n', 'keepalived');
  assert.match(confs, /^ \/etc\/init\.d\/keepalived [0-9a-f]{32}\n \/etc\/keepalived\/keepalived\.conf [0-9a-f]{32}/);
  const initMd5 = execFileSync('md5sum', [join(root, 'etc/init.d/keepalived')]).toString().split(' ')[0];
  assert.ok(confs.includes(`/etc/init.d/keepalived ${initMd5}`));
  // Maintainer scripts, debconf templates and generated md5sums are where dpkg looks for them.
  const info = readdirSync(join(admin, 'info')).sort();
  assert.deepEqual(info, ['ipvsadm.conffiles', 'ipvsadm.config', 'ipvsadm.list', 'ipvsadm.md5sums', 'ipvsadm.postinst', 'ipvsadm.preinst', 'ipvsadm.templates', 'keepalived.conffiles', 'keepalived.list', 'keepalived.md5sums', 'keepalived.postinst', 'keepalived.prerm', 'libpopt0.list', 'libpopt0.md5sums']);
  assert.match(row(lines, 'var/lib/dpkg/info/ipvsadm.postinst'), /^-rwxr-xr-x root\/root /);
  execFileSync('md5sum', ['-c', '--quiet', join(admin, 'info/ipvsadm.md5sums')], { cwd: root });
  // The status file is sorted by package name, as current dpkg writes it.
  const order = [...readFileSync(join(admin, 'status'), 'utf8').matchAll(/^Package: (.*)$/gm)].map((m) => m[1]);
  assert.deepEqual(order, [...order].sort());

  // Same input, same bytes.
  const again = await writeOverlay(join(work, 'b', 'obsbuild-overlay.tgz'), { packages, baseStatus: LENNY_BASE_STATUS, files: GENERATED, mtime: MTIME });
  assert.equal(again.sha256, result.sha256);
  assert.deepEqual(readFileSync(join(work, 'b', 'obsbuild-overlay.tgz')), readFileSync(out));
});

test('a .deb that does not match its index checksum fails the overlay and leaves the previous output untouched', async () => {
  const out = join(work, 'c', 'obsbuild-overlay.tgz');
  mkdirSync(join(work, 'c'));
  writeFileSync(out, 'previous build\n');
  const tampered = join(work, 'tampered.deb');
  const bytes = Buffer.from(readFileSync(packages[0].debPath));
  bytes[bytes.length - 100] ^= 1;
  writeFileSync(tampered, bytes);
  const bad = [{ ...packages[0], debPath: tampered }, ...packages.slice(1)];
  await assert.rejects(
    () => writeOverlay(out, { packages: bad, baseStatus: LENNY_BASE_STATUS, files: GENERATED, mtime: MTIME }),
    (err: Error) => err instanceof UserError && err.message.startsWith(`${tampered}: checksum mismatch: index says SHA256 `),
  );
  assert.equal(readFileSync(out, 'utf8'), 'previous build\n');
  assert.deepEqual(readdirSync(join(work, 'c')), ['obsbuild-overlay.tgz']);
});

test('real amd64 packages from Debian: overlay lists with GNU tar and registers with dpkg-query', async (t) => {
  const real = realDebs();
  if ('skip' in real) return t.skip(real.skip);
  const status = readFileSync('/var/lib/dpkg/status', 'utf8');
  const base = status.split(/\n\n+/).filter((s) => !REAL_SET.includes(/^Package: (.*)$/m.exec(s)?.[1] ?? '')).join('\n\n');
  const entries = await loadPackagesDir(real.dir);
  const r = resolvePackages({ wanted: ['keepalived', 'ipvsadm'], index: entries, installed: installedFromStatus(base), arch: real.arch });
  const out = join(work, 'real', 'obsbuild-overlay.tgz');
  const result = await writeOverlay(out, { packages: r.packages.map((p) => ({ debPath: p.entry.localPath!, entry: p.entry })), baseStatus: base, files: GENERATED, mtime: MTIME });
  t.diagnostic(`real overlay: ${result.entries} entries, ${result.bytes} bytes, timings ms ${JSON.stringify(result.timings)}`);
  const lines = tarList(out);
  assert.match(row(lines, 'usr/sbin/keepalived'), /^-rwxr-xr-x root\/root /);
  assert.match(row(lines, 'sbin/ipvsadm'), /^-rwxr-xr-x root\/root /);
  const root = join(work, 'root-real');
  mkdirSync(root);
  execFileSync('tar', ['-xzf', out, '-C', root]);
  const admin = join(root, 'var/lib/dpkg');
  mkdirSync(join(admin, 'updates'), { recursive: true });
  const st = execFileSync('dpkg-query', [`--admindir=${admin}`, '-W', '-f', '${Package} ${db:Status-Abbrev}\n', ...REAL_SET]).toString();
  for (const name of REAL_SET) assert.match(st, new RegExp(`^${name} iU $`, 'm'));
  // The shipped md5sums check out against the unpacked files.
  execFileSync('md5sum', ['-c', '--quiet', join(admin, 'info/keepalived.md5sums')], { cwd: root });
  assert.ok(existsSync(join(admin, 'info/keepalived.postinst')));
});
