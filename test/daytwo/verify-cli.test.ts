/**
 * `obsbuild verify` as users run it. Over SSH the "box" is this machine reached through the lenny-algorithm
 * sshd, with every session forced (authorized_keys command=) into a private mount namespace where overlays
 * put a temporary box's files over /etc and /lib/modules and stand-in tools (ip, ipvsadm, modprobe...) come
 * first on PATH: the real transport and the real shell read the box, and nothing of this machine's /etc is
 * read or written.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

/** The temporary box: overlay upper dirs for /etc and /lib/modules, stand-in tools, the forced command. */
async function makeBox(): Promise<void> {
  const loaded = await loadSite(SITE);
  const etc = join(box, 'etc');
  for (const f of desiredNode(loaded, undefined, BOX_SHADOW).files) put(join(etc, f.path.replace(/^\/etc\//, '')), fileBytes(f));
  put(join(etc, 'obsbuild/manifest-id'), `${MANIFEST_ID}\n`);
  const kernel = spawnSync('uname', ['-r']).stdout.toString().trim();
  put(join(box, 'modules', kernel, 'modules.dep'), 'kernel/net/netfilter/ipvs/ip_vs.ko:\n');
  mkdirSync(join(box, 'etc-work'));
  mkdirSync(join(box, 'modules-work'));
  const tool = (name: string, body: string) => put(join(box, 'bin', name), `#!/bin/sh\n${body}\n`, 0o755);
  tool('modprobe', 'exit 0');
  tool('dpkg', 'exit 0');
  tool('hostname', 'echo obs600');
  tool('pidof', '[ "$1" = keepalived ] && echo 4242');
  tool('sysctl', 'echo "net.ipv4.ip_forward = 1"');
  tool('ip', `cat <<'E'\n${GOOD_IPADDR_SINGLE}E`);
  tool('ipvsadm', `cat <<'E'\n${GOOD_IPVSADM_SINGLE}E`);
  const wrapper = join(box, 'session');
  put(
    wrapper,
    [
      '#!/bin/sh',
      `exec unshare --mount --propagation private /bin/sh -c '`,
      `mount -t overlay overlay -o "lowerdir=/etc,upperdir=$1/etc,workdir=$1/etc-work" /etc &&`,
      `mount -t overlay overlay -o "lowerdir=/lib/modules,upperdir=$1/modules,workdir=$1/modules-work" /lib/modules &&`,
      `PATH="$1/bin:$PATH" exec /bin/sh -c "$SSH_ORIGINAL_COMMAND"' sh ${box}`,
      '',
    ].join('\n'),
    0o755,
  );
  const keyFile = join(sshd.dir, 'authorized_keys');
  writeFileSync(keyFile, `command="${wrapper}" ${readFileSync(keyFile, 'utf8')}`);
  // the build's out/ folder as verify expects it: manifest and the recorded host key under the hostname
  put(join(work, 'out/obs600/manifest.json'), JSON.stringify({ id: MANIFEST_ID, config: [{ path: '/etc/hosts', type: 'file' }] }));
  put(join(work, 'out/obs600/known_hosts'), `obs600 ${sshd.hostKeyPub}\n`);
}

test('verify --host: a box as the site renders it passes (exit 0, --json written); a hand edit is drift with a diff (exit 1)', { skip: skip ?? false }, async () => {
  await makeBox();
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
