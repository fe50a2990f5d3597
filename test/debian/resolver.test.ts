import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { parseStanzas } from '../../src/debian/control.js';
import { entryFromStanza, loadPackagesDir } from '../../src/debian/packages-index.js';
import { installedFromStatus, resolvePackages } from '../../src/debian/resolver.js';
import { UserError } from '../../src/util/errors.js';
import { LENNY_BASE_STATUS } from '../fixtures/debs/make-deb.js';
import { REAL_SET, realDebs } from '../fixtures/debs/real-debs.js';

/** A lenny/powerpc-like index: keepalived needs libssl0.9.8 and libpopt0 and ipvsadm; one package is amd64-only. */
const INDEX = `Package: keepalived
Version: 1:1.1.15-1
Architecture: powerpc
Depends: ipvsadm, libc6 (>= 2.7-1), libpopt0 (>= 1.14), libssl0.9.8 (>= 0.9.8f-5)
Filename: pool/main/k/keepalived/keepalived_1.1.15-1_powerpc.deb

Package: ipvsadm
Version: 1:1.24-2.1
Architecture: powerpc
Pre-Depends: debconf (>= 0.5) | debconf-2.0
Depends: libc6 (>= 2.7-1), libnl1 | libnl-old
Filename: pool/main/i/ipvsadm/ipvsadm_1.24-2.1_powerpc.deb

Package: libpopt0
Version: 1.14-4
Architecture: powerpc
Depends: libc6 (>= 2.7-1)

Package: libpopt0
Version: 1.10-3
Architecture: powerpc

Package: libssl0.9.8
Version: 0.9.8g-15+lenny8
Architecture: powerpc
Pre-Depends: zlib-runtime
Depends: libc6 (>= 2.7-1)

Package: zlib1g
Version: 1:1.2.3.3.dfsg-12
Architecture: powerpc
Provides: libz1, zlib-runtime

Package: libnl-old
Version: 1.0-1
Architecture: powerpc

Package: ssl-cert
Version: 1.0.23
Architecture: all
Depends: openssl (>= 0.9.8g-9)

Package: openssl
Version: 0.9.8g-15+lenny8
Architecture: amd64

Package: monitoring
Version: 1.0
Architecture: all
Depends: newlibc | libc6 (>= 2.9)

Package: needs-virtual
Version: 1.0
Architecture: all
Depends: libz1 (>= 1.2)
`;

const index = parseStanzas(INDEX).map((s) => entryFromStanza(s, 'Packages'));
const installed = installedFromStatus(LENNY_BASE_STATUS);

function names(wanted: string[]) {
  return resolvePackages({ wanted, index, installed, arch: 'powerpc' }).packages.map((p) => `${p.entry.name}=${p.entry.version}`);
}

test('only "ok installed" stanzas of the base status count as installed', () => {
  assert.deepEqual(installed.map((p) => p.name).sort(), ['base-files', 'debconf', 'libc6', 'libgcc1']);
});

test('keepalived + ipvsadm on a lenny base: dependencies first, highest satisfying version, Provides used, base kept', () => {
  assert.deepEqual(names(['keepalived', 'ipvsadm']), [
    'libnl-old=1.0-1', // first alternative libnl1 does not exist: the second is taken
    'ipvsadm=1:1.24-2.1', // Pre-Depends debconf (>= 0.5) met by the base system
    'libpopt0=1.14-4', // the newest; 1.10-3 would not meet (>= 1.14)
    'zlib1g=1:1.2.3.3.dfsg-12', // provides zlib-runtime for libssl's Pre-Depends
    'libssl0.9.8=0.9.8g-15+lenny8',
    'keepalived=1:1.1.15-1',
  ]);
});

test('a requested package the base already has is reported, not re-added', () => {
  const r = resolvePackages({ wanted: ['libc6', 'libnl-old'], index, installed, arch: 'powerpc' });
  assert.deepEqual(r.alreadyInstalled, ['libc6']);
  assert.deepEqual(r.packages.map((p) => p.entry.name), ['libnl-old']);
});

