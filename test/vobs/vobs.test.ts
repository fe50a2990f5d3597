import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { qemuArgs, HUB_OF_NIC } from '../../src/vobs/qemu.js';
import { moduleClosure, modulePathByName, modulesUnder, parseModulesDep } from '../../src/vobs/kernel.js';
import { httpBody, setupCommands, trafficPlan } from '../../src/vobs/traffic.js';
import { createBlankDisk, readBootSource } from '../../src/vobs/disks.js';
import { splitUImage, buildUImage } from '../../src/vobs/uimage.js';
import { recipeHash, vobsRecipe, vobsCacheDir } from '../../src/vobs/recipe.js';
import { loadSite } from '../../src/site/load.js';
import { DEFAULT_VOBS_SITE } from '../../src/vobs/flow.js';
import { waitForLog } from '../../src/vobs/serial-watch.js';

const spec = {
  kernel: '/k',
  initrd: '/i',
  cfImage: '/cf.img',
  flashImage: '/flash.img',
  stickImage: '/stick.img',
  runDir: '/run',
};

test('QEMU: TCG, paused, serial on a pty with a log, no user-mode networking, NICs only on hubs', () => {
  const args = qemuArgs(spec);
  const joined = args.join(' ');
  assert.equal(args[args.indexOf('-accel') + 1], 'tcg');
  assert.ok(args.includes('-S'), 'starts paused so no early output is lost');
  assert.match(joined, /-chardev pty,id=serial0,logfile=\/run\/serial\.log/);
  assert.doesNotMatch(joined, /-netdev (user|tap|bridge|socket|vde|stream|dgram)|-nic |-net |hostfwd/, 'nothing links the guest to the host network');
  assert.ok(args.filter((a) => a === '-netdev').length === 4);
  const netdevs = args.filter((_, i) => args[i - 1] === '-netdev');
  assert.deepEqual(netdevs, HUB_OF_NIC.map((hub, i) => `hubport,id=nic${i},hubid=${hub}`));
  // eth0 and eth2 share a hub (client side), eth1 and eth3 the other (real-server side).
  assert.deepEqual([...HUB_OF_NIC], [0, 1, 0, 1]);
});

test('QEMU: a pair of boards is wired hub to hub over 127.0.0.1 only, with MAC addresses of their own', () => {
  const first = qemuArgs({ ...spec, links: [{ hub: 0, port: 40100, mode: 'listen' }, { hub: 1, port: 40101, mode: 'listen' }] });
  const second = qemuArgs({ ...spec, boardIndex: 1, links: [{ hub: 0, port: 40100, mode: 'connect' }, { hub: 1, port: 40101, mode: 'connect' }] });
  const sockets = (args: string[]) => args.filter((a, i) => args[i - 1] === '-netdev' && a.startsWith('socket,'));
  assert.deepEqual(sockets(first), ['socket,id=link0,listen=127.0.0.1:40100', 'socket,id=link1,listen=127.0.0.1:40101']);
  assert.deepEqual(sockets(second), ['socket,id=link0,connect=127.0.0.1:40100', 'socket,id=link1,connect=127.0.0.1:40101']);
  assert.ok(second.includes('hubport,id=linkport1,hubid=1,netdev=link1'));
  const macs = (args: string[]) => args.join(' ').match(/mac=[0-9a-f:]+/g)!;
  assert.equal(new Set([...macs(first), ...macs(second)]).size, 8, 'eight distinct MAC addresses on the shared wires');
  assert.doesNotMatch([...first, ...second].join(' '), /-netdev (user|tap|bridge)|hostfwd/);
});

test('QEMU: one vCPU per board unless asked (the board has one core; paired boards share a 2-core host)', () => {
  const smp = (args: string[]) => args[args.indexOf('-smp') + 1];
  assert.equal(smp(qemuArgs(spec)), '1');
  assert.equal(smp(qemuArgs({ ...spec, boardIndex: 1, links: [{ hub: 0, port: 40100, mode: 'connect' }] })), '1');
  assert.equal(smp(qemuArgs({ ...spec, cpus: 2 })), '2');
});

