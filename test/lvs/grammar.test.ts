/**
 * The per-format grammars of src/site/grammar/ and the renderers' last-line guard: a value that would
 * break or add lines to a generated file is refused by the renderer even when lint is bypassed (a site
 * built in code), and values the grammar accepts give a configuration keepalived 2.x's `-t` accepts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseSite } from '../../src/site/load.js';
import type { Site } from '../../src/site/model.js';
import { UserError } from '../../src/util/errors.js';
import { renderConfigTree } from '../../src/lvs/render.js';
import { renderNotifyScript } from '../../src/lvs/notify.js';
import { renderIpvsadmDefault } from '../../src/lvs/ipvsadm.js';
import { realServerBundles } from '../../src/lvs/realserver.js';
import { checkLennyKeywords } from '../../src/lvs/keepalived-keywords.js';
import { replaceRootHash, authorizedKeysFiles } from '../../src/image/shadow.js';
import { keepalivedTokenProblem, MAX_KEEPALIVED_TOKEN } from '../../src/site/grammar/keepalived-token.js';
import { shellWordProblem } from '../../src/site/grammar/shell-word.js';
import { sysctlKeyProblem, sysctlSettingProblem, sysctlValueProblem, MAX_SYSCTL_LINE } from '../../src/site/grammar/sysctl-conf.js';
import { interfaceNameProblem, interfacesWordProblem } from '../../src/site/grammar/interfaces.js';
import { hostNameProblem, hostsWordProblem } from '../../src/site/grammar/hosts.js';
import { shadowFieldProblem } from '../../src/site/grammar/shadow.js';
import { authorizedKeyProblem, MAX_AUTHORIZED_KEY_LINE } from '../../src/site/grammar/authorized-keys.js';
import { sitesDir } from './tree.js';
import { interfacesNamedIn, keepalivedConfigTest, keepalivedInstalled } from './keepalived-check.js';

type ProblemFn = (v: string) => string | undefined;

function accepts(fn: ProblemFn, values: string[]): void {
  for (const v of values) assert.equal(fn(v), undefined, `${fn.name} refused ${JSON.stringify(v)}`);
}

function refuses(fn: ProblemFn, cases: [string, RegExp][]): void {
  for (const [v, why] of cases) {
    const problem = fn(v);
    assert.ok(problem, `${fn.name} accepted ${JSON.stringify(v)}`);
    assert.match(problem, why, `${fn.name}(${JSON.stringify(v)})`);
  }
}

/** Printable ASCII a URL path may hold that keepalived.conf takes literally (no { } " ! #). */
const ODD_BUT_SAFE_PATH = "/a$b;c'd~e@f\\g%20h?x=1&y=(2)*,:+[]|<>^`";

test('keepalived.conf words: whitespace, { } " ! # and anything not printable ASCII are refused', () => {
  accepts(keepalivedTokenProblem, ['hogehoge', '/index.html', ODD_BUT_SAFE_PATH, 'eth0:120', '172.16.80.100/18', 'x'.repeat(MAX_KEEPALIVED_TOKEN)]);
  refuses(keepalivedTokenProblem, [
    ['', /is empty/],
    ['a b', /a space, which splits the value into two words/],
    ['a\tb', /a tab/],
    ['a\nb', /a newline/],
    ['a\rb', /a carriage return/],
    ['a\vb', /U\+000B/],
    ['a{b', /"\{", which opens a block/],
    ['a}b', /"\}", which closes a block/],
    ['a"b', /is a word of its own \(1\.1\.15 has no quoting\)/],
    ['a!b', /"!", which starts a comment/],
    ['a#b', /"#", which starts a comment/],
    ['a\u0000b', /U\+0000/],
    ['pässwd', /non-ASCII character "ä"/],
    ['a\u00a0b', /non-ASCII/],
    ['x'.repeat(MAX_KEEPALIVED_TOKEN + 1), /keepalived 1\.1\.15 reads at most 1024 bytes a line/],
  ]);
});