test('a dependency nobody provides is a UserError naming the chain', () => {
  const noSsl = index.filter((e) => e.name !== 'libssl0.9.8');
  assert.throws(
    () => resolvePackages({ wanted: ['keepalived'], index: noSsl, installed, arch: 'powerpc' }),
    new UserError('keepalived -> libssl0.9.8 (>= 0.9.8f-5): not in the index and not installed', { code: 'package-invalid' }),
  );
});

test('too old everywhere, wrong architecture, versioned dependency on an unversioned Provides', () => {
  assert.throws(() => names(['monitoring']), new UserError('monitoring -> newlibc | libc6 (>= 2.9): newlibc: not in the index and not installed; libc6: installed 2.7-18lenny7 and not in the index; are the packages from another Debian release than the rootfs?', { code: 'package-invalid' }));
  assert.throws(() => names(['ssl-cert']), new UserError('ssl-cert -> openssl (>= 0.9.8g-9): the index has it only for amd64, not powerpc', { code: 'package-invalid' }));
  assert.throws(() => names(['needs-virtual']), /needs-virtual -> libz1 \(>= 1\.2\): provided only without a matching version/);
  assert.throws(() => names(['nosuch']), new UserError('nosuch: not in the index and not installed', { code: 'package-invalid' }));
});

test('an old installed package is upgraded from the index when a dependency needs it', () => {
  const extra = parseStanzas('Package: debconf\nVersion: 1.5.28\nArchitecture: all\n\nPackage: wants-new-debconf\nVersion: 1\nArchitecture: all\nDepends: debconf (>= 1.5.26)\n').map((s) => entryFromStanza(s, 'x'));
  const r = resolvePackages({ wanted: ['wants-new-debconf'], index: [...index, ...extra], installed, arch: 'powerpc' });
  assert.deepEqual(r.packages.map((p) => [p.entry.name, p.upgrades]), [['debconf', '1.5.24'], ['wants-new-debconf', undefined]]);
});

test('packages from another release that would replace the base system\'s libc6 are refused with a clear reason', () => {
  const newer = parseStanzas('Package: libc6\nVersion: 2.36-9\nArchitecture: powerpc\n').map((s) => entryFromStanza(s, 'x'));
  assert.throws(
    () => resolvePackages({ wanted: ['monitoring'], index: [...index, ...newer], installed, arch: 'powerpc' }),
    new UserError("monitoring -> libc6 (>= 2.9): needs libc6 2.36-9 from the index, but the rootfs's libc6 2.7-18lenny7 is part of the base system (required); are the packages from another Debian release than the rootfs?", { code: 'package-invalid' }),
  );
});

test('real packages: keepalived and ipvsadm resolve from a folder of Debian .debs against this machine\'s dpkg status', async (t) => {
  const real = realDebs();
  if ('skip' in real) return t.skip(real.skip);
  const entries = await loadPackagesDir(real.dir);
  // The machine's own status, minus the packages we want the resolver to find in the folder.
  const status = readFileSync('/var/lib/dpkg/status', 'utf8');
  const base = installedFromStatus(status).filter((p) => !REAL_SET.includes(p.name));
  const r = resolvePackages({ wanted: ['keepalived', 'ipvsadm'], index: entries, installed: base, arch: real.arch });
  const got = r.packages.map((p) => p.entry.name);
  assert.deepEqual([...got].sort(), [...real.names].sort());
  // Dependencies come before their dependents.
  assert.ok(got.indexOf('libnl-3-200') < got.indexOf('libnl-genl-3-200'));
  assert.ok(got.indexOf('libnl-genl-3-200') < got.indexOf('ipvsadm'));
  assert.ok(got.indexOf('libnftnl11') < got.indexOf('keepalived'));
  for (const p of r.packages) assert.ok(p.entry.localPath?.endsWith('.deb') && p.entry.sha256);
});