test('QEMU: the CF card is on SATA, the stick on USB (removable by id), read-only', () => {
  const joined = qemuArgs(spec).join(' ');
  assert.match(joined, /file=\/cf\.img,format=raw.* -device ide-hd,drive=cf,bus=sata\.0/);
  assert.match(joined, /file=\/stick\.img,format=raw,readonly=on -device usb-storage,bus=usb\.0,drive=stickdrive,id=stick/);
  assert.doesNotMatch(qemuArgs({ ...spec, stickImage: undefined }).join(' '), /stick/);
});

test('modules: closure follows modules.dep, names match with - or _', () => {
  const deps = parseModulesDep(
    [
      'kernel/fs/ext4/ext4.ko: kernel/lib/crc16.ko kernel/fs/mbcache.ko kernel/fs/jbd2/jbd2.ko',
      'kernel/fs/jbd2/jbd2.ko:',
      'kernel/fs/mbcache.ko:',
      'kernel/lib/crc16.ko:',
      'kernel/net/netfilter/ipvs/ip_vs.ko: kernel/net/netfilter/nf_conntrack.ko',
      'kernel/net/netfilter/nf_conntrack.ko: kernel/lib/libcrc32c.ko',
      'kernel/lib/libcrc32c.ko:',
      'kernel/drivers/usb/storage/usb-storage.ko: kernel/drivers/usb/core/usbcore.ko',
      'kernel/drivers/usb/core/usbcore.ko:',
    ].join('\n'),
  );
  assert.equal(modulePathByName(deps, 'usb_storage'), 'kernel/drivers/usb/storage/usb-storage.ko');
  assert.equal(modulePathByName(deps, 'nope'), undefined);
  assert.deepEqual(moduleClosure(deps, ['kernel/fs/ext4/ext4.ko']), [
    'kernel/fs/ext4/ext4.ko',
    'kernel/fs/jbd2/jbd2.ko',
    'kernel/fs/mbcache.ko',
    'kernel/lib/crc16.ko',
  ]);
  const net = moduleClosure(deps, modulesUnder(deps, ['net/netfilter']));
  assert.ok(net.includes('kernel/lib/libcrc32c.ko'), 'dependencies outside the listed folders come along');
  assert.ok(!net.some((p) => p.includes('ext4')));
});

test('traffic plan from the guide site: client on eth0 subnet, real servers behind eth1, budget from the check', async () => {
  const { site } = await loadSite(DEFAULT_VOBS_SITE);
  assert.equal(site.board, 'vobs');
  const p = trafficPlan(site);
  assert.equal(p.vip, '192.168.253.120');
  assert.equal(p.clientAddress, '192.168.253.1');
  assert.equal(p.gateway, '172.16.14.120');
  assert.deepEqual(p.realServers.map((r) => r.address), ['172.16.14.121', '172.16.14.122', '172.16.14.123']);
  // delay_loop 6 + retries 3 x (connect_timeout 3 + retry_delay 2)
  assert.equal(p.takeOutBudgetS, 21);
  const cmds = setupCommands(p);
  assert.ok(cmds.includes('ip link set eth2 netns client'));
  assert.ok(cmds.includes('ip link set eth3 netns rsw'));
  assert.ok(cmds.includes('ip -n rs2 route add default via 172.16.14.120'));
  assert.ok(!cmds.some((c) => /\beth[01]\b/.test(c) && !/ -n rs\d|peer name eth0/.test(c)), "the appliance's own ports are not touched");
});

test('traffic plan for an HA pair: real servers route via the floating inside address, the client avoids both nodes', async () => {
  const { site } = await loadSite(DEFAULT_VOBS_SITE.replace(/site\.yaml$/, 'site-ha.yaml'));
  const p = trafficPlan(site);
  assert.equal(p.gateway, '172.16.14.250');
  assert.equal(p.clientAddress, '192.168.253.1');
  assert.equal(p.prefix0, 24);
});

