import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readDebControl } from '../../src/debian/deb.js';
import { UserError } from '../../src/util/errors.js';
import {
  ensureKeepalived115Deb,
  keepalived115SourcePath,
  KEEPALIVED_115_DEB_NAME,
  KEEPALIVED_115_SOURCE_ENV,
  verifyKeepalived115Source,
  type Keepalived115Deb,
} from '../../src/vobs/keepalived115.js';
import { KEEPALIVED_115_INIT_SCRIPT, keepalived115Control, parseShlibsDepends } from '../../src/vobs/keepalived115-deb.js';

const source = keepalived115SourcePath();
const noSource = source ? false : `${KEEPALIVED_115_SOURCE_ENV} is not set (path to keepalived-1.1.15.tar.gz): nothing to build`;

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

function runtimeSkip(): string | false {
  if (noSource) return noSource;
  if (process.getuid?.() !== 0) return 'needs root (network namespace, mounts in a private mount namespace)';
  const missing = ['ip', 'socat', 'unshare', 'nsenter', 'start-stop-daemon', 'mknod'].filter((c) => !has(c));
  return missing.length ? `missing tools: ${missing.join(', ')}` : false;
}

const scratch = mkdtemp(join(tmpdir(), 'obsbuild-ka115-'));
after(async () => rm(await scratch, { recursive: true, force: true }));

