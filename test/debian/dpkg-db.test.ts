import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseStanza } from '../../src/debian/control.js';
import { debconfAnswers, debconfPreseedFile } from '../../src/debian/debconf.js';
import { DEBCONF_SELECTIONS_PATH } from '../../src/contracts/box-paths.js';
import { dpkgRegistrationFiles, isMultiarchDb, mergeStatus, type UnpackedPackage } from '../../src/debian/dpkg-db.js';
import type { Site } from '../../src/site/model.js';
import { LENNY_BASE_STATUS } from '../fixtures/debs/make-deb.js';

function unpacked(control: string, extra: Partial<UnpackedPackage> = {}): UnpackedPackage {
  return { control: parseStanza(control), controlFiles: new Map(), paths: ['', 'usr', 'usr/bin', 'usr/bin/x'], md5s: new Map([['usr/bin/x', 'd41d8cd98f00b204e9800998ecf8427e']]), ...extra };
}

test('merged status: new stanzas as "install ok unpacked" in dpkg field order, base stanzas kept verbatim, upgrades replace', () => {
  const text = mergeStatus(LENNY_BASE_STATUS, [
    unpacked('Package: zz-new\nVersion: 1.0\nArchitecture: powerpc\nMaintainer: M <m@example.org>\nDepends: libc6\nDescription: new\n long text\n'),
    unpacked('Package: libgcc1\nVersion: 1:4.3.2-2\nArchitecture: powerpc\nMaintainer: M <m@example.org>\nDescription: newer libgcc\n'),
  ]);
  assert.match(text, /^Package: zz-new\nStatus: install ok unpacked\nMaintainer: M <m@example.org>\nArchitecture: powerpc\nVersion: 1\.0\nDepends: libc6\nDescription: new\n long text\n$/m);
  assert.match(text, /^Package: libgcc1\nStatus: install ok unpacked\n[\s\S]*Version: 1:4\.3\.2-2\n/m);
  assert.ok(!text.includes('Version: 1:4.3.2-1.1'), 'the upgraded stanza replaces the old one');
  // An untouched base stanza comes through byte for byte.
  const libc = LENNY_BASE_STATUS.slice(0, LENNY_BASE_STATUS.indexOf('\n\n') + 1);
  assert.ok(text.includes(libc));
  // Real dpkg reads it.
  const admin = mkdtempSync(join(tmpdir(), 'obsbuild-dpkgdb-'));
  try {
    mkdirSync(join(admin, 'updates'));
    mkdirSync(join(admin, 'info'));
    writeFileSync(join(admin, 'status'), text);
    const out = execFileSync('dpkg-query', [`--admindir=${admin}`, '-W', '-f', '${Package}=${Version}:${Status}\n']).toString();
    assert.match(out, /^zz-new=1\.0:install ok unpacked$/m);
    assert.match(out, /^libgcc1=1:4\.3\.2-2:install ok unpacked$/m);
    assert.match(out, /^libc6=2\.7-18lenny7:install ok installed$/m);
  } finally {
    rmSync(admin, { recursive: true, force: true });
  }
});

test('info files: .list with /. first, generated .md5sums when the package ships none, scripts keep their mode', () => {
  const files = dpkgRegistrationFiles('', [
    unpacked('Package: p\nVersion: 1\nArchitecture: all\nDescription: d\n', {
      controlFiles: new Map([
        ['control', { content: Buffer.from(''), mode: 0o644 }],
        ['postinst', { content: Buffer.from('#!/bin/sh\n'), mode: 0o755 }],
        ['conffiles', { content: Buffer.from('/etc/p.conf\n'), mode: 0o644 }],
      ]),
    }),
  ]);
  const byPath = new Map(files.map((f) => [f.path, f]));
  assert.deepEqual([...byPath.keys()], ['/var/lib/dpkg/status', '/var/lib/dpkg/info/p.list', '/var/lib/dpkg/info/p.md5sums', '/var/lib/dpkg/info/p.conffiles', '/var/lib/dpkg/info/p.postinst']);
  assert.equal(byPath.get('/var/lib/dpkg/info/p.list')!.content, '/.\n/usr\n/usr/bin\n/usr/bin/x\n');
  assert.equal(String(byPath.get('/var/lib/dpkg/info/p.md5sums')!.content), 'd41d8cd98f00b204e9800998ecf8427e  usr/bin/x\n');
  assert.equal(byPath.get('/var/lib/dpkg/info/p.postinst')!.mode, 0o755);
  // A conffile not among the unpacked files is marked the way dpkg marks one not yet installed.
  assert.match(String(byPath.get('/var/lib/dpkg/status')!.content), /Conffiles:\n \/etc\/p\.conf newconffile\n/);
});