test('traffic plan for DR: one segment, real servers set up from obsbuild realserver, no gateway via the director', async () => {
  const { site } = await loadSite(DEFAULT_VOBS_SITE.replace(/site\.yaml$/, 'site-dr.yaml'));
  const p = trafficPlan(site);
  assert.equal(p.forwarding, 'dr');
  assert.equal(p.gateway, undefined);
  assert.equal(p.clientAddress, '192.168.253.1');
  assert.deepEqual(p.realServers.map((r) => r.address), ['192.168.253.121', '192.168.253.122', '192.168.253.123']);
  assert.deepEqual(p.realServers[0].loopbackAddresses, ['192.168.253.120/32']);
  assert.ok(p.realServers[0].sysctls.some(([k, v]) => k === 'net.ipv4.conf.all.arp_ignore' && v === '1'));
  const cmds = setupCommands(p);
  assert.ok(cmds.includes('ip link set eth2 netns rsw'), "the real servers share the appliance's eth0 wire");
  assert.ok(!cmds.some((c) => /eth3|route add default/.test(c)));
  const sysctlAt = cmds.indexOf('ip netns exec rs1 busybox sysctl -w net.ipv4.conf.all.arp_ignore=1');
  const vipAt = cmds.indexOf('ip -n rs1 addr add 192.168.253.120/32 dev lo');
  assert.ok(sysctlAt >= 0 && vipAt > sysctlAt, 'ARP settings come before the virtual address');
  assert.ok(!cmds.some((c) => /\beth[01]\b/.test(c) && !/ -n (rs\d|client)|peer name eth0|netns exec rs\d/.test(c)), "the appliance's own ports are not touched");
});

test('traffic plan: tun is refused with a clear message', async () => {
  const { site } = await loadSite(DEFAULT_VOBS_SITE);
  const tun = { ...site, lvs: { ...site.lvs, virtual_servers: [{ ...site.lvs.virtual_servers[0], forwarding: 'tun' as const }] } };
  assert.throws(() => trafficPlan(tun), /covers nat and dr, not tun/);
});

test('HTTP body: only a 200 answer counts', () => {
  assert.equal(httpBody('HTTP/1.1 200 OK\nContent-Length: 4\n\nrs2\n'), 'rs2');
  assert.equal(httpBody('HTTP/1.1 200 OK\r\nX: y\r\n\r\nrs1\r\n'), 'rs1');
  assert.equal(httpBody('HTTP/1.1 404 Not Found\n\nrs1'), null);
  assert.equal(httpBody(''), null);
});

test('flash: the boot source flashcfg records is read back; blank flash has none', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-vobs-'));
  try {
    const flash = join(dir, 'flash.img');
    await createBlankDisk(flash, 65536);
    assert.equal(await readBootSource(flash), undefined);
    // What board/vobs/flashcfg writes: one 512-byte block.
    execFileSync('sh', ['-c', `printf 'bootsource=cf\\n' | dd of="${flash}" bs=512 count=1 conv=sync,notrunc 2>/dev/null`]);
    assert.equal(await readBootSource(flash), 'cf');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('uImage: mkimage multi-file image splits back into the same kernel and ramdisk', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-vobs-'));
  try {
    const kernel = Buffer.from('MZ fake bzImage '.repeat(1001)); // odd length: parts are 4-byte aligned
    const ramdisk = Buffer.from('070701 fake cpio '.repeat(333));
    await writeFile(join(dir, 'k'), kernel);
    await writeFile(join(dir, 'r'), ramdisk);
    await buildUImage({ vmlinuz: join(dir, 'k'), ramdisk: join(dir, 'r'), release: '6.1.0-56-amd64', dest: join(dir, 'u') });
    const parts = await splitUImage(join(dir, 'u'));
    assert.equal(parts.name, 'Linux-6.1.0-56-amd64');
    assert.ok(parts.kernel.equals(kernel));
    assert.ok(parts.ramdisk?.equals(ramdisk));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('stand-in cache is keyed by the recipe', () => {
  const r = vobsRecipe();
  const other = { ...r, rootfsPackages: [...r.rootfsPackages, 'less'] };
  assert.notEqual(recipeHash(r), recipeHash(other));
  assert.equal(recipeHash(r), recipeHash(vobsRecipe()));
  assert.equal(vobsCacheDir(r, { OBSBUILD_VOBS_CACHE: '/c' }), `/c/${recipeHash(r)}`);
});

test('serial log watcher matches a marker split across writes and gives up at its deadline', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-vobs-'));
  try {
    const log = join(dir, 'serial.log');
    await writeFile(log, 'boot...\nobsbuild-ins');
    const pending = waitForLog(log, /obsbuild-install: (done)/, { timeoutMs: 5000, pollMs: 20 });
    setTimeout(() => void writeFile(log, 'boot...\nobsbuild-install: done\n'), 100);
    const r = await pending;
    assert.equal(r.match[1], 'done');
    await assert.rejects(waitForLog(log, /never/, { timeoutMs: 100, pollMs: 20 }), /within/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