test('shell words: only characters no shell interprets, in or out of double quotes', () => {
  accepts(shellWordProblem, ['lvs-master', 'eth0', '/dev/sda', '192.168.0.1', 'VI_1', 'a=b,c:d@e%f+g']);
  refuses(
    shellWordProblem,
    ['', '$x', '`id`', 'a"b', "a'b", 'a b', 'a;b', 'a|b', 'a&b', 'a\nb', 'a\\b', '*', 'a(b', '~root', '#'].map((v) => [v, v === '' ? /is empty/ : /would not take literally/] as [string, RegExp]),
  );
});

test('sysctl.conf: one line a setting, no blanks procps drops, lines procps can read whole', () => {
  accepts(sysctlKeyProblem, ['net.ipv4.ip_forward', 'net.ipv4.conf.all.rp_filter', 'net.ipv4.conf.br-lan.forwarding', 'kernel.core_pattern']);
  refuses(sysctlKeyProblem, [['net', /is not a sysctl key/], ['net.ipv4/ip_forward', /is not/], ['net.ipv4.ip_forward = 1\nkernel', /is not/], ['Net.ipv4', /is not/], ['net..x', /is not/]]);
  accepts(sysctlValueProblem, ['1', '4096 87380 4194304', '|/usr/bin/dump %p', 'a\tb', 'x=y']);
  refuses(sysctlValueProblem, [
    ['', /is empty/],
    ['  ', /is empty/],
    [' 1', /starts or ends with blanks/],
    ['1\n', /starts or ends with blanks/],
    ['0\nkernel.panic = 1', /a newline; a sysctl\.conf value is one line/],
    ['0\rkernel.panic = 1', /a carriage return/],
    ['1\u0000', /U\+0000/],
    ['é', /non-ASCII/],
  ]);
  const key = 'kernel.core_pattern';
  const fits = 'x'.repeat(MAX_SYSCTL_LINE - `${key} = `.length);
  assert.equal(sysctlSettingProblem(key, fits), undefined);
  assert.match(sysctlSettingProblem(key, `${fits}x`)?.problem ?? '', /makes a 255-character line; procps 3\.2\.7 reads at most 254/);
  assert.deepEqual(sysctlSettingProblem('bad key', '1')?.part, 'key');
});

test('interfaces: words without whitespace, # or \\; interface names the kernel takes', () => {
  accepts(interfacesWordProblem, ['eth0', 'eth0:120', '192.168.253.254', '255.255.255.0']);
  refuses(interfacesWordProblem, [['', /is empty/], ['1.2.3.4 up', /a space/], ['1.2.3.4\n  up rm -rf /', /a newline/], ['a#b', /"#"/], ['a\\', /"\\\\"/]]);
  accepts(interfaceNameProblem, ['eth0', 'eth1', 'br-lan', 'bond0.100', 'x'.repeat(15)]);
  refuses(interfaceNameProblem, [['', /not an interface name/], ['eth0:1', /not an interface name/], ['eth 0', /not/], ['a/b', /not/], ['.', /not/], ['..', /not/], ['x'.repeat(16), /1 to 15/]]);
});

test('hosts, hostname, resolv.conf: host names are RFC 1123 labels, words have no whitespace or #', () => {
  accepts(hostNameProblem, ['obs600', 'lvs-master', 'a', 'x'.repeat(63)]);
  refuses(hostNameProblem, [['', /not a host name/], ['-a', /not/], ['a-', /not/], ['LVS', /not/], ['a b', /not/], ['a.b', /not/], ['x'.repeat(64), /not/], ['a\nb', /not/]]);
  accepts(hostsWordProblem, ['192.168.0.1', 'lvs-master']);
  refuses(hostsWordProblem, [['', /is empty/], ['1.1.1.1\nnameserver 6.6.6.6', /a newline/], ['a#b', /"#"/], ['a b', /a space/]]);
});

