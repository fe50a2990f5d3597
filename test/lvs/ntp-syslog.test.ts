/**
 * ntp: and syslog: as files: the NTP daemon's config in each board's dialect, the remote-syslog rule for
 * rsyslog and sysklogd, hostile values, the lint warning for names without a name server, and the starter.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { renderNtpConf } from '../../src/lvs/ntp.js';
import { renderRsyslogForward, renderSysklogdConf, SYSLOG_BLOCK_BEGIN, SYSLOG_BLOCK_END, withoutObsbuildBlock } from '../../src/lvs/syslog.js';
import { renderConfigTree } from '../../src/lvs/render.js';
import { lintSite } from '../../src/lvs/lint.js';
import { loadSite } from '../../src/site/load.js';
import { parseForwardRules } from '../../src/site/services.js';
import { starterSiteText } from '../../src/site/starter.js';
import { UserError } from '../../src/util/errors.js';
import { siteWith } from './site-with.js';

async function loadError(more: string): Promise<string> {
  try {
    await siteWith(more);
  } catch (err) {
    assert.ok(err instanceof UserError, String(err));
    return err.message;
  }
  assert.fail('the site loaded');
}

const SYSLOG = { servers: ['192.168.253.2', 'log.example.net'], port: 514, selector: '*.*' };

test('ntpd dialect (lenny 4.2.4): a client only, no monlist, one iburst server line per site server', () => {
  const conf = renderNtpConf({ servers: ['192.168.253.1', 'ntp.nict.jp'] }, 'ntpd');
  const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(lines, [
    'driftfile /var/lib/ntp/ntp.drift',
    'restrict -4 default kod notrap nomodify nopeer noquery',
    'restrict -6 default kod notrap nomodify nopeer noquery',
    'restrict 127.0.0.1',
    'restrict ::1',
    'disable monitor',
    'server 192.168.253.1 iburst',
    'server ntp.nict.jp iburst',
  ]);
});

test('chrony dialect (the virtual board): server lines, its driftfile, and no allow line (serves nobody)', () => {
  const conf = renderNtpConf({ servers: ['192.168.253.1'] }, 'chrony');
  const lines = conf.split('\n').filter((l) => l && !l.startsWith('#'));
  assert.deepEqual(lines, ['server 192.168.253.1 iburst', 'driftfile /var/lib/chrony/chrony.drift', 'makestep 1 3']);
  assert.ok(!/^allow/m.test(conf));
});

test('the rendered tree carries the board\'s NTP config only when the site sets ntp:', async () => {
  const none = await siteWith('');
  assert.ok(!renderConfigTree(none.site).some((f) => /ntp|chrony/.test(f.path)));
  const obs = await siteWith('ntp:\n  servers: [192.168.253.1]\n');
  const ntp = renderConfigTree(obs.site).find((f) => f.path === '/etc/ntp.conf');
  assert.match(String(ntp?.content), /^server 192\.168\.253\.1 iburst$/m);
  assert.equal(ntp?.mode, 0o644);
  const vobs = await siteWith('ntp:\n  servers: [192.168.253.1]\n', 'vobs');
  const paths = renderConfigTree(vobs.site).map((f) => f.path);
  assert.ok(paths.includes('/etc/chrony/chrony.conf') && !paths.includes('/etc/ntp.conf'), paths.join(' '));
});

test('rsyslog: its own file with selector @host:port per log host', () => {
  const text = renderRsyslogForward({ ...SYSLOG, port: 5140, selector: 'local0.*;daemon.*' });
  assert.deepEqual(text.split('\n').filter((l) => l && !l.startsWith('#')), ['local0.*;daemon.*\t@192.168.253.2:5140', 'local0.*;daemon.*\t@log.example.net:5140']);
  assert.deepEqual(parseForwardRules(text), [
    { selector: 'local0.*;daemon.*', host: '192.168.253.2', port: 5140 },
    { selector: 'local0.*;daemon.*', host: 'log.example.net', port: 5140 },
  ]);
});

test('sysklogd: the base system\'s syslog.conf kept, a marked block added; rendering again gives the same bytes', () => {
  const base = '# operator\'s\nauth,authpriv.*\t\t/var/log/auth.log\n*.*;auth,authpriv.none\t-/var/log/syslog';
  const once = renderSysklogdConf(base, SYSLOG);
  assert.equal(once, `${base}\n${SYSLOG_BLOCK_BEGIN}\n*.*\t@192.168.253.2\n*.*\t@log.example.net\n${SYSLOG_BLOCK_END}\n`);
  assert.equal(renderSysklogdConf(once, SYSLOG), once, 'idempotent: day two starts from the box\'s file, which already has the block');
  const changed = renderSysklogdConf(once, { ...SYSLOG, servers: ['10.0.0.9'] });
  assert.ok(!changed.includes('192.168.253.2') && changed.includes('*.*\t@10.0.0.9\n'), 'the old block is replaced, not kept');
  assert.ok(changed.startsWith(`${base}\n`));
  assert.throws(() => renderSysklogdConf(base, { ...SYSLOG, port: 5140 }), /sysklogd sends only to port 514/);
});

test('an unmatched BEGIN marker (hand-edited) keeps the operator\'s lines instead of swallowing them', () => {
  const text = `a\n${SYSLOG_BLOCK_BEGIN}\nkeep me\n${SYSLOG_BLOCK_BEGIN}\nold rule\n${SYSLOG_BLOCK_END}\nz\n`;
  assert.equal(withoutObsbuildBlock(text), `a\n${SYSLOG_BLOCK_BEGIN}\nkeep me\nz\n`);
  assert.equal(withoutObsbuildBlock(`x\n${SYSLOG_BLOCK_BEGIN}\ntail`), `x\n${SYSLOG_BLOCK_BEGIN}\ntail`);
});

test('hostile values never reach a config line: the site file refuses them, the renderers refuse them again', async () => {
  assert.match(await loadError('ntp:\n  servers: ["a\\nrestrict default"]\n'), /ntp\.servers\[0\]: must be a host name/);
  assert.match(await loadError('ntp:\n  servers: ["1.2.3.4 noquery"]\n'), /ntp\.servers\[0\]/);
  assert.match(await loadError('ntp:\n  servers: []\n'), /list at least one NTP server/);
  assert.match(await loadError(`ntp:\n  servers: [${Array.from({ length: 9 }, (_, i) => `10.0.0.${i + 1}`).join(', ')}]\n`), /ntp\.servers/);
  assert.match(await loadError('syslog:\n  servers: ["log;*.* /etc/shadow"]\n'), /syslog\.servers\[0\]/);
  assert.match(await loadError('syslog:\n  servers: [10.0.0.1]\n  selector: "*.* /var/log/x"\n'), /syslog\.selector:? must be a syslog selector/);
  assert.match(await loadError('syslog:\n  servers: [10.0.0.1]\n  selector: "*.*\\n*.* @evil"\n'), /syslog\.selector/);
  assert.match(await loadError('syslog:\n  servers: [10.0.0.1]\n  port: 70000\n'), /syslog\.port/);
  assert.throws(() => renderNtpConf({ servers: ['a\nrestrict default'] }, 'ntpd'), /ntp\.servers: .* is not a host name/);
  assert.throws(() => renderRsyslogForward({ ...SYSLOG, servers: ['h @x'] }), /syslog\.servers/);
  assert.throws(() => renderRsyslogForward({ ...SYSLOG, selector: '*.*\n*.*' }), /syslog\.selector/);
  // what the site file takes: local facilities, several selectors
  const ok = await siteWith('syslog:\n  servers: [10.0.0.1]\n  selector: "local0.*;daemon.*"\n');
  assert.equal(ok.site.syslog?.selector, 'local0.*;daemon.*');
});

test('lint: an NTP or syslog server given by name with no name server is a warning at its line', async () => {
  const named = await siteWith('ntp:\n  servers:\n    - 192.168.253.1\n    - ntp.nict.jp\nsyslog:\n  servers: [log.example.net]\n');
  const f = lintSite(named).filter((x) => x.rule === 'service-host-name');
  assert.equal(f.length, 2);
  assert.equal(f[0].severity, 'warning');
  assert.match(f[0].message, /ntp server ntp\.nict\.jp is a host name but network\.nameservers is empty/);
  assert.equal(f[0].line, named.lineOf(['ntp', 'servers', 1]));
  assert.match(f[1].message, /syslog server log\.example\.net/);
  const resolvable = await siteWith('ntp:\n  servers: [ntp.nict.jp]\n');
  resolvable.site.network.nameservers = ['192.168.253.53'];
  assert.deepEqual(lintSite(resolvable).filter((x) => x.rule === 'service-host-name'), []);
  const byAddress = await siteWith('ntp:\n  servers: [192.168.253.1]\n');
  assert.deepEqual(lintSite(byAddress).filter((x) => x.rule === 'service-host-name'), []);
});

test('obsbuild init shows ntp: and syslog: commented out; uncommented they make a valid site', async () => {
  const text = starterSiteText();
  assert.match(text, /^# ntp: /m);
  assert.match(text, /^# syslog: /m);
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-starter-'));
  try {
    const uncommented = text.replace(/^# (ntp:|syslog:|  servers:|  port:|  selector:)/gm, '$1');
    await writeFile(join(dir, 'site.yaml'), uncommented);
    const loaded = await loadSite(join(dir, 'site.yaml'));
    assert.deepEqual(loaded.site.ntp, { servers: ['192.168.253.1'] });
    assert.deepEqual(loaded.site.syslog, { servers: ['192.168.253.1'], port: 514, selector: '*.*' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
