/** Which syslog daemon the base system runs (from dpkg's status), the files made for it, and the NTP package. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chooseSyslogDaemon, syslogFiles } from '../../src/image/syslog.js';
import { wantedPackages } from '../../src/image/steps/packages.js';
import { UserError } from '../../src/util/errors.js';
import { siteWith } from '../lvs/site-with.js';

const stanza = (name: string, status = 'install ok installed') => `Package: ${name}\nStatus: ${status}\nVersion: 1\n\n`;
const BASE = stanza('libc6') + stanza('sysvinit');

test('rsyslog (lenny\'s default) or sysklogd (older images): the one dpkg lists as installed', () => {
  assert.deepEqual(chooseSyslogDaemon(BASE + stanza('rsyslog'), 'rootfs.tgz'), { daemon: 'rsyslog', warning: null });
  assert.deepEqual(chooseSyslogDaemon(BASE + stanza('sysklogd'), 'rootfs.tgz'), { daemon: 'sysklogd', warning: null });
  // removed (config files left) or never installed do not count
  assert.deepEqual(chooseSyslogDaemon(BASE + stanza('rsyslog') + stanza('sysklogd', 'deinstall ok config-files'), 'r'), { daemon: 'rsyslog', warning: null });
  assert.deepEqual(chooseSyslogDaemon(BASE + stanza('sysklogd') + stanza('rsyslog', 'purge ok not-installed'), 'r'), { daemon: 'sysklogd', warning: null });
});

test('both installed: rsyslog, with a warning saying why and what to do', () => {
  const c = chooseSyslogDaemon(BASE + stanza('sysklogd') + stanza('rsyslog'), 'lenny-powerpc-obs600-x.tar.gz');
  assert.equal(c.daemon, 'rsyslog');
  assert.match(c.warning ?? '', /^lenny-powerpc-obs600-x\.tar\.gz: both rsyslog and sysklogd are installed \(they conflict; one was forced in\).*remove sysklogd$/);
});

test('neither installed: an error naming where dpkg\'s status came from and what was looked for', () => {
  for (const status of [BASE, '', BASE + stanza('rsyslog', 'deinstall ok config-files')]) {
    assert.throws(
      () => chooseSyslogDaemon(status, 'lenny-powerpc-obs600-x.tar.gz'),
      (e: unknown) => e instanceof UserError && e.code === 'input-invalid' && /^lenny-powerpc-obs600-x\.tar\.gz: syslog: forwarding needs rsyslog or sysklogd, and dpkg's status shows neither installed$/.test(e.message),
    );
  }
});

test('syslogFiles: the rsyslog file, or sysklogd\'s syslog.conf with the block; a port sysklogd cannot use names the site line', async () => {
  const loaded = await siteWith('syslog:\n  servers: [192.168.253.2]\n  port: 5140\n');
  assert.deepEqual(syslogFiles(loaded, {}, 'the box'), [], 'day two before the box was asked: nothing yet');
  const rs = syslogFiles(loaded, { dpkgStatus: BASE + stanza('rsyslog') }, 'r.tgz');
  assert.deepEqual(rs.map((f) => [f.path, f.mode, f.uid, f.gid]), [['/etc/rsyslog.d/obsbuild-remote.conf', 0o644, 0, 0]]);
  assert.match(String(rs[0].content), /^\*\.\*\t@192\.168\.253\.2:5140$/m);
  assert.throws(
    () => syslogFiles(loaded, { dpkgStatus: BASE + stanza('sysklogd'), syslogConf: '*.* -/var/log/syslog\n' }, 'r.tgz'),
    (e: unknown) =>
      e instanceof UserError && e.code === 'site-invalid' &&
      e.message === `${loaded.file}:${loaded.lineOf(['syslog', 'port'])}: syslog.port 5140: r.tgz runs sysklogd, which sends only to port 514; use 514 or install rsyslog`,
  );
  const at514 = await siteWith('syslog:\n  servers: [192.168.253.2]\n');
  const sk = syslogFiles(at514, { dpkgStatus: BASE + stanza('sysklogd'), syslogConf: '*.* -/var/log/syslog\n' }, 'r.tgz');
  assert.equal(sk[0].path, '/etc/syslog.conf');
  assert.match(String(sk[0].content), /^\*\.\* -\/var\/log\/syslog\n# BEGIN obsbuild.*\n\*\.\*\t@192\.168\.253\.2\n# END obsbuild\n$/);
  assert.throws(() => syslogFiles(at514, { dpkgStatus: BASE + stanza('sysklogd') }, 'r.tgz'), /^UserError: r\.tgz: sysklogd is installed but \/etc\/syslog\.conf is missing/);
  const none = await siteWith('');
  assert.deepEqual(syslogFiles(none, { dpkgStatus: BASE }, 'r.tgz'), [], 'no syslog: no files and no daemon needed');
});

test('wantedPackages: the board\'s NTP daemon joins keepalived and ipvsadm when the site sets ntp:', async () => {
  assert.deepEqual(wantedPackages((await siteWith('')).site), ['keepalived', 'ipvsadm']);
  assert.deepEqual(wantedPackages((await siteWith('ntp:\n  servers: [192.168.253.1]\n')).site), ['keepalived', 'ipvsadm', 'ntp']);
  assert.deepEqual(wantedPackages((await siteWith('ntp:\n  servers: [192.168.253.1]\n', 'vobs')).site), ['keepalived', 'ipvsadm', 'chrony']);
});