// One build per run, shared by the package and the runtime tests, into a cache of the test's own.
let built: Promise<Keepalived115Deb> | undefined;
function buildOnce(): Promise<Keepalived115Deb> {
  built ??= scratch.then((dir) => ensureKeepalived115Deb({ source: source!, cacheRoot: join(dir, 'cache') }));
  return built;
}

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: exit ${r.status}: ${r.stderr}`);
  return r.stdout + r.stderr;
}

test('keepalived 1.1.15 source: the option wins over the environment; unset or empty means none', () => {
  assert.equal(keepalived115SourcePath('/a.tar.gz', { [KEEPALIVED_115_SOURCE_ENV]: '/b.tar.gz' }), '/a.tar.gz');
  assert.equal(keepalived115SourcePath(undefined, { [KEEPALIVED_115_SOURCE_ENV]: '/b.tar.gz' }), '/b.tar.gz');
  assert.equal(keepalived115SourcePath(undefined, { [KEEPALIVED_115_SOURCE_ENV]: '' }), undefined);
  assert.equal(keepalived115SourcePath(undefined, {}), undefined);
});

test('keepalived 1.1.15 source: a missing file, a directory or another tarball is a one-line UserError naming the variable', async () => {
  const dir = await scratch;
  const other = join(dir, 'other.tar.gz');
  await writeFile(other, 'not keepalived');
  for (const [path, want] of [
    [join(dir, 'absent.tar.gz'), /absent\.tar\.gz \(OBSBUILD_KEEPALIVED_115_SOURCE\): no such file$/],
    [dir, /\(OBSBUILD_KEEPALIVED_115_SOURCE\): not a file$/],
    [other, /other\.tar\.gz \(OBSBUILD_KEEPALIVED_115_SOURCE\): sha256 [0-9a-f]{64} is not keepalived-1\.1\.15\.tar\.gz's \(ae00c924/],
  ] as const) {
    await assert.rejects(verifyKeepalived115Source(path), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, want);
      assert.ok(!err.message.includes('\n'));
      return true;
    });
  }
  // Nothing is built (or cached) from a wrong tarball.
  await assert.rejects(ensureKeepalived115Deb({ source: other, cacheRoot: join(dir, 'wrong-cache') }), UserError);
  assert.ok(!existsSync(join(dir, 'wrong-cache', 'keepalived-1.1.15')));
});

test('keepalived 1.1.15 packaging: control fields, shlibs parsing, init script passes shellcheck', (t) => {
  const control = keepalived115Control({ depends: 'libc6 (>= 2.34), libpopt0 (>= 1.14)', installedSizeKiB: 300 });
  assert.match(control, /^Package: keepalived\nVersion: 1:1\.1\.15-1\+obsbuild1\nArchitecture: amd64\n/);
  assert.match(control, /^Depends: libc6 \(>= 2\.34\), libpopt0 \(>= 1\.14\)$/m);
  assert.equal(parseShlibsDepends('shlibs:Depends=libc6 (>= 2.34), libssl3 (>= 3.0.0)\n'), 'libc6 (>= 2.34), libssl3 (>= 3.0.0)');
  assert.equal(parseShlibsDepends('nothing\n'), undefined);
  assert.equal(KEEPALIVED_115_DEB_NAME, 'keepalived_1.1.15-1+obsbuild1_amd64.deb');
  assert.match(KEEPALIVED_115_INIT_SCRIPT, /--signal 1 --pidfile \$PIDFILE --exec \$DAEMON/);
  assert.match(KEEPALIVED_115_INIT_SCRIPT, /^PIDFILE=\/var\/run\/\$NAME\.pid$/m);
  if (!has('shellcheck')) return t.skip('shellcheck not installed');
  const r = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: KEEPALIVED_115_INIT_SCRIPT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout);
});

test('keepalived 1.1.15 .deb: built from the source with IPVS and VRRP, lenny layout, Depends from its libraries, cached', { skip: noSource }, async (t) => {
  const t0 = performance.now();
  const deb = await buildOnce();
  const seconds = (performance.now() - t0) / 1000;
  t.diagnostic(`built in ${seconds.toFixed(1)} s (${JSON.stringify(deb.info.timings)}), ${deb.info.debBytes} bytes`);
  assert.equal((await stat(deb.deb)).size, deb.info.debBytes);

  const info = run('dpkg-deb', ['-I', deb.deb]);
  assert.match(info, /^ Package: keepalived$/m);
  assert.match(info, /^ Version: 1:1\.1\.15-1\+obsbuild1$/m);
  assert.match(info, /^ Architecture: amd64$/m);
  const depends = /^ Depends: (.+)$/m.exec(info)?.[1] ?? '';
  t.diagnostic(`Depends: ${depends}`);
  for (const lib of ['libc6', 'libpopt0', 'libssl3']) assert.match(depends, new RegExp(`(^|, )${lib} \\(>= `), `${lib} in Depends`);
  const { control, files } = await readDebControl(deb.deb);
  assert.equal(control.get('Depends'), depends);
  assert.equal(files.get('conffiles')?.content.toString(), '/etc/init.d/keepalived\n');
  assert.ok(files.get('md5sums')?.content.toString().includes('  usr/sbin/keepalived\n'));
  for (const s of ['postinst', 'prerm', 'postrm']) assert.equal((files.get(s)!.mode & 0o111) !== 0, true, `${s} executable`);

  const contents = run('dpkg-deb', ['-c', deb.deb]);
  assert.match(contents, /^-rwxr-xr-x root\/root .* \.\/usr\/sbin\/keepalived$/m);
  assert.match(contents, /^-rwxr-xr-x root\/root .* \.\/usr\/bin\/genhash$/m);
  assert.match(contents, /^-rwxr-xr-x root\/root .* \.\/etc\/init\.d\/keepalived$/m);
  assert.match(contents, /^drwxr-xr-x root\/root .* \.\/etc\/keepalived\/$/m);
  assert.match(contents, /\.\/usr\/share\/man\/man8\/keepalived\.8\.gz$/m);

  const root = join(await scratch, 'unpacked-version');
  run('dpkg-deb', ['-x', deb.deb, root]);
  assert.equal(await readFile(join(root, 'etc/init.d/keepalived'), 'utf8'), KEEPALIVED_115_INIT_SCRIPT);
  // 1.1.15 prints its version (and __DATE__, pinned to the tag's day) on stderr.
  const v = spawnSync(join(root, 'usr/sbin/keepalived'), ['--version'], { encoding: 'utf8' });
  assert.match(v.stdout + v.stderr, /^Keepalived v1\.1\.15 \(09\/18,2007\)/);
  // IPVS support is compiled in: the checker's IPVS wrapper and the LVS sync daemon keywords are there.
  const strings = run('sh', ['-c', 'strings "$1"', 'sh', join(root, 'usr/sbin/keepalived')]);
  assert.match(strings, /lvs_sync_daemon_interface/);
  assert.match(strings, /IPVS: Can't initialize ipvs/);

  const t1 = performance.now();
  const again = await ensureKeepalived115Deb({ source: source!, cacheRoot: join(await scratch, 'cache') });
  assert.equal(again.info.builtAt, deb.info.builtAt, 'second call served from the cache');
  assert.ok(performance.now() - t1 < 5000);
});

/** syslog datagrams as socat appends them (no separators): split at each `<priority>`; arrival time recorded. */
class SyslogWatch {
  messages: { at: number; text: string }[] = [];
  private offset = 0;
  private timer: NodeJS.Timeout;
  constructor(private file: string) {
    this.timer = setInterval(() => void this.poll(), 50);
  }
  async poll(): Promise<void> {
    if (!existsSync(this.file)) return;
    const buf = await readFile(this.file);
    if (buf.length <= this.offset) return;
    const text = buf.subarray(this.offset).toString('utf8');
    this.offset = buf.length;
    const now = Date.now();
    for (const m of text.split(/(?=<\d{1,3}>)/)) if (m.trim()) this.messages.push({ at: now, text: m.replace(/^<\d+>/, '').trim() });
  }
  since(t: number): { at: number; text: string }[] {
    return this.messages.filter((m) => m.at >= t);
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, ms = 20000): Promise<number> {
  const end = Date.now() + ms;
  for (;;) {
    if (await cond()) return Date.now();
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

type InitialState = 'MASTER' | 'BACKUP';

function vrrpConfig(state: InitialState, vips: string[], realServer?: string): string {
  const lines = [
    'global_defs {',
    '    router_id obsbuild-ka115',
    '}',
    'vrrp_instance VI_1 {',
    `    state ${state}`,
    ...(state === 'BACKUP' ? ['    nopreempt'] : []),
    '    interface v0',
    '    virtual_router_id 115',
    '    priority 150',
    '    advert_int 1',
    '    authentication {',
    '        auth_type PASS',
    '        auth_pass ka115',
    '    }',
    '    virtual_ipaddress {',
    ...vips.map((v) => `        ${v}/24 dev v0`),
    '    }',
    '}',
  ];
  if (realServer) {
    lines.push(
      'virtual_server 10.115.0.100 80 {',
      '    delay_loop 6',
      '    lb_algo rr',
      '    lb_kind DR',
      '    protocol TCP',
      `    real_server ${realServer} 80 {`,
      '        weight 1',
      '    }',
      '}',
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * One keepalived 1.1.15, alone on a veth pair inside a network namespace of its own, started and reloaded through
 * the packaged init script. `state` is what the config says at start: obsbuild renders MASTER for the master
 * node, BACKUP (with nopreempt) for a nopreempt master and for the backup node; 1.1.15 re-runs its initial
 * state on every reload, so the two behave differently on SIGHUP.
 */
async function reloadScenario(t: TestContext, state: InitialState): Promise<void> {
  const deb = await buildOnce();
  const dir = join(await scratch, `netns-${state}`);
  const pkg = join(dir, 'pkg');
  const conf = join(dir, 'conf');
  const runDir = join(dir, 'run');
  const sock = join(dir, 'log.sock');
  const logFile = join(dir, 'syslog');
  await mkdir(conf, { recursive: true });
  await mkdir(runDir, { recursive: true });
  run('dpkg-deb', ['-x', deb.deb, pkg]);
  const ns = `obsk115-${state.toLowerCase()}-${process.pid}`;
  const children: ChildProcess[] = [];
  let watch: SyslogWatch | undefined;
  const pidsFromFiles = async (): Promise<number[]> => {
    const out: number[] = [];
    for (const f of ['keepalived.pid', 'vrrp.pid', 'checkers.pid']) {
      const p = Number((await readFile(join(runDir, f), 'utf8').catch(() => '')).trim());
      if (Number.isInteger(p) && p > 1) out.push(p);
    }
    return out;
  };
  const initScript = (action: string, parent: number) =>
    run('nsenter', ['--target', String(parent), '--mount', '--net', '/etc/init.d/keepalived', action]);
  const addrs = () => run('ip', ['-n', ns, '-4', '-o', 'addr', 'show', 'dev', 'v0']);
  const hasAddr = (a: string) => addrs().includes(` ${a}/24 `);
  let parent = 0;
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    for (const l of ['lo', 'v0', 'v1']) run('ip', ['-n', ns, 'link', 'set', l, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', '10.115.0.1/24', 'dev', 'v0']);

    // ip_vs: the host kernel's, seen from inside the namespace.
    spawnSync('modprobe', ['ip_vs']);
    const ipvs = spawnSync('ip', ['netns', 'exec', ns, 'ipvsadm', '-Ln'], { encoding: 'utf8' }).status === 0;
    t.diagnostic(ipvs ? 'ip_vs: available, virtual_server checked too' : 'ip_vs: not in this kernel (modprobe ip_vs fails, ipvsadm -Ln fails): VRRP only');

    await writeFile(join(conf, 'keepalived.conf'), vrrpConfig(state, ['10.115.0.10', '10.115.0.11'], ipvs ? '10.115.0.21' : undefined));

    // /dev/log: socat on a socket in our directory, bind-mounted over /dev/log in a private mount namespace.
    const socat = spawn('socat', ['-u', `UNIX-RECV:${sock},mode=600`, `OPEN:${logFile},creat,append`], { stdio: 'ignore' });
    children.push(socat);
    await waitFor('the syslog socket', () => existsSync(sock), 5000);
    watch = new SyslogWatch(logFile);
    const events: { at: number; line: string }[] = [];
    const monitor = spawn('ip', ['-n', ns, 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    children.push(monitor);
    monitor.stdout!.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (/inet /.test(line)) events.push({ at: Date.now(), line: line.trim() });
    });

    // The packaged binary and init script at their installed paths (overlays; the host's files are untouched),
    // our config dir at /etc/keepalived, our directory as /run (pidfiles), a tmpfs /dev with just what is needed.
    const setup = [
      'mount -t tmpfs -o mode=755,size=64k obsbuild-dev /dev',
      'mknod -m 666 /dev/null c 1 3; mknod -m 666 /dev/zero c 1 5; mknod -m 666 /dev/random c 1 8; mknod -m 666 /dev/urandom c 1 9',
      ': > /dev/log; mount --bind "$1/log.sock" /dev/log',
      'mount --bind "$1/run" /run',
      'mount -t overlay obsbuild-sbin -o "lowerdir=$1/pkg/usr/sbin:/usr/sbin" /usr/sbin',
      'mount -t overlay obsbuild-etc -o "lowerdir=$1/pkg/etc:/etc" /etc',
      'mount --bind "$1/conf" /etc/keepalived',
      'exec /etc/init.d/keepalived start',
    ].join('\n');
    const start = spawnSync('ip', ['netns', 'exec', ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-ec', setup, 'sh', dir], { encoding: 'utf8' });
    assert.equal(start.status, 0, `init script start: ${start.stdout}${start.stderr}`);
    const t0 = Date.now();
    await waitFor('keepalived.pid', async () => (await pidsFromFiles()).length === 3);
    const pidsBefore = await pidsFromFiles();
    parent = pidsBefore[0];
    const pidMode = (await stat(join(runDir, 'keepalived.pid'))).mode & 0o777;
    t.diagnostic(`1.1.15 wrote /var/run/keepalived.pid with mode ${pidMode.toString(8)} (umask 0); the init script drops go-w before start-stop-daemon reads it`);

    await waitFor('MASTER with both VIPs', () => hasAddr('10.115.0.10') && hasAddr('10.115.0.11'));
    await watch.poll();
    const startLog = watch.since(0).map((m) => `+${m.at - t0} ms ${m.text}`);
    assert.ok(startLog.some((l) => /VRRP_Instance\(VI_1\) Entering MASTER STATE/.test(l)), startLog.join('\n'));
    assert.ok(startLog.some((l) => /Starting Keepalived v1\.1\.15/.test(l)));
    t.diagnostic(`start: MASTER with VIPs after ${Date.now() - t0} ms`);
    let ipvsBefore = '';
    if (ipvs) {
      ipvsBefore = run('ip', ['netns', 'exec', ns, 'ipvsadm', '-Ln']);
      assert.match(ipvsBefore, /10\.115\.0\.21:80/);
    }

    // Reload: .11 gives way to .12, .10 stays; a new real server when ip_vs is there.
    await writeFile(join(conf, 'keepalived.conf'), vrrpConfig(state, ['10.115.0.10', '10.115.0.12'], ipvs ? '10.115.0.22' : undefined));
    const eventsBefore = events.length;
    const hup = Date.now();
    initScript('reload', parent);
    const oldGone = await waitFor('10.115.0.11 to go', () => !hasAddr('10.115.0.11'), 15000);
    const newThere = await waitFor('10.115.0.12 to appear', () => hasAddr('10.115.0.12'), 15000);
    await waitFor('MASTER again in the log', () => watch!.since(hup).some((m) => /Entering MASTER STATE/.test(m.text)), 15000);
    await new Promise((r) => setTimeout(r, 1500));
    await watch.poll();
    const pidsAfter = await pidsFromFiles();
    const reloadLog = watch.since(hup).map((m) => `+${m.at - hup} ms ${m.text}`);
    const reloadEvents = events.slice(eventsBefore).map((e) => `+${e.at - hup} ms ${e.line}`);
    t.diagnostic(`reload: pids before ${pidsBefore.join('/')} after ${pidsAfter.join('/')} (parent/vrrp/checkers)`);
    t.diagnostic(`reload: 10.115.0.11 gone after ${oldGone - hup} ms, 10.115.0.12 there after ${newThere - hup} ms`);
    for (const e of reloadEvents) t.diagnostic(`reload address event ${e}`);
    for (const l of reloadLog) t.diagnostic(`reload log ${l}`);

    assert.deepEqual(pidsAfter, pidsBefore, 'SIGHUP reloads in place: same parent and children');
    assert.ok(hasAddr('10.115.0.10') && hasAddr('10.115.0.12') && !hasAddr('10.115.0.11'), addrs());
    const keptDropped = reloadEvents.some((e) => /Deleted .*10\.115\.0\.10\//.test(e));
    if (state === 'MASTER') {
      assert.ok(!keptDropped, `state MASTER: the kept VIP is never dropped:\n${reloadEvents.join('\n')}`);
      assert.ok(!reloadLog.some((l) => /Entering BACKUP STATE/.test(l)), reloadLog.join('\n'));
    } else {
      // The reloaded instance starts over as BACKUP, yet keeps the addresses it held (its new self has not set
      // them, so it does not remove them): the kept VIP stays while it claims BACKUP, and the new one waits for
      // master_down (3 x advert_int + skew) and the MASTER transition.
      assert.ok(!keptDropped, `state BACKUP: the kept VIP stays:\n${reloadEvents.join('\n')}`);
      assert.ok(reloadLog.some((l) => /VRRP_Instance\(VI_1\) Entering BACKUP STATE/.test(l)), reloadLog.join('\n'));
      assert.ok(newThere - hup >= 3000, `back to MASTER only after master_down: ${newThere - hup} ms`);
    }
    assert.ok(reloadLog.some((l) => /Reloading VRRP child process/.test(l)), reloadLog.join('\n'));
    assert.ok(reloadLog.some((l) => /ip address 10\.115\.0\.11\/24 dev v0, no longer exist/.test(l)), reloadLog.join('\n'));
    if (ipvs) {
      const ipvsAfter = run('ip', ['netns', 'exec', ns, 'ipvsadm', '-Ln']);
      t.diagnostic(`ipvsadm -Ln before:\n${ipvsBefore}after:\n${ipvsAfter}`);
      assert.match(ipvsAfter, /10\.115\.0\.22:80/);
      assert.doesNotMatch(ipvsAfter, /10\.115\.0\.21:80/);
    }

    initScript('stop', parent);
    await waitFor('keepalived to stop', () => pidsBefore.every((p) => !existsSync(`/proc/${p}`)), 10000);
    assert.ok(!hasAddr('10.115.0.10') && !hasAddr('10.115.0.12'), `stop releases the VIPs: ${addrs()}`);
  } finally {
    watch?.stop();
    for (const p of await pidsFromFiles()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const c of children) c.kill('SIGKILL');
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

test('keepalived 1.1.15 in a network namespace, state MASTER: SIGHUP (init script reload) swaps a VIP in place, same pids, kept VIP untouched', { skip: runtimeSkip() }, (t) =>
  reloadScenario(t, 'MASTER'),
);

test('keepalived 1.1.15 in a network namespace, state BACKUP + nopreempt: SIGHUP re-enters BACKUP keeping its VIPs, the new VIP only after master_down', { skip: runtimeSkip() }, (t) =>
  reloadScenario(t, 'BACKUP'),
);
