import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { shQuote } from '../../src/remote/sh-quote.js';
import { describeTarget, LENNY_ALGORITHM_OPTIONS, parseHost, sshArgs, sshConfigPath } from '../../src/remote/ssh-options.js';
import { UsageError, UserError } from '../../src/util/errors.js';
import { LENNY_OFFER } from './lenny-sshd.js';

test('parseHost accepts [user@]host[:port] with names, IPv4 and bracketed IPv6', () => {
  assert.deepEqual(parseHost('lb1'), { host: 'lb1', port: 22 });
  assert.deepEqual(parseHost('root@lb1.example.net:2222'), { user: 'root', host: 'lb1.example.net', port: 2222 });
  assert.deepEqual(parseHost('192.0.2.10:65535'), { host: '192.0.2.10', port: 65535 });
  assert.deepEqual(parseHost('admin_1@[2001:db8::1]:22'), { user: 'admin_1', host: '2001:db8::1', port: 22 });
  assert.deepEqual(parseHost('[fe80::1%eth0]'), { host: 'fe80::1%eth0', port: 22 });
  assert.equal(describeTarget(parseHost('root@[::1]:2222')), 'ssh root@[::1]:2222');
  assert.equal(describeTarget(parseHost('lb1:22')), 'ssh lb1');
});

test('parseHost refuses option injection and malformed hosts, naming the flag', () => {
  for (const bad of [
    '',
    '-oProxyCommand=touch /tmp/x',
    'root@-oProxyCommand=x',
    '-l@lb1',
    'root@lb1@x',
    'lb1:0',
    'lb1:65536',
    'lb1:022',
    'lb1:+22',
    'lb1:',
    'fe80::1',
    '[lb1]',
    '[::1',
    '[::1]x',
    'lb 1',
    'lb1\n',
    'lb-.x',
    'a..b',
    '@lb1',
    'r\u00e9@lb1',
    `${'a'.repeat(64)}.x`,
    'x'.repeat(301),
  ]) {
    assert.throws(() => parseHost(bad), (e: Error) => e instanceof UsageError && e.message.startsWith('--host ') && !e.message.includes('\n'), JSON.stringify(bad));
  }
});

test('paths given to ssh as config values keep % and spaces literal and refuse what cannot be quoted', () => {
  assert.equal(sshConfigPath('x', '/a b/%h/kh'), '"/a b/%%h/kh"');
  assert.throws(() => sshConfigPath('known hosts file', 'rel/kh'), (e: Error) => e instanceof UserError && /must be an absolute path/.test(e.message));
  assert.throws(() => sshConfigPath('known hosts file', '/a"b'), UserError);
  assert.throws(() => sshConfigPath('known hosts file', '/a\nb'), UserError);
});

test('the command line: strict pinning, no prompts, the destination after --, lenny additions only', () => {
  const args = sshArgs({ target: { user: 'root', host: 'lb1', port: 2222 }, knownHostsFile: '/out/known_hosts' }, '/tmp/o/m', 'client');
  assert.deepEqual(args.slice(-6), ['-l', 'root', '-p', '2222', '--', 'lb1']);
  const opts = args.flatMap((a, i) => (args[i - 1] === '-o' ? [a] : []));
  for (const want of ['BatchMode=yes', 'StrictHostKeyChecking=yes', 'UserKnownHostsFile="/out/known_hosts"', 'GlobalKnownHostsFile=/dev/null', 'ControlMaster=no', 'ControlPath="/tmp/o/m"', 'LogLevel=ERROR']) {
    assert.ok(opts.includes(want), want);
  }
  assert.ok(!args.includes('-F'), "the user's ~/.ssh/config stays in effect (jump hosts)");
  assert.deepEqual(opts.filter((o) => /Algorithms|Ciphers|MACs/.test(o)), ['HostKeyAlgorithms=+ssh-rsa', 'PubkeyAcceptedAlgorithms=+ssh-rsa']);
  const master = sshArgs({ target: { host: 'lb1', port: 22 }, knownHostsFile: '/out/kh', acceptNewHostKey: true }, '/tmp/o/m', 'master');
  assert.ok(master.includes('StrictHostKeyChecking=accept-new') && master.includes('ControlMaster=yes') && master.includes('-M'));
  assert.ok(!master.includes('-l'), 'no user: ssh decides');
});

test("OpenSSH's client needs exactly the ssh-rsa additions for lenny's offer", { skip: hasSsh() ? false : 'the OpenSSH client (ssh) is missing' }, () => {
  // ssh -G prints the effective configuration without connecting; -F none leaves only the built-in defaults.
  const effective = (extra: string[]) => {
    const out = execFileSync('ssh', ['-G', '-F', 'none', ...extra, 'lb1'], { encoding: 'utf8' });
    return (key: string) => (new RegExp(`^${key} (.*)$`, 'm').exec(out)?.[1] ?? '').split(',');
  };
  const defaults = effective([]);
  const common = (ours: string[], theirs: string) => ours.filter((a) => theirs.split(',').includes(a));
  // Key exchange, cipher and MAC: the client's defaults already meet lenny, so no option is passed for them.
  assert.ok(common(defaults('kexalgorithms'), LENNY_OFFER.kexAlgorithms).length > 0, 'a lenny key exchange is enabled by default');
  assert.ok(common(defaults('ciphers'), LENNY_OFFER.ciphers).length > 0, 'a lenny cipher is enabled by default');
  assert.ok(common(defaults('macs'), LENNY_OFFER.macs).length > 0, 'a lenny MAC is enabled by default');
  // The SHA-1 ssh-rsa signature is not, for the host key or for the user key.
  assert.equal(common(defaults('hostkeyalgorithms'), LENNY_OFFER.hostKeyAlgorithms).length, 0);
  assert.ok(!defaults('pubkeyacceptedalgorithms').includes('ssh-rsa'));
  const ours = effective(LENNY_ALGORITHM_OPTIONS.flatMap((o) => ['-o', o]));
  assert.ok(ours('hostkeyalgorithms').includes('ssh-rsa'));
  assert.ok(ours('pubkeyacceptedalgorithms').includes('ssh-rsa'));
  assert.equal(ours('hostkeyalgorithms')[0], defaults('hostkeyalgorithms')[0], 'appended: modern algorithms stay first');
});

test('shQuote makes one shell word of anything', () => {
  for (const s of ['', "'", "it's", '$(id) `id` "x" \\ \n *']) {
    assert.equal(execFileSync('sh', ['-c', `printf %s ${shQuote(s)}`], { encoding: 'utf8' }), s);
  }
});

function hasSsh(): boolean {
  try {
    execFileSync('ssh', ['-V'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
