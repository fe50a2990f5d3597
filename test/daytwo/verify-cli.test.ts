/**
 * `obsbuild verify` as users run it. Over SSH the "box" is this machine reached through the lenny-algorithm
 * sshd, with every session forced (authorized_keys command=) into a private mount namespace where overlays
 * put a temporary box's files over /etc and /lib/modules and stand-in tools (ip, ipvsadm, modprobe...) come
 * first on PATH: the real transport and the real shell read the box, and nothing of this machine's /etc is
 * read or written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileBytes } from '../../src/contracts/generated-file.js';
import { desiredNode } from '../../src/daytwo/desired.js';
import { loadSite } from '../../src/site/load.js';
import { runCli, repoRoot } from '../helpers/cli.js';
import { LennySshd, sshdUnavailable } from '../remote/lenny-sshd.js';
import { BOX_SHADOW, GOOD_IPADDR_SINGLE, GOOD_IPVSADM_SINGLE } from './fake-box.js';

const SITE = join(repoRoot, 'test/fixtures/sites/nat-single.yaml');
const MANIFEST_ID = '0123456789abcdef';

test('verify --help explains what is checked and how it exits', async () => {
  const r = await runCli(['verify', '--help']);
  assert.equal(r.exitCode, 0);
  assert.match(String(r.stdout), /Usage: obsbuild verify/);
  for (const want of [/--host/, /--port/, /--json/, /--manifest/, /drift/, /floating addresses/, /Exit 0 only when everything matches/, /diff not shown|never is/]) assert.match(String(r.stdout), want);
  const top = await runCli(['--help']);
  assert.match(String(top.stdout), /^\s+verify\b/m);
});

test('verify without --host or --port is a usage error; a missing site file names it', async () => {
  let r = await runCli(['verify', '--site', SITE]);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /give exactly one of --port \(serial console\) and --host \(SSH\)/);
  r = await runCli(['verify', '--host', '127.0.0.1', '--site', '/nonexistent/site.yaml']);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr), /^obsbuild: \/nonexistent\/site\.yaml: cannot read the site file/m);
});

test('a bad --peer-host is named as --peer-host, not --host', async () => {
  const r = await runCli(['verify', '--site', join(repoRoot, 'test/fixtures/sites/dr-tcp-pair.yaml'), '--node', 'master', '--host', '127.0.0.1', '--peer-host', 'lb 2']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /^obsbuild: --peer-host "lb 2": contains a space/m);
});

const unshareWorks = (): boolean => spawnSync('unshare', ['--mount', '--propagation', 'private', 'true']).status === 0;
const skip = sshdUnavailable() ?? (unshareWorks() ? null : 'unshare --mount is not permitted here');

let sshd: LennySshd;
let work: string;
let box: string;
before(async () => {
  if (skip) return;
  work = mkdtempSync(join(tmpdir(), 'obsbuild-verify-cli-'));
  box = join(work, 'box');
  sshd = await LennySshd.start({ quietShell: true });
});
after(async () => {
  if (skip) return;
  await sshd.stop();
  rmSync(work, { recursive: true, force: true });
});

function put(path: string, content: string | Buffer, mode = 0o644): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content, { mode });
  chmodSync(path, mode);
}

interface BoxSpec {
  site: string;
  node?: 'master' | 'backup';
  ipAddr: string;
  ipvsadm: string;
}

/**
 * A temporary box under `dir` served by `server`: overlay upper dirs for /etc and /lib/modules holding the
 * node's files as the site renders them, stand-in tools, and the forced command that puts a session there.
 * The build's out/ folder gets the manifest and the recorded host key under the node's hostname.
 */
