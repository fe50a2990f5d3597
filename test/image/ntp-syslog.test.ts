/**
 * obsbuild image with ntp: and syslog:: lenny's ntp layered from the package source like keepalived, with
 * the site's /etc/ntp.conf over the package's; the remote-syslog rule for the rootfs's syslog daemon; both in
 * the overlay and the manifest (sha256). A rootfs without a syslog daemon, or sysklogd with another port, stops
 * the build with one line naming the cause.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { appendFile, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { imageArgs, LENNY_PACKAGES, makeWorkspace, withExtractedOverlay } from './fixtures.js';
import type { FakePackage } from '../fixtures/debs/make-deb.js';
import { SYSLOG_CONF } from '../fixtures/inputs/make-standin-inputs.js';
import type { Manifest } from '../../src/contracts/manifest.js';


/** lenny's ntp 4.2.4p4 in miniature: its daemon, init script and its own /etc/ntp.conf (a conffile). */
const NTP: FakePackage = {
  name: 'ntp',
  version: '1:4.2.4p4+dfsg-8lenny3',
  depends: 'adduser, lsb-base (>= 3.2-13), netbase, libc6 (>= 2.7-1)',
  files: [
    { path: '/usr/sbin/ntpd', content: 'ntpd binary\n', mode: 0o755 },
    { path: '/etc/init.d/ntp', content: '#!/bin/sh\nexit 0\n', mode: 0o755 },
    { path: '/etc/ntp.conf', content: 'server 0.debian.pool.ntp.org iburst\n' },
  ],
  conffiles: ['/etc/init.d/ntp', '/etc/ntp.conf'],
  scripts: { postinst: '#!/bin/sh\nset -e\nexit 0\n' },
};

const SERVICES = 'ntp:\n  servers: [192.168.253.1, 192.168.253.3]\nsyslog:\n  servers: [192.168.253.2]\n';


const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('ntp: and syslog: on an rsyslog rootfs: ntp layered, ntp.conf and the rsyslog rule in the overlay and the manifest', async () => {
  const ws = await makeWorkspace({ standin: { syslog: 'rsyslog' }, packages: [...LENNY_PACKAGES, NTP] });
  try {
    await appendFile(ws.site, SERVICES);
    const r = await runCli(imageArgs(ws));
    assert.equal(r.exitCode, 0, String(r.stderr));
    const dir = join(ws.out, 'obs600');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    assert.ok(manifest.packages.some((p) => p.name === 'ntp' && p.version === '1:4.2.4p4+dfsg-8lenny3'), manifest.packages.map((p) => p.name).join(' '));
    await withExtractedOverlay(join(dir, 'stick/msf/obsbuild-overlay.tgz'), async (root) => {
      const ntpConf = await readFile(join(root, 'etc/ntp.conf'), 'utf8');
      assert.match(ntpConf, /^server 192\.168\.253\.1 iburst\nserver 192\.168\.253\.3 iburst\n$/m, 'the site\'s servers, not the package\'s pool');
      assert.match(ntpConf, /^restrict -4 default kod notrap nomodify nopeer noquery$/m);
      assert.equal(await readFile(join(root, 'usr/sbin/ntpd'), 'utf8'), 'ntpd binary\n');
      assert.match(await readFile(join(root, 'var/lib/dpkg/status'), 'utf8'), /Package: ntp\nStatus: install ok unpacked\n/);
      const rule = await readFile(join(root, 'etc/rsyslog.d/obsbuild-remote.conf'), 'utf8');
      assert.match(rule, /^\*\.\*\t@192\.168\.253\.2:514$/m);
      for (const [path, text] of [['/etc/ntp.conf', ntpConf], ['/etc/rsyslog.d/obsbuild-remote.conf', rule]]) {
        assert.equal(manifest.config.find((f) => f.path === path)?.sha256, sha256(text), `${path} in the manifest with its sha256`);
      }
      assert.ok(!manifest.config.some((f) => f.path === '/etc/syslog.conf'), 'rsyslog: sysklogd\'s file untouched');
    });
  } finally {
    await ws.cleanup();
  }
});

test('syslog: on a sysklogd rootfs: its own syslog.conf plus the marked block', async () => {
  const ws = await makeWorkspace({ standin: { syslog: 'sysklogd' } });
  try {
    await appendFile(ws.site, 'syslog:\n  servers: [192.168.253.2]\n  selector: "local0.*"\n');
    const r = await runCli(imageArgs(ws));
    assert.equal(r.exitCode, 0, String(r.stderr));
    const dir = join(ws.out, 'obs600');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    await withExtractedOverlay(join(dir, 'stick/msf/obsbuild-overlay.tgz'), async (root) => {
      const conf = await readFile(join(root, 'etc/syslog.conf'), 'utf8');
      assert.ok(conf.startsWith(SYSLOG_CONF), 'the rootfs\'s own lines first, unchanged');
      assert.match(conf.slice(SYSLOG_CONF.length), /^# BEGIN obsbuild.*\nlocal0\.\*\t@192\.168\.253\.2\n# END obsbuild\n$/);
      assert.equal(manifest.config.find((f) => f.path === '/etc/syslog.conf')?.sha256, sha256(conf));
      assert.ok(!manifest.packages.some((p) => p.name === 'ntp'), 'no ntp: no NTP daemon layered');
    });
  } finally {
    await ws.cleanup();
  }
});

test('syslog: on a rootfs with no syslog daemon, or sysklogd with port 5140: one-line errors, nothing written', async () => {
  const ws = await makeWorkspace();
  try {
    await appendFile(ws.site, 'syslog:\n  servers: [192.168.253.2]\n  port: 5140\n');
    const r = await runCli(imageArgs(ws));
    assert.equal(r.exitCode, 1);
    assert.deepEqual(await readdir(ws.out).catch(() => []), [], 'no output left behind');
    assert.match(String(r.stderr), /lenny-powerpc-obs600-20100119-00\.tar\.gz: syslog: forwarding needs rsyslog or sysklogd, and dpkg's status shows neither installed/);
  } finally {
    await ws.cleanup();
  }
  const sk = await makeWorkspace({ standin: { syslog: 'sysklogd' } });
  try {
    await appendFile(sk.site, 'syslog:\n  servers: [192.168.253.2]\n  port: 5140\n');
    const r = await runCli(imageArgs(sk));
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /obsbuild\.yaml:\d+: syslog\.port 5140: lenny-powerpc-obs600-20100119-00\.tar\.gz runs sysklogd, which sends only to port 514/);
    assert.deepEqual(await readdir(sk.out).catch(() => []), [], 'no output left behind');
  } finally {
    await sk.cleanup();
  }
});