test('shadow fields and authorized_keys lines', () => {
  accepts(shadowFieldProblem, ['$1$fixture$7sa4GtBomJXmarYg/KhNO/', '*', '!']);
  refuses(shadowFieldProblem, [['', /lets anyone log in as root without a password/], ['a:b', /":"/], ['a\nb', /a newline/], ['a b', /a space/]]);
  accepts(authorizedKeyProblem, ['ssh-rsa AAAA me@host', 'ssh-rsa AAAA José\tlaptop', ' ssh-rsa AAAA x ']);
  refuses(authorizedKeyProblem, [
    ['', /is empty/],
    ['ssh-rsa AAAA a\nssh-rsa BBBB b', /a newline; each key must be one line/],
    ['ssh-rsa AAAA a\rb', /a carriage return/],
    ['ssh-rsa AAAA a\u0000', /U\+0000/],
    [`ssh-rsa ${'A'.repeat(MAX_AUTHORIZED_KEY_LINE)}`, /OpenSSH 5\.1 reads at most 8190 a line and reads the rest as another key/],
  ]);
});

async function loaded(name: string): Promise<Site> {
  return parseSite(await readFile(join(sitesDir, `${name}.yaml`), 'utf8'), `${name}.yaml`).site;
}

function refused(fn: () => unknown, file: string, value: RegExp): void {
  assert.throws(fn, (e: Error) => {
    assert.ok(e instanceof UserError, `not a UserError: ${e.stack}`);
    assert.ok(e.message.startsWith(`${file}: refusing to write `), e.message);
    assert.match(e.message, value);
    assert.equal(e.message.split('\n').length, 1, 'one line');
    return true;
  });
}

