/** `obsbuild init` then `obsbuild render`: the guide's files (scenario 000), and how render treats --out and --node. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { loadSite } from '../../src/site/load.js';
import { sitesDir } from './tree.js';

async function inTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-init-'));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The guide's listing 1 (scenario 000), byte for byte. */
const GUIDE_INTERFACES = `# Used by ifup(8) and ifdown(8). See the interfaces(5) manpage or
# /usr/share/doc/ifupdown/examples for more information.
auto lo
iface lo inet loopback
auto eth0
iface eth0 inet static
address 192.168.253.254
netmask 255.255.255.0
auto eth0:120
iface eth0:120 inet static
address 192.168.253.120
netmask 255.255.255.0
auto eth1
iface eth1 inet static
address 172.16.14.120
netmask 255.255.255.0
`;

test('init && render produce the guide\'s files', async () => {
  await inTmp(async (dir) => {
    const init = await runCli(['init'], { cwd: dir });
    assert.equal(init.exitCode, 0, String(init.stderr));
    const render = await runCli(['render', '--site', 'obsbuild.yaml', '--out', 'x'], { cwd: dir });
    assert.equal(render.exitCode, 0, String(render.stderr));
    assert.match(String(render.stderr), /warning: root keeps the well-known password root\/root/);
    const read = (p: string) => readFile(join(dir, 'x', p), 'utf8');
    assert.equal(await read('etc/network/interfaces'), GUIDE_INTERFACES);
    assert.match(await read('etc/sysctl.conf'), /^# Uncomment the next line to enable packet forwarding for IPv4\nnet\.ipv4\.ip_forward = 1$/m);
    assert.equal(await read('etc/resolv.conf'), '');
    assert.equal(await read('etc/hostname'), 'obs600\n');
    assert.match(await read('etc/hosts'), /^192\.168\.253\.254\tobs600$/m);
    const conf = await read('etc/keepalived/keepalived.conf');
    assert.match(conf, /^virtual_server 192\.168\.253\.120 80 \{$/m);
    assert.match(conf, /^    lb_kind NAT$/m);
    assert.deepEqual([...conf.matchAll(/real_server (\S+) 80/g)].map((m) => m[1]), ['172.16.14.121', '172.16.14.122', '172.16.14.123']);
    assert.match(await read('etc/default/ipvsadm'), /^AUTO="false"$/m);
  });
});

test('the starter describes the same network as the scenario 000 fixture', async () => {
  await inTmp(async (dir) => {
    assert.equal((await runCli(['init', '--site', 'starter.yaml'], { cwd: dir })).exitCode, 0);
    const starter = (await loadSite(join(dir, 'starter.yaml'))).site;
    const fixture = (await loadSite(join(sitesDir, 'nat-single.yaml'))).site;
    assert.deepEqual(starter.network, fixture.network);
    assert.deepEqual(starter.lvs, fixture.lvs);
    assert.deepEqual(starter.root, { password_hash: null, allow_default_password: true, authorized_keys: [] });
    const text = await readFile(join(dir, 'starter.yaml'), 'utf8');
    assert.match(text, /put a crypt hash here \(e\.g\. from `openssl passwd -1`/);
    assert.match(text, /^  allow_default_password: true$/m);
  });
});

test('init refuses to overwrite without --force, and overwrites with it', async () => {
  await inTmp(async (dir) => {
    await writeFile(join(dir, 'obsbuild.yaml'), 'mine\n');
    const r = await runCli(['init'], { cwd: dir });
    assert.equal(r.exitCode, 1);
    assert.equal(String(r.stderr).trim(), 'obsbuild: obsbuild.yaml: already exists; pass --force to overwrite it');
    assert.equal(await readFile(join(dir, 'obsbuild.yaml'), 'utf8'), 'mine\n');
    assert.equal((await runCli(['init', '--force'], { cwd: dir })).exitCode, 0);
    assert.match(await readFile(join(dir, 'obsbuild.yaml'), 'utf8'), /^board: obs600/m);
    const bad = await runCli(['init', '--profile', 'web', '--force'], { cwd: dir });
    assert.equal(bad.exitCode, 2, 'an unknown --profile is a usage error');
    assert.match(String(bad.stderr), /unknown profile "web"; known profiles: lb/);
  });
});

test('render never replaces a directory it did not write, and replaces its own output whole', async () => {
  await inTmp(async (dir) => {
    const site = join(sitesDir, 'nat-single.yaml');
    const foreign = join(dir, 'foreign');
    await mkdir(foreign);
    await writeFile(join(foreign, 'keep.txt'), 'precious\n');
    const r = await runCli(['render', '--site', site, '--out', foreign]);
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stderr), /foreign: directory is not empty and was not written by obsbuild render/);
    assert.deepEqual(await readdir(foreign), ['keep.txt']);

    const out = join(dir, 'out');
    assert.equal((await runCli(['render', '--site', site, '--out', out])).exitCode, 0);
    await writeFile(join(out, 'etc', 'stale'), 'from an earlier run\n');
    assert.equal((await runCli(['render', '--site', site, '--out', out])).exitCode, 0);
    assert.ok(!(await readdir(join(out, 'etc'))).includes('stale'));
    assert.deepEqual((await readdir(dir)).sort(), ['foreign', 'out'], 'no temporary directories left behind');
  });
});

test('render --node picks one member of a pair; a single director refuses --node; bad choices are usage errors', async () => {
  await inTmp(async (dir) => {
    const pair = join(sitesDir, 'dr-http-pair.yaml');
    const r = await runCli(['render', '--site', pair, '--node', 'backup', '--out', join(dir, 'b')]);
    assert.equal(r.exitCode, 0, String(r.stderr));
    const conf = await readFile(join(dir, 'b', 'etc/keepalived/keepalived.conf'), 'utf8');
    assert.match(conf, /^    state BACKUP$/m);
    assert.match(conf, /^    priority 50$/m);
    assert.equal(await readFile(join(dir, 'b', 'etc/hostname'), 'utf8'), 'lvs-slave\n');

    const single = await runCli(['render', '--site', join(sitesDir, 'nat-single.yaml'), '--node', 'master', '--out', join(dir, 's')]);
    assert.equal(single.exitCode, 2, '--node on a single director is a usage error');
    assert.match(String(single.stderr), /--node master is only for an HA pair/);

    const dialect = await runCli(['render', '--site', pair, '--dialect', 'squeeze', '--out', join(dir, 'd')]);
    assert.equal(dialect.exitCode, 2);
    const noOut = await runCli(['render', '--site', pair]);
    assert.equal(noOut.exitCode, 2);
  });
});

test('both nodes of a pair share VRID, password and addresses by construction', async () => {
  await inTmp(async (dir) => {
    assert.equal((await runCli(['render', '--site', join(sitesDir, 'dr-http-pair.yaml'), '--out', dir + '/o'])).exitCode, 0);
    const shared = (text: string) =>
      text
        .split('\n')
        .filter((l) => /virtual_router_id|auth_pass|advert_int|\/\d+ dev |^virtual_server|real_server/.test(l))
        .join('\n');
    const a = await readFile(join(dir, 'o/lvs-master/etc/keepalived/keepalived.conf'), 'utf8');
    const b = await readFile(join(dir, 'o/lvs-slave/etc/keepalived/keepalived.conf'), 'utf8');
    assert.ok(shared(a).includes('virtual_router_id 1') && shared(a).includes('auth_pass hogehoge'));
    assert.equal(shared(a), shared(b));
    assert.notEqual(a, b);
  });
});

test('the starter\'s commented HA pair example is valid once uncommented (NAT pair with a floating gateway)', async () => {
  const { starterSiteText } = await import('../../src/site/starter.js');
  const { parseSite } = await import('../../src/site/load.js');
  const { lintSite } = await import('../../src/lvs/lint.js');
  const out: string[] = [];
  let inExample = false;
  for (const line of starterSiteText().split('\n')) {
    if (line.startsWith('  vrrp: null')) inExample = true;
    else if (inExample && line.startsWith('  # then')) inExample = false;
    else if (inExample && line.startsWith('  # ')) out.push('  ' + line.slice(4));
    else out.push(line);
  }
  const loaded = parseSite(out.join('\n'), 'ha.yaml');
  assert.equal(loaded.site.lvs.vrrp?.inside_address, '172.16.14.250');
  assert.deepEqual(lintSite(loaded).filter((f) => f.severity === 'error'), []);
});

test('the starter shows timezone: commented out; uncommented, the example is a valid zone', async () => {
  const { starterSiteText } = await import('../../src/site/starter.js');
  const { parseSite } = await import('../../src/site/load.js');
  const text = starterSiteText();
  assert.equal(parseSite(text, 'obsbuild.yaml').site.timezone, null, 'commented out: the rootfs keeps its zone');
  const line = text.split('\n').find((l) => l.startsWith('# timezone:'));
  assert.ok(line, 'a commented timezone: line');
  assert.equal(parseSite(text.replace(line, line.slice(2)), 'obsbuild.yaml').site.timezone, 'Asia/Tokyo');
});