async function makeBox(server: LennySshd, dir: string, spec: BoxSpec): Promise<string> {
  const loaded = await loadSite(spec.site);
  const node = desiredNode(loaded, spec.node, { shadow: BOX_SHADOW });
  const etc = join(dir, 'etc');
  // as the image installs them: with their modes and owners (verify compares those too)
  for (const f of node.files) {
    const path = join(etc, f.path.replace(/^\/etc\//, ''));
    put(path, fileBytes(f), f.mode);
    chownSync(path, f.uid ?? 0, f.gid ?? 0);
  }
  put(join(etc, 'obsbuild/manifest-id'), `${MANIFEST_ID}\n`);
  const kernel = spawnSync('uname', ['-r']).stdout.toString().trim();
  put(join(dir, 'modules', kernel, 'modules.dep'), 'kernel/net/netfilter/ipvs/ip_vs.ko:\n');
  mkdirSync(join(dir, 'etc-work'));
  mkdirSync(join(dir, 'modules-work'));
  const tool = (name: string, body: string) => put(join(dir, 'bin', name), `#!/bin/sh\n${body}\n`, 0o755);
  tool('modprobe', 'exit 0');
  tool('dpkg', 'exit 0');
  tool('hostname', `echo ${node.hostname}`);
  tool('pidof', '[ "$1" = keepalived ] && echo 4242');
  tool('sysctl', 'echo "net.ipv4.ip_forward = 1"');
  tool('ip', `cat <<'E'\n${spec.ipAddr}E`);
  tool('ipvsadm', `cat <<'E'\n${spec.ipvsadm}E`);
  const wrapper = join(dir, 'session');
  put(
    wrapper,
    [
      '#!/bin/sh',
      `exec unshare --mount --propagation private /bin/sh -c '`,
      `mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc,workdir=$1/etc-work" /etc &&`,
      `mount -t overlay overlay -o "lowerdir=/lib/modules,upperdir=$1/modules,workdir=$1/modules-work" /lib/modules &&`,
      `PATH="$1/bin:$PATH" exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"' sh ${dir}`,
      '',
    ].join('\n'),
    0o755,
  );
  const keyFile = join(server.dir, 'authorized_keys');
  writeFileSync(keyFile, `command="${wrapper}" ${readFileSync(keyFile, 'utf8').replace(/^command="[^"]*" /, '')}`);
  put(join(work, 'out', node.hostname, 'manifest.json'), JSON.stringify({ id: MANIFEST_ID, config: [{ path: '/etc/hosts', type: 'file' }] }));
  put(join(work, 'out', node.hostname, 'known_hosts'), `${node.hostname} ${server.hostKeyPub}\n`);
  return join(etc);
}

test('verify --host: a box as the site renders it passes (exit 0, --json written); a hand edit is drift with a diff (exit 1)', { skip: skip ?? false }, async () => {
  await makeBox(sshd, box, { site: SITE, ipAddr: GOOD_IPADDR_SINGLE, ipvsadm: GOOD_IPVSADM_SINGLE });
  const json = join(work, 'report.json');
  const args = ['verify', '--host', `root@127.0.0.1:${sshd.port}`, '--site', SITE, '--identity', sshd.userKey, '--json', json];
  const t = Date.now();
  let r = await runCli(args, { cwd: work });
  const ms = Date.now() - t;
  console.log(`# obsbuild verify over SSH, whole command: ${ms} ms`);
  assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(String(r.stderr), new RegExp(`^obsbuild: connecting to ssh root@127\\.0\\.0\\.1:${sshd.port}$`, 'm'));
  assert.match(String(r.stdout), /^ {2}PASS {2}manifest id matches the build: manifest-id 0123456789abcdef$/m);
  assert.match(String(r.stdout), /^ {2}PASS {2}files match the site file \(drift\): 8 file\(s\) as the site file renders them$/m);
  assert.match(String(r.stdout), /^ {2}PASS {2}applied config is live: as installed/m);
  assert.match(String(r.stdout), /^obsbuild: verify: PASS, obs600 matches the site file$/m);
  const report = JSON.parse(readFileSync(json, 'utf8'));
  assert.equal(report.passed, true);
  assert.equal(report.target, `ssh root@127.0.0.1:${sshd.port}`);

  const conf = join(box, 'etc/keepalived/keepalived.conf');
  writeFileSync(conf, readFileSync(conf, 'utf8').replace('delay_loop 6', 'delay_loop 60'));
  r = await runCli(args, { cwd: work });
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stdout), /^ {2}FAIL {2}files match the site file \(drift\): differ: \/etc\/keepalived\/keepalived\.conf/m);
  assert.match(String(r.stdout), /^-\s+delay_loop 60\n\+\s+delay_loop 6$/m);
  assert.equal(JSON.parse(readFileSync(json, 'utf8')).passed, false);
  assert.equal(sshd.acceptedLogins(), 2, 'one connection per run');
});