test('a control member named list cannot replace the .list dpkg builds from the package files', () => {
  const files = dpkgRegistrationFiles('', [
    unpacked('Package: p\nVersion: 1\nArchitecture: all\nDescription: d\n', {
      controlFiles: new Map([['list', { content: Buffer.from('/etc/shadow\n'), mode: 0o644 }]]),
    }),
  ]);
  const lists = files.filter((f) => f.path === '/var/lib/dpkg/info/p.list');
  assert.deepEqual(lists.map((f) => String(f.content)), ['/.\n/usr\n/usr/bin\n/usr/bin/x\n']);
});

test('Multi-Arch: same packages get <pkg>:<arch> info files, which real dpkg --audit finds once configured', () => {
  const files = dpkgRegistrationFiles('', [
    unpacked('Package: libw0\nVersion: 1\nArchitecture: amd64\nMulti-Arch: same\nDescription: d\n'),
    unpacked('Package: tool\nVersion: 1\nArchitecture: amd64\nMulti-Arch: foreign\nDescription: d\n', { paths: ['', 'usr', 'usr/bin', 'usr/bin/y'], md5s: new Map([['usr/bin/y', 'd41d8cd98f00b204e9800998ecf8427e']]) }),
  ], true);
  const paths = files.map((f) => f.path);
  assert.ok(paths.includes('/var/lib/dpkg/info/libw0:amd64.list'), paths.join(' '));
  assert.ok(paths.includes('/var/lib/dpkg/info/tool.list'), paths.join(' '));
  assert.ok(!paths.includes('/var/lib/dpkg/info/libw0.list'));
  // What `dpkg --configure -a` leaves behind: the same files, the packages marked installed.
  const admin = mkdtempSync(join(tmpdir(), 'obsbuild-dpkgdb-'));
  try {
    mkdirSync(join(admin, 'info'));
    mkdirSync(join(admin, 'updates'));
    writeFileSync(join(admin, 'info', 'format'), '1\n');
    for (const file of files) {
      const target = join(admin, file.path.slice('/var/lib/dpkg/'.length));
      mkdirSync(join(target, '..'), { recursive: true });
      const content = String(file.content);
      writeFileSync(target, file.path.endsWith('/status') ? content.replaceAll('install ok unpacked', 'install ok installed') : content);
    }
    const audit = execFileSync('dpkg', [`--admindir=${admin}`, '--audit']).toString();
    assert.equal(audit, '', 'dpkg --audit has nothing to report');
  } finally {
    rmSync(admin, { recursive: true, force: true });
  }
});

test('a lenny (pre-multiarch) database keeps plain <pkg> info file names', () => {
  const files = dpkgRegistrationFiles('', [unpacked('Package: libw0\nVersion: 1\nArchitecture: powerpc\nMulti-Arch: same\nDescription: d\n')], isMultiarchDb(undefined));
  assert.ok(files.some((f) => f.path === '/var/lib/dpkg/info/libw0.list'));
  assert.equal(isMultiarchDb('1\n'), true);
});

function site(manager: 'keepalived' | 'ipvsadm', vrrpInterface?: string): Site {
  return {
    network: { interfaces: { eth1: { address: '172.16.14.120/24' }, eth0: { address: '192.168.253.254/24' } }, gateway: null, nameservers: [] },
    lvs: { manager, vrrp: vrrpInterface ? ({ interface: vrrpInterface } as Site['lvs']['vrrp']) : null, virtual_servers: [] },
  } as unknown as Site;
}

test('debconf answers: keepalived owns the IPVS table (no rule loading), ipvsadm-only loads rules at boot', () => {
  const file = debconfPreseedFile(site('keepalived'));
  assert.equal(file.path, DEBCONF_SELECTIONS_PATH);
  assert.equal(
    file.content,
    '# debconf answers written by obsbuild; fed to debconf-set-selections on first boot\n' +
      'ipvsadm ipvsadm/auto_load_rules boolean false\nipvsadm ipvsadm/daemon_method select none\nipvsadm ipvsadm/daemon_multicast_interface string eth0\n',
  );
  assert.equal(debconfAnswers(site('ipvsadm'))[0].value, 'true');
  assert.equal(debconfAnswers(site('keepalived', 'eth1'))[2].value, 'eth1');
});

test('the preseed file is accepted by the real debconf-set-selections --checkonly', (t) => {
  try {
    execFileSync('debconf-set-selections', ['--checkonly'], { input: '' });
  } catch {
    return t.skip('debconf-set-selections is not installed');
  }
  execFileSync('debconf-set-selections', ['--checkonly'], { input: String(debconfPreseedFile(site('ipvsadm')).content) });
});
