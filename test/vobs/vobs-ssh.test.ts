/**
 * The virtual board's SSH path and keepalived choice, without QEMU: the management netdev's arguments, its
 * addresses (free in the site), the guest's sshd_config checked by this machine's real sshd, the sshd
 * readiness probe against real sockets, the stand-in recipe's keys, the keepalived choice and the mirror
 * resolution check over a real Packages.gz, and the line `obsbuild vm --keep` prints.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createSocket } from 'node:dgram';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { loadSite } from '../../src/site/load.js';
import { inSubnet, parseCidr } from '../../src/site/ipv4.js';
import { boardReadyLine } from '../../src/commands/vm.js';
import { LENNY_SSHD_OFFER } from '../../src/remote/lenny-sshd-offer.js';
import { UsageError, UserError } from '../../src/util/errors.js';
import { DEFAULT_VOBS_SITE } from '../../src/vobs/flow.js';
import { guestSshdConfig, GUEST_RSA_HOST_KEY } from '../../src/vobs/guest-sshd.js';
import { chooseKeepalived } from '../../src/vobs/keepalived-choice.js';
import { KEEPALIVED_115_SOURCE_ENV } from '../../src/vobs/keepalived115.js';
import { mgmtAddresses } from '../../src/vobs/mgmt.js';
import { forUserNet, MgmtSwitch, userNetMac } from '../../src/vobs/mgmt-switch.js';
import { mirrorResolves } from '../../src/vobs/mirror.js';
import { qemuArgs } from '../../src/vobs/qemu.js';
import { boardFile, recipeHash, vobsRecipe } from '../../src/vobs/recipe.js';
import { sshBanner, waitForSsh } from '../../src/vobs/ssh-ready.js';
import { trafficPlan } from '../../src/vobs/traffic.js';

const spec = { kernel: '/k', initrd: '/i', cfImage: '/cf.img', flashImage: '/flash.img', runDir: '/run' };
const mgmt = {
  net: '192.168.253.0/24', host: '192.168.253.253', dns: '192.168.253.252', dhcpStart: '192.168.253.250', guest: '192.168.253.254', hostPort: 40222,
  switchPorts: { wire: { switchPort: 41001, qemuPort: 41002 }, net: { switchPort: 41003, qemuPort: 41004 } },
};

test('QEMU: the SSH path is a restricted user network joined to eth0\'s wire through the switch, forwarded from 127.0.0.1 only', () => {
  const args = qemuArgs({ ...spec, mgmt });
  const netdevs = args.filter((_, i) => args[i - 1] === '-netdev');
  const user = netdevs.filter((n) => n.startsWith('user,'));
  assert.equal(user.length, 1, 'one user network');
  const opts = user[0].split(',');
  assert.ok(opts.includes('restrict=on'), 'the guest reaches nothing through it');
  assert.ok(opts.includes('ipv6=off'));
  assert.ok(opts.includes('net=192.168.253.0/24') && opts.includes('host=192.168.253.253') && opts.includes('dns=192.168.253.252'));
  assert.ok(opts.includes('dhcpstart=192.168.253.250'));
  assert.deepEqual(opts.filter((o) => o.startsWith('hostfwd=')), ['hostfwd=tcp:127.0.0.1:40222-192.168.253.254:22']);
  // Not on eth0's hub itself: a hub repeats every frame, and the user network resets every TCP segment it
  // is handed. Its own hub, and the switch (UDP on 127.0.0.1) between that hub and eth0's.
  assert.ok(netdevs.includes('hubport,id=mgmtport,hubid=2,netdev=mgmt'));
  assert.ok(netdevs.includes('socket,id=mgmtnet,udp=127.0.0.1:41003,localaddr=127.0.0.1:41004'));
  assert.ok(netdevs.includes('hubport,id=mgmtnetport,hubid=2,netdev=mgmtnet'));
  assert.ok(netdevs.includes('socket,id=mgmtwire,udp=127.0.0.1:41001,localaddr=127.0.0.1:41002'));
  assert.ok(netdevs.includes('hubport,id=mgmtwireport,hubid=0,netdev=mgmtwire'));
  assert.equal(netdevs.filter((n) => /hubid=0,netdev=mgmt/.test(n)).length, 1, 'only the switch\'s wire end is on hub 0');
  assert.throws(() => qemuArgs({ ...spec, mgmt: { ...mgmt, switchPorts: undefined } }), /switch/);
});

function frame(dst: Buffer, tag: string): Buffer {
  return Buffer.concat([dst, Buffer.from([0x52, 0x54, 0, 0x0b, 6, 0]), Buffer.from([0x08, 0x00]), Buffer.from(tag)]);
}

test('switch: QEMU\'s user network gets only frames addressed to it or broadcast; it may send anything to the wire', async () => {
  assert.equal(userNetMac('192.168.253.253').toString('hex'), '5255c0a8fdfd');
  const sw = await MgmtSwitch.open(['192.168.253.253', '192.168.253.252']);
  // QEMU's two ends, on the ports the switch picked for them.
  const qWire = createSocket('udp4');
  const qNet = createSocket('udp4');
  const stranger = createSocket('udp4');
  await new Promise<void>((r) => qWire.bind(sw.ports.wire.qemuPort, '127.0.0.1', r));
  await new Promise<void>((r) => qNet.bind(sw.ports.net.qemuPort, '127.0.0.1', r));
  const atNet: string[] = [];
  const atWire: string[] = [];
  qNet.on('message', (m) => atNet.push(m.subarray(14).toString()));
  qWire.on('message', (m) => atWire.push(m.subarray(14).toString()));
  try {
    const toSwitchWire = (f: Buffer, from = qWire) => from.send(f, sw.ports.wire.switchPort, '127.0.0.1');
    toSwitchWire(frame(userNetMac('192.168.253.253'), 'to-host'));
    toSwitchWire(frame(userNetMac('192.168.253.252'), 'to-dns'));
    toSwitchWire(frame(Buffer.alloc(6, 0xff), 'broadcast'));
    toSwitchWire(frame(Buffer.from('52540000b0602', 'hex').subarray(0, 6), 'to-client'));
    toSwitchWire(frame(userNetMac('192.168.253.251'), 'to-another-board'));
    toSwitchWire(frame(userNetMac('192.168.253.253'), 'injected'), stranger);
    qNet.send(frame(Buffer.from('5254000b0600', 'hex'), 'from-net'), sw.ports.net.switchPort, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(atNet.sort(), ['broadcast', 'to-dns', 'to-host']);
    assert.deepEqual(atWire, ['from-net']);
    assert.equal(forUserNet(Buffer.alloc(10), [userNetMac('192.168.253.253')]), false, 'a runt frame');
  } finally {
    sw.close();
    sw.close();
    for (const s of [qWire, qNet, stranger]) s.close();
  }
});

async function addressesOf(file: string) {
  const site = (await loadSite(file)).site;
  const taken = JSON.stringify(site).match(/\d+\.\d+\.\d+\.\d+/g)!;
  return { site, taken: new Set([...taken, trafficPlan(site).clientAddress]) };
}

test('SSH path addresses: free in the site (nodes, VIPs, real servers, the test client) and inside eth0\'s subnet', async () => {
  const { site, taken } = await addressesOf(DEFAULT_VOBS_SITE);
  const [m] = mgmtAddresses(site);
  assert.equal(m.guest, '192.168.253.254');
  assert.equal(m.net, '192.168.253.0/24');
  const own = [m.host, m.dns, m.dhcpStart];
  assert.equal(new Set(own).size, 3);
  for (const a of own) {
    assert.ok(!taken.has(a), `${a} is used by the site`);
    assert.ok(inSubnet(a, parseCidr(m.net)!), `${a} outside ${m.net}`);
  }
  assert.ok(!own.includes('192.168.253.255') && !own.includes('192.168.253.0'));
});

test('SSH path addresses for an HA pair: each board its own, none taken by the pair\'s site', async () => {
  const { site, taken } = await addressesOf(boardFile('site-ha.yaml'));
  const both = mgmtAddresses(site);
  assert.equal(both.length, 2);
  assert.deepEqual(both.map((m) => m.guest), ['192.168.253.251', '192.168.253.252']);
  const own = both.flatMap((m) => [m.host, m.dns, m.dhcpStart]);
  assert.equal(new Set(own).size, 6, 'the two QEMUs share the wire: six distinct addresses');
  for (const a of own) assert.ok(!taken.has(a), `${a} is used by the site`);
});

test('SSH path addresses: a subnet with no room left is a one-line error naming the node', async () => {
  const { site } = await addressesOf(DEFAULT_VOBS_SITE);
  const tight = structuredClone(site);
  tight.network.interfaces.eth0.address = '192.168.253.254/30'; // .253 and .254 only
  assert.throws(() => mgmtAddresses(tight), (e: unknown) => e instanceof UserError && /obs600: .*no|not three free/.test(e.message));
});

test('guest sshd_config: this machine\'s sshd takes it and offers exactly lenny\'s algorithms', { skip: existsSync('/usr/sbin/sshd') ? false : 'no sshd' }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-guest-sshd-'));
  try {
    const key = join(dir, 'host_rsa');
    execFileSync('ssh-keygen', ['-q', '-t', 'rsa', '-b', '2048', '-N', '', '-f', key]);
    const config = guestSshdConfig();
    assert.ok(config.includes(`HostKey ${GUEST_RSA_HOST_KEY}\n`));
    assert.equal(config.match(/^HostKey /gm)!.length, 1, 'one host key: RSA');
    await writeFile(join(dir, 'sshd_config'), config.replace(`HostKey ${GUEST_RSA_HOST_KEY}`, `HostKey ${key}`));
    await mkdir('/run/sshd', { recursive: true });
    const r = spawnSync('/usr/sbin/sshd', ['-T', '-f', join(dir, 'sshd_config')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const eff = new Map(r.stdout.split('\n').map((l) => [l.split(' ')[0], l.slice(l.indexOf(' ') + 1)]));
    assert.equal(eff.get('hostkeyalgorithms'), LENNY_SSHD_OFFER.hostKeyAlgorithms);
    assert.equal(eff.get('kexalgorithms'), LENNY_SSHD_OFFER.kexAlgorithms);
    assert.equal(eff.get('ciphers'), LENNY_SSHD_OFFER.ciphers);
    assert.equal(eff.get('macs'), LENNY_SSHD_OFFER.macs);
    assert.equal(eff.get('pubkeyacceptedalgorithms'), LENNY_SSHD_OFFER.pubkeyAcceptedAlgorithms);
    assert.equal(eff.get('permitrootlogin'), 'yes');
    assert.equal(eff.get('hostkey'), key);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

async function listen(onConnection: (s: Socket) => void): Promise<{ server: Server; port: number }> {
  const server = createServer(onConnection);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as { port: number }).port };
}

test('sshd readiness: only an SSH identification line counts, not an accepted connection (QEMU accepts for the guest)', async () => {
  const held: Socket[] = [];
  const sshd = await listen((s) => s.end('SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n'));
  const silent = await listen((s) => held.push(s)); // what QEMU's forward does before the guest listens
  const closing = await listen((s) => s.destroy());
  try {
    assert.equal(await sshBanner(sshd.port), 'SSH-2.0-OpenSSH_9.2p1 Debian-2');
    assert.equal(await sshBanner(silent.port, 300), null);
    assert.equal(await sshBanner(closing.port), null);
    assert.equal(await waitForSsh(closing.port, { limitMs: 700 }), null);
    assert.ok((await waitForSsh(sshd.port, { limitMs: 5000 }))! < 1);
  } finally {
    for (const s of held) s.destroy();
    for (const l of [sshd, silent, closing]) l.server.close();
  }
});

test('stand-in recipe: sshd and its config are in the rootfs recipe, and the keepalived choice keys the cache', () => {
  const debian = vobsRecipe();
  assert.ok(debian.rootfsPackages.includes('openssh-server'));
  assert.ok(debian.rootfsPackages.includes('rsyslog'), 'a syslog daemon, or keepalived 1.1.15 logs onto the serial console');
  assert.equal(debian.guestSshdConfig, guestSshdConfig());
  assert.deepEqual(debian.keepalived, { kind: 'debian' });
  assert.ok(debian.mirrorPackages.includes('keepalived'));
  const ka115 = vobsRecipe({ kind: '1.1.15', sourceSha256: 'a'.repeat(64), packageRecipeHash: 'b'.repeat(16) });
  assert.ok(!ka115.mirrorPackages.includes('keepalived'), "Debian's keepalived stays out of the mirror");
  assert.ok(ka115.mirrorPackages.includes('ipvsadm'));
  assert.notEqual(recipeHash(debian), recipeHash(ka115));
  const rebuilt = vobsRecipe({ kind: '1.1.15', sourceSha256: 'a'.repeat(64), packageRecipeHash: 'c'.repeat(16) });
  assert.notEqual(recipeHash(ka115), recipeHash(rebuilt), 'a new package recipe is a new stand-in');
});

test('keepalived choice: default by the source\'s presence, said once; bad values and a missing source are one-line errors', async () => {
  const none = await chooseKeepalived(undefined, {});
  assert.deepEqual(none.recipe, { kind: 'debian' });
  assert.match(none.notice, new RegExp(`Debian's 2.x.*${KEEPALIVED_115_SOURCE_ENV}`));
  await assert.rejects(chooseKeepalived('2.2', {}), (e: unknown) => e instanceof UsageError && /--keepalived "2.2": expected 1.1.15 or debian/.test(e.message));
  await assert.rejects(chooseKeepalived('1.1.15', {}), (e: unknown) => e instanceof UserError && e.message.includes(KEEPALIVED_115_SOURCE_ENV));
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-ka-choice-'));
  try {
    const wrong = join(dir, 'keepalived-1.1.15.tar.gz');
    await writeFile(wrong, 'not it');
    // A named source is the default, and it must be the real one.
    await assert.rejects(chooseKeepalived(undefined, { [KEEPALIVED_115_SOURCE_ENV]: wrong }), (e: unknown) => e instanceof UserError && /sha256/.test(e.message));
    const forced = await chooseKeepalived('debian', { [KEEPALIVED_115_SOURCE_ENV]: wrong });
    assert.deepEqual(forced.recipe, { kind: 'debian' });
    assert.match(forced.notice, /--keepalived debian/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const real = process.env[KEEPALIVED_115_SOURCE_ENV];
  if (real) {
    const chosen = await chooseKeepalived(undefined, { [KEEPALIVED_115_SOURCE_ENV]: real });
    assert.equal(chosen.recipe.kind, '1.1.15');
    assert.equal(chosen.source, real);
    assert.match(chosen.notice, /1\.1\.15/);
  }
});

function stanza(name: string, version: string, depends?: string): string {
  return [`Package: ${name}`, `Version: ${version}`, 'Architecture: amd64', `Filename: pool/main/${name}_${version}_amd64.deb`, 'Size: 1',
    `SHA256: ${'0'.repeat(64)}`, ...(depends ? [`Depends: ${depends}`] : []), ''].join('\n');
}

test('local mirror check: keepalived resolves to the version served, with every dependency in the mirror', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-vobs-mirror-'));
  const write = async (stanzas: string[]) => {
    const index = join(dir, 'dists/bookworm/main/binary-amd64');
    await mkdir(index, { recursive: true });
    await writeFile(join(index, 'Packages.gz'), gzipSync(stanzas.join('\n')));
  };
  try {
    await write([stanza('keepalived', '1:1.1.15-1+obsbuild1', 'libc6 (>= 2.34), libpopt0 (>= 1.14)'), stanza('libc6', '2.36-9'), stanza('libpopt0', '1.19'), stanza('ipvsadm', '1:1.31-1', 'libc6')]);
    assert.deepEqual(await mirrorResolves(dir, 'bookworm', 'amd64', ['keepalived', 'ipvsadm']), { keepalived: '1:1.1.15-1+obsbuild1', ipvsadm: '1:1.31-1' });
    await write([stanza('keepalived', '1:1.1.15-1+obsbuild1', 'libc6 (>= 2.34), libpopt0 (>= 1.14)'), stanza('libc6', '2.36-9'), stanza('ipvsadm', '1:1.31-1', 'libc6')]);
    await assert.rejects(mirrorResolves(dir, 'bookworm', 'amd64', ['keepalived', 'ipvsadm']), (e: unknown) => e instanceof UserError && /libpopt0/.test(e.message));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('obsbuild vm --keep: the ready line a script reads, with the hostname for a pair', () => {
  assert.equal(boardReadyLine({ hostname: 'obs600', pty: '/dev/pts/7', sshPort: 40222 }, false), 'board ready: serial=/dev/pts/7 ssh=127.0.0.1:40222');
  assert.equal(boardReadyLine({ hostname: 'lb2', pty: '/dev/pts/9', sshPort: 40223 }, true), 'board ready: lb2 serial=/dev/pts/9 ssh=127.0.0.1:40223');
});

test('stand-in recipe: the virtual board\'s NTP daemon (chrony, a board fact) is in the local mirror whichever keepalived', () => {
  for (const recipe of [vobsRecipe(), vobsRecipe({ kind: '1.1.15', sourceSha256: 'a'.repeat(64), packageRecipeHash: 'b'.repeat(16) })]) {
    assert.ok(recipe.mirrorPackages.includes('chrony'), recipe.mirrorPackages.join(' '));
  }
});