test('verify --peer-host: both nodes of a pair at once, and exactly one holds the floating address', { skip: skip ?? false }, async () => {
  const site = join(repoRoot, 'test/fixtures/sites/dr-http-pair.yaml');
  const ipvsadm = 'TCP  172.16.80.100:80 rr persistent 50\n  -> 172.16.80.79:80 Route 1 0 0\n  -> 172.16.80.78:80 Route 1 0 0\n';
  const peer = await LennySshd.start({ quietShell: true });
  try {
    await makeBox(sshd, join(work, 'master'), { site, node: 'master', ipAddr: '2: eth0    inet 172.16.80.81/18 scope global eth0\n2: eth0    inet 172.16.80.100/32 scope global eth0\n', ipvsadm });
    await makeBox(peer, join(work, 'backup'), { site, node: 'backup', ipAddr: '2: eth0    inet 172.16.80.82/18 scope global eth0\n', ipvsadm });
    const json = join(work, 'pair.json');
    const args = ['verify', '--site', site, '--node', 'master', '--host', `127.0.0.1:${sshd.port}`, '--peer-host', `127.0.0.1:${peer.port}`, '--identity', sshd.userKey, '--json', json];
    // one identity for both servers: the peer's key list gets the first server's key too
    writeFileSync(join(peer.dir, 'authorized_keys'), readFileSync(join(peer.dir, 'authorized_keys'), 'utf8').replace(/ssh-rsa \S+/, readFileSync(`${sshd.userKey}.pub`, 'utf8').split(' ').slice(0, 2).join(' ')));
    const t = Date.now();
    let r = await runCli(args, { cwd: work });
    console.log(`# obsbuild verify of both nodes over SSH in parallel: ${Date.now() - t} ms`);
    assert.equal(r.exitCode, 0, `${r.stdout}\n${r.stderr}`);
    assert.match(String(r.stdout), /^obsbuild: verify ssh root@127\.0\.0\.1:\d+: lvs-master \(master\)$/m);
    assert.match(String(r.stdout), /^obsbuild: verify ssh root@127\.0\.0\.1:\d+: lvs-slave \(backup\)$/m);
    assert.match(String(r.stdout), /^ {2}PASS {2}exactly one node holds the floating addresses: lvs-master \(master\) holds 172\.16\.80\.100; lvs-slave holds none$/m);
    assert.match(String(r.stdout), /^obsbuild: verify pair: PASS$/m);
    const report = JSON.parse(readFileSync(json, 'utf8'));
    assert.equal(report.passed, true);
    assert.deepEqual(report.nodes.map((n: { node: { hostname: string } }) => n.node.hostname), ['lvs-master', 'lvs-slave']);

    // the backup takes the address too: each node alone looks fine, the pair does not
    writeFileSync(join(work, 'backup/bin/ip'), `#!/bin/sh\ncat <<'E'\n2: eth0    inet 172.16.80.82/18 scope global eth0\n2: eth0    inet 172.16.80.100/32 scope global eth0\nE\n`);
    r = await runCli(args, { cwd: work });
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stdout), /^ {2}FAIL {2}exactly one node holds the floating addresses: 172\.16\.80\.100 is on both nodes \(lvs-master, lvs-slave\): split brain$/m);
    assert.match(String(r.stdout), /^obsbuild: verify pair: FAIL$/m);
  } finally {
    await peer.stop();
  }
});

test('--peer-host needs a pair and --node', async () => {
  const r = await runCli(['verify', '--site', SITE, '--host', '127.0.0.1', '--peer-host', '127.0.0.2']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr), /--peer-host is for an HA pair/);
});

test('--peer-host naming the --host box itself is a usage error (one box would pass as both nodes)', async () => {
  const pair = join(repoRoot, 'test/fixtures/sites/dr-tcp-pair.yaml');
  for (const [host, peer] of [['127.0.0.1', '127.0.0.1'], ['root@127.0.0.1:2222', 'admin@127.0.0.1:2222']]) {
    const r = await runCli(['verify', '--site', pair, '--node', 'master', '--host', host, '--peer-host', peer]);
    assert.equal(r.exitCode, 2, String(r.stderr));
    assert.match(String(r.stderr).trim(), new RegExp(`--peer-host ${peer.replace(/\./g, '\\.')} is the --host box itself; give the other node of the pair$`));
  }
  // the same host on another port is another box (two boards behind one address)
  const other = await runCli(['verify', '--site', pair, '--node', 'master', '--host', '127.0.0.1:1', '--peer-host', '127.0.0.1:2', '--known-hosts', '/dev/null'], { timeout: 60_000 });
  assert.doesNotMatch(String(other.stderr), /box itself/);
});

test('--identity naming a missing or unreadable key is named before ssh starts; options of the other transport are usage errors', async () => {
  let r = await runCli(['verify', '--site', SITE, '--host', '127.0.0.1:1', '--identity', '/nonexistent/key']);
  assert.equal(r.exitCode, 1);
  assert.equal(String(r.stderr).trim().split('\n').pop(), 'obsbuild: --identity /nonexistent/key: no such file');
  assert.doesNotMatch(String(r.stderr), /connecting|authentication/);
  r = await runCli(['apply', '--site', SITE, '--host', '127.0.0.1:1', '--identity', '/etc', '--yes']);
  assert.equal(r.exitCode, 1);
  assert.match(String(r.stderr).trim(), /--identity \/etc: is not a file$/);
  r = await runCli(['verify', '--site', SITE, '--port', '/dev/null', '--identity', '/etc/hostname']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr).trim(), /--identity: for --host \(SSH\); --port logs in on the serial console$/);
  r = await runCli(['verify', '--site', SITE, '--host', '127.0.0.1:1', '--password', 'x']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr).trim(), /--password: for --port \(the serial console\)/);
  // --baud and --user were dropped without a word over SSH (--baud 115200 too: given is given)
  r = await runCli(['apply', '--site', SITE, '--host', '127.0.0.1:1', '--baud', '115200', '--user', 'admin', '--yes']);
  assert.equal(r.exitCode, 2);
  assert.match(String(r.stderr).trim(), /^obsbuild: --user, --baud: for --port \(the serial console\); over --host, give user@host/m);
});