test('renderers refuse values that would break their file, even for a site that skipped lint', async () => {
  const cases: [string, string, (s: Site) => void, RegExp][] = [
    ['dr-http-pair', '/etc/keepalived/keepalived.conf', (s) => (s.lvs.vrrp!.auth_pass = 'pa}ss'), /the auth_pass value "pa}ss": it contains "}"/],
    ['nat-single', '/etc/keepalived/keepalived.conf', (s) => ((s.lvs.virtual_servers[0].check as { path: string }).path = '/a b'), /the path value "\/a b": it contains a space/],
    ['nat-single', '/etc/keepalived/keepalived.conf', (s) => ((s.lvs.virtual_servers[0].check as { path: string }).path = '/"x'), /contains "\\""/],
    ['nat-single', '/etc/keepalived/keepalived.conf', (s) => (s.lvs.virtual_servers[0].name = 'web\nvirtual_server'), /the virtual server name "web\\nvirtual_server"/],
    ['nat-single', '/etc/keepalived/keepalived.conf', (s) => (s.lvs.virtual_servers[0].real_servers[0].address = '172.16.14.121 80 {'), /the real_server value/],
    ['nat-single', '/etc/hostname', (s) => (s.hostname = 'obs\n600'), /the host name "obs\\n600"/],
    ['nat-single', '/etc/resolv.conf', (s) => (s.network.nameservers = ['1.1.1.1\nnameserver 6.6.6.6']), /the name server/],
    ['nat-single', '/etc/sysctl.conf', (s) => (s.network.sysctl = { 'net.ipv4.conf.all.rp_filter': '0\nkernel.panic = 1' }), /the value of net\.ipv4\.conf\.all\.rp_filter/],
    ['nat-single', '/etc/sysctl.conf', (s) => (s.network.sysctl = { 'net.x = 1\nkernel.panic': '1' }), /the sysctl key/],
    ['nat-single', '/etc/network/interfaces', (s) => (s.network.interfaces = { 'eth0 inet': s.network.interfaces.eth0 }), /the interface name "eth0 inet"/],
    ['ipvsadm-nat', '/etc/ipvsadm.rules', (s) => (s.lvs.virtual_servers[0].real_servers[0].address = '172.16.14.121:80 -x'), /the real server address/],
  ];
  for (const [scenario, file, mutate, value] of cases) {
    const site = await loaded(scenario);
    mutate(site);
    refused(() => renderConfigTree(site, { node: site.lvs.vrrp ? 'master' : undefined }), file, value);
  }
  const ipvsadm = await loaded('ipvsadm-nat');
  ipvsadm.network.interfaces = { 'eth0"; reboot; "': ipvsadm.network.interfaces.eth0 };
  refused(() => renderIpvsadmDefault(ipvsadm), '/etc/default/ipvsadm', /the interface name/);
  refused(() => renderNotifyScript('lvs"; reboot; "', 'VI_1'), '/etc/keepalived/notify.sh', /the host name/);
  refused(() => renderNotifyScript('lvs', 'VI_1$(reboot)'), '/etc/keepalived/notify.sh', /the VRRP instance name/);
  const dr = await loaded('dr-http-pair');
  dr.lvs.virtual_servers[0].address = '172.16.80.100\n    up reboot';
  refused(() => realServerBundles(dr), '/lo-vip.interfaces', /the virtual address/);
  refused(() => replaceRootHash('root:x:1:0:::::\n', '$1$a$b:0:0:root:/root:/bin/sh'), '/etc/shadow', /contains ":"/);
  refused(() => authorizedKeysFiles(['ssh-rsa AAAA a\nssh-rsa BBBB intruder']), '/root/.ssh/authorized_keys', /key 1 .* a newline/);
});

async function configTest(conf: string) {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-grammar-'));
  try {
    const file = join(dir, 'keepalived.conf');
    await writeFile(file, conf);
    return await keepalivedConfigTest(file, interfacesNamedIn(conf));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function keepalivedConf(site: Site, dialect: 'lenny' | 'modern'): string {
  return String(renderConfigTree(site, { node: 'master', dialect }).find((f) => f.path === '/etc/keepalived/keepalived.conf')!.content);
}

test('keepalived words the grammar accepts stay one word: keepalived -t passes and 1.1.15 sees no stray keywords', { skip: !(await keepalivedInstalled()) && 'keepalived not installed' }, async () => {
  const site = await loaded('dr-http-pair');
  (site.lvs.virtual_servers[0].check as { path: string }).path = ODD_BUT_SAFE_PATH;
  site.lvs.vrrp!.auth_pass = "$a;b~'@(";
  assert.equal(keepalivedTokenProblem(site.lvs.vrrp!.auth_pass), undefined);
  const modern = keepalivedConf(site, 'modern');
  assert.ok(modern.includes(`path ${ODD_BUT_SAFE_PATH}\n`), modern);
  const r = await configTest(modern);
  assert.equal(r.exitCode, 0, r.output);
  assert.deepEqual(checkLennyKeywords(keepalivedConf(site, 'lenny')), []);
});

test('keepalived words the grammar refuses really break keepalived.conf: keepalived -t fails where the renderer now refuses', { skip: !(await keepalivedInstalled()) && 'keepalived not installed' }, async () => {
  const good = keepalivedConf(await loaded('dr-http-pair'), 'modern');
  for (const ch of ['}', '{', '"']) {
    const site = await loaded('dr-http-pair');
    (site.lvs.virtual_servers[0].check as { path: string }).path = `/a${ch}b`;
    refused(() => keepalivedConf(site, 'modern'), '/etc/keepalived/keepalived.conf', /the path value/);
    // What the renderer used to write for that path:
    const unguarded = good.replace('path /index.html', `path /a${ch}b`);
    assert.notEqual(unguarded, good);
    const r = await configTest(unguarded);
    assert.notEqual(r.exitCode, 0, `keepalived -t accepted path /a${ch}b:\n${r.output}`);
  }
});
