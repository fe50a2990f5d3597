import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
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
import {
  KEEPALIVED_115_INIT_SCRIPT,
  KEEPALIVED_115_POSTINST,
  KEEPALIVED_115_POSTRM,
  KEEPALIVED_115_PRERM,
  keepalived115Control,
  parseShlibsDepends,
} from '../../src/vobs/keepalived115-deb.js';

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

test('keepalived 1.1.15 packaging: control fields, shlibs parsing, init and maintainer scripts pass shellcheck', (t) => {
  const control = keepalived115Control({ depends: 'libc6 (>= 2.34), libpopt0 (>= 1.14)', installedSizeKiB: 300 });
  assert.match(control, /^Package: keepalived\nVersion: 1:1\.1\.15-1\+obsbuild1\nArchitecture: amd64\n/);
  assert.match(control, /^Depends: libc6 \(>= 2\.34\), libpopt0 \(>= 1\.14\)$/m);
  assert.equal(parseShlibsDepends('shlibs:Depends=libc6 (>= 2.34), libssl3 (>= 3.0.0)\n'), 'libc6 (>= 2.34), libssl3 (>= 3.0.0)');
  assert.equal(parseShlibsDepends('nothing\n'), undefined);
  assert.equal(KEEPALIVED_115_DEB_NAME, 'keepalived_1.1.15-1+obsbuild1_amd64.deb');
  assert.match(KEEPALIVED_115_INIT_SCRIPT, /--signal 1 --pidfile \$PIDFILE --exec \$DAEMON/);
  assert.match(KEEPALIVED_115_INIT_SCRIPT, /^PIDFILE=\/var\/run\/\$NAME\.pid$/m);
  if (!has('shellcheck')) return t.skip('shellcheck not installed');
  for (const [name, text] of Object.entries({
    init: KEEPALIVED_115_INIT_SCRIPT,
    postinst: KEEPALIVED_115_POSTINST,
    prerm: KEEPALIVED_115_PRERM,
    postrm: KEEPALIVED_115_POSTRM,
  })) {
    const r = spawnSync('shellcheck', ['-s', 'sh', '-'], { input: text, encoding: 'utf8' });
    assert.equal(r.status, 0, `${name}: ${r.stdout}`);
  }
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
    this.timer = setInterval(() => this.poll(), 50);
  }
  /** Synchronous, so the timer and an explicit call never read the same bytes twice. */
  poll(): void {
    if (!existsSync(this.file)) return;
    const buf = readFileSync(this.file);
    if (buf.length <= this.offset) return;
    const text = buf.subarray(this.offset).toString('utf8');
    this.offset = buf.length;
    const now = Date.now();
    for (const m of text.split(/(?=<\d{1,3}>)/)) if (m.trim()) this.messages.push({ at: now, text: m.replace(/^<\d+>/, '').trim() });
  }
  since(t: number): { at: number; text: string }[] {
    this.poll();
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type InitialState = 'MASTER' | 'BACKUP';

function vrrpConfig(o: { state: InitialState; priority: number; ifname: string; vips: string[]; realServer?: string }): string {
  const lines = [
    'global_defs {',
    '    router_id obsbuild-ka115',
    '}',
    'vrrp_instance VI_1 {',
    `    state ${o.state}`,
    // obsbuild renders BACKUP only together with nopreempt for a master node; the same here.
    ...(o.state === 'BACKUP' ? ['    nopreempt'] : []),
    `    interface ${o.ifname}`,
    '    virtual_router_id 115',
    `    priority ${o.priority}`,
    '    advert_int 1',
    '    authentication {',
    '        auth_type PASS',
    '        auth_pass ka115',
    '    }',
    '    virtual_ipaddress {',
    ...o.vips.map((v) => `        ${v}/24 dev ${o.ifname}`),
    '    }',
    '}',
  ];
  if (o.realServer) {
    lines.push(
      'virtual_server 10.115.0.100 80 {',
      '    delay_loop 6',
      '    lb_algo rr',
      '    lb_kind DR',
      '    protocol TCP',
      `    real_server ${o.realServer} 80 {`,
      '        weight 1',
      '    }',
      '}',
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * One keepalived 1.1.15 from the built .deb in network namespace `ns` on interface `ifname`, run through the
 * packaged init script in a private mount namespace: the package's /usr/sbin and /etc overlaid on the host's
 * (which stay untouched), our config dir at /etc/keepalived, our run dir as /run (pidfiles), a tmpfs /dev
 * holding null/zero/random/urandom and a /dev/log bound to a socat listener that appends to `syslog`.
 */
class Node {
  readonly dir: string;
  readonly runDir: string;
  watch?: SyslogWatch;
  /** `ip monitor address` lines with their arrival time. */
  readonly events: { at: number; line: string }[] = [];
  private readonly children: ChildProcess[] = [];
  private parent = 0;

  constructor(
    base: string,
    readonly name: string,
    readonly ns: string,
    readonly ifname: string,
  ) {
    this.dir = join(base, name);
    this.runDir = join(this.dir, 'run');
  }

  async prepare(pkgRoot: string): Promise<void> {
    await mkdir(join(this.dir, 'conf'), { recursive: true });
    await mkdir(this.runDir, { recursive: true });
    await symlink(pkgRoot, join(this.dir, 'pkg'));
    const sock = join(this.dir, 'log.sock');
    this.children.push(spawn('socat', ['-u', `UNIX-RECV:${sock},mode=600`, `OPEN:${join(this.dir, 'syslog')},creat,append`], { stdio: 'ignore' }));
    await waitFor('the syslog socket', () => existsSync(sock), 5000);
    this.watch = new SyslogWatch(join(this.dir, 'syslog'));
    const monitor = spawn('ip', ['-n', this.ns, 'monitor', 'address'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.children.push(monitor);
    monitor.stdout!.on('data', (b: Buffer) => {
      for (const line of b.toString().split('\n')) if (/inet /.test(line)) this.events.push({ at: Date.now(), line: line.trim() });
    });
  }

  writeConf(text: string): Promise<void> {
    return writeFile(join(this.dir, 'conf', 'keepalived.conf'), text);
  }

  start(): void {
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
    const r = spawnSync('ip', ['netns', 'exec', this.ns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-ec', setup, 'sh', this.dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${this.name}: init script start: ${r.stdout}${r.stderr}`);
  }

  /** parent, VRRP child, checker child, from their pidfiles. */
  async pids(): Promise<number[]> {
    const out: number[] = [];
    for (const f of ['keepalived.pid', 'vrrp.pid', 'checkers.pid']) {
      const p = Number((await readFile(join(this.runDir, f), 'utf8').catch(() => '')).trim());
      if (Number.isInteger(p) && p > 1) out.push(p);
    }
    if (out.length === 3) this.parent = out[0];
    return out;
  }

  /** /etc/init.d/keepalived <action>, inside the daemon's namespaces. */
  init(action: string): string {
    assert.ok(this.parent > 1, `${this.name}: no parent pid yet`);
    return run('nsenter', ['--target', String(this.parent), '--mount', '--net', '/etc/init.d/keepalived', action]);
  }

  vips(): string[] {
    const out = run('ip', ['-n', this.ns, '-4', '-o', 'addr', 'show', 'dev', this.ifname]);
    return [...out.matchAll(/inet (10\.115\.0\.\d+)\/24 scope global secondary/g)].map((m) => m[1]);
  }

  eventsSince(t: number): string[] {
    return this.events.filter((e) => e.at >= t).map((e) => `+${e.at - t} ms ${e.line.replace(/\s+/g, ' ')}`);
  }

  logSince(t: number): string[] {
    return (this.watch?.since(t) ?? []).map((m) => `+${m.at - t} ms ${m.text}`);
  }

  async kill(): Promise<void> {
    this.watch?.stop();
    for (const p of await this.pids()) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    for (const c of this.children) c.kill('SIGKILL');
  }
}

function ipvsInside(ns: string): boolean {
  spawnSync('modprobe', ['ip_vs']);
  return spawnSync('ip', ['netns', 'exec', ns, 'ipvsadm', '-Ln'], { encoding: 'utf8' }).status === 0;
}

async function unpackedDeb(): Promise<string> {
  const deb = await buildOnce();
  const root = join(await scratch, 'unpacked-runtime');
  if (!existsSync(root)) run('dpkg-deb', ['-x', deb.deb, root]);
  return root;
}

/**
 * One node alone on a veth pair in a namespace of its own, started and reloaded through the packaged init
 * script. `state` is what the config says: obsbuild renders MASTER for the master node, BACKUP (with
 * nopreempt) for a nopreempt master; 1.1.15 re-runs the initial state on every reload.
 */
async function singleNodeReload(t: TestContext, state: InitialState): Promise<void> {
  const pkg = await unpackedDeb();
  const ns = `obsk115-${state.toLowerCase()}-${process.pid}`;
  const node = new Node(join(await scratch, `single-${state}`), 'node', ns, 'v0');
  try {
    run('ip', ['netns', 'add', ns]);
    run('ip', ['-n', ns, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    for (const l of ['lo', 'v0', 'v1']) run('ip', ['-n', ns, 'link', 'set', l, 'up']);
    run('ip', ['-n', ns, 'addr', 'add', '10.115.0.1/24', 'dev', 'v0']);
    const ipvs = ipvsInside(ns);
    t.diagnostic(ipvs ? 'ip_vs: available, virtual_server checked too' : 'ip_vs: not in this kernel (modprobe ip_vs fails, ipvsadm -Ln fails): VRRP only');

    await node.prepare(pkg);
    const conf = (vips: string[], rs: string) => vrrpConfig({ state, priority: 150, ifname: 'v0', vips, realServer: ipvs ? rs : undefined });
    await node.writeConf(conf(['10.115.0.10', '10.115.0.11'], '10.115.0.21'));
    const t0 = Date.now();
    node.start();
    await waitFor('the three pidfiles', async () => (await node.pids()).length === 3);
    const pidsBefore = await node.pids();
    const pidMode = (await stat(join(node.runDir, 'keepalived.pid'))).mode & 0o777;
    t.diagnostic(`1.1.15 wrote /var/run/keepalived.pid with mode ${pidMode.toString(8)} (umask 0); the init script drops go-w before start-stop-daemon reads it`);
    await waitFor('MASTER with both VIPs', () => node.vips().join() === '10.115.0.10,10.115.0.11');
    const startLog = node.logSince(0);
    assert.ok(startLog.some((l) => /Starting Keepalived v1\.1\.15/.test(l)), startLog.join('\n'));
    await waitFor('Entering MASTER STATE in the log', () => node.logSince(0).some((l) => /VRRP_Instance\(VI_1\) Entering MASTER STATE/.test(l)), 5000);
    t.diagnostic(`start: MASTER with its VIPs ${Date.now() - t0} ms after the init script`);
    let ipvsBefore = '';
    if (ipvs) {
      ipvsBefore = run('ip', ['netns', 'exec', ns, 'ipvsadm', '-Ln']);
      assert.match(ipvsBefore, /10\.115\.0\.21:80/);
    }

    // Reload: .11 gives way to .12, .10 stays; a new real server when ip_vs is there.
    await node.writeConf(conf(['10.115.0.10', '10.115.0.12'], '10.115.0.22'));
    const hup = Date.now();
    node.init('reload');
    const oldGone = await waitFor('10.115.0.11 to go', () => !node.vips().includes('10.115.0.11'), 15000);
    const newThere = await waitFor('10.115.0.12 to appear', () => node.vips().includes('10.115.0.12'), 15000);
    await waitFor('MASTER again in the log', () => node.logSince(hup).some((l) => /Entering MASTER STATE/.test(l)), 15000);
    await sleep(1500);
    const pidsAfter = await node.pids();
    const reloadLog = node.logSince(hup);
    const reloadEvents = node.eventsSince(hup);
    t.diagnostic(`reload: pids before ${pidsBefore.join('/')} after ${pidsAfter.join('/')} (parent/vrrp/checkers)`);
    t.diagnostic(`reload: 10.115.0.11 gone after ${oldGone - hup} ms, 10.115.0.12 there after ${newThere - hup} ms`);
    for (const e of reloadEvents) t.diagnostic(`reload address event ${e}`);
    for (const l of reloadLog) t.diagnostic(`reload log ${l}`);

    assert.deepEqual(pidsAfter, pidsBefore, 'SIGHUP reloads in place: same parent and children');
    assert.deepEqual(node.vips(), ['10.115.0.10', '10.115.0.12']);
    assert.ok(reloadLog.some((l) => /Reloading VRRP child process/.test(l)), reloadLog.join('\n'));
    assert.ok(reloadLog.some((l) => /ip address 10\.115\.0\.11\/24 dev v0, no longer exist/.test(l)), reloadLog.join('\n'));
    assert.ok(!reloadEvents.some((e) => /Deleted .*10\.115\.0\.10\//.test(e)), `the kept VIP is never dropped:\n${reloadEvents.join('\n')}`);
    if (state === 'MASTER') {
      assert.ok(!reloadLog.some((l) => /Entering BACKUP STATE/.test(l)), reloadLog.join('\n'));
    } else {
      // The reloaded instance starts over as BACKUP yet keeps the VIPs it held (its new self never set them,
      // so it does not remove them); the new VIP waits for master_down (3 x advert_int + skew) and the transition.
      assert.ok(reloadLog.some((l) => /VRRP_Instance\(VI_1\) Entering BACKUP STATE/.test(l)), reloadLog.join('\n'));
      assert.ok(newThere - hup >= 3000, `back to MASTER only after master_down: ${newThere - hup} ms`);
    }
    if (ipvs) {
      const ipvsAfter = run('ip', ['netns', 'exec', ns, 'ipvsadm', '-Ln']);
      t.diagnostic(`ipvsadm -Ln before:\n${ipvsBefore}after:\n${ipvsAfter}`);
      assert.match(ipvsAfter, /10\.115\.0\.22:80/);
      assert.doesNotMatch(ipvsAfter, /10\.115\.0\.21:80/);
    }

    node.init('stop');
    await waitFor('keepalived to stop', () => pidsBefore.every((p) => !isRunning(p)), 10000);
    assert.deepEqual(node.vips(), [], 'stop releases the VIPs');
  } finally {
    await node.kill();
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

/** Alive and not a zombie (a container's pid 1 may never reap what it inherits). */
function isRunning(pid: number): boolean {
  try {
    return !/^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, 'utf8'));
  } catch {
    return false;
  }
}

test('keepalived 1.1.15 in a network namespace, state MASTER: SIGHUP (init script reload) swaps a VIP in place, same pids, kept VIP untouched', { skip: runtimeSkip() }, (t) =>
  singleNodeReload(t, 'MASTER'),
);

test('keepalived 1.1.15 in a network namespace, state BACKUP + nopreempt: SIGHUP re-enters BACKUP keeping its VIPs, the new VIP only after master_down', { skip: runtimeSkip() }, (t) =>
  singleNodeReload(t, 'BACKUP'),
);

/**
 * A pair, each node in a namespace of its own joined by a veth pair, both configs saying BACKUP + nopreempt
 * (obsbuild's nopreempt rendering). A (priority 100) started first and is master; B (200) joined later and,
 * nopreempt, stays backup: the state after any failover and return. Reloading A with a new VIP set makes it
 * re-enter BACKUP and fall silent while keeping the kept VIP; B's master_down (3 s + 56/256 s) runs out before
 * A's (3 s + 156/256 s), so B takes over with its not yet reloaded set and the kept VIP is on both nodes.
 * After B's reload both are silent backups; the first master_down to run out takes the new set, and the other
 * node is left holding the kept VIP as a backup.
 */
test('keepalived 1.1.15 pair, BACKUP + nopreempt: reloading the master hands the VIPs to the peer and leaves the kept VIP on both nodes', { skip: runtimeSkip() }, async (t) => {
  const pkg = await unpackedDeb();
  const base = join(await scratch, 'pair');
  const nsA = `obsk115-a-${process.pid}`;
  const nsB = `obsk115-b-${process.pid}`;
  const a = new Node(base, 'a', nsA, 'v0');
  const b = new Node(base, 'b', nsB, 'v1');
  const conf = (node: Node, priority: number, vips: string[]) =>
    node.writeConf(vrrpConfig({ state: 'BACKUP', priority, ifname: node.ifname, vips }));
  try {
    run('ip', ['netns', 'add', nsA]);
    run('ip', ['netns', 'add', nsB]);
    run('ip', ['-n', nsA, 'link', 'add', 'v0', 'type', 'veth', 'peer', 'name', 'v1']);
    run('ip', ['-n', nsA, 'link', 'set', 'v1', 'netns', nsB]);
    for (const [ns, ifname, addr] of [[nsA, 'v0', '10.115.0.1'], [nsB, 'v1', '10.115.0.2']]) {
      run('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
      run('ip', ['-n', ns, 'link', 'set', ifname, 'up']);
      run('ip', ['-n', ns, 'addr', 'add', `${addr}/24`, 'dev', ifname]);
    }
    await a.prepare(pkg);
    await b.prepare(pkg);
    await conf(a, 100, ['10.115.0.10', '10.115.0.11']);
    await conf(b, 200, ['10.115.0.10', '10.115.0.11']);
    a.start();
    await waitFor('A MASTER', () => a.vips().join() === '10.115.0.10,10.115.0.11');
    b.start();
    await waitFor('B pidfiles', async () => (await b.pids()).length === 3);
    await waitFor('A pidfiles', async () => (await a.pids()).length === 3);
    await sleep(5000);
    assert.deepEqual(b.vips(), [], 'B (nopreempt) stays BACKUP while A advertises');

    await conf(a, 100, ['10.115.0.10', '10.115.0.12']);
    await conf(b, 200, ['10.115.0.10', '10.115.0.12']);
    const hupA = Date.now();
    a.init('reload');
    const bTook = await waitFor('B to take the VIPs', () => b.vips().includes('10.115.0.10'), 15000);
    await sleep(2000);
    t.diagnostic(`A reloaded: B took ${b.vips().join(' ')} after ${bTook - hupA} ms; A holds ${a.vips().join(' ')}`);
    for (const l of a.logSince(hupA).filter((l) => /STATE|Reloading|no longer/.test(l))) t.diagnostic(`A log ${l}`);
    for (const l of b.logSince(hupA).filter((l) => /STATE|bogus|not present/.test(l)).slice(0, 6)) t.diagnostic(`B log ${l}`);
    assert.deepEqual(a.vips(), ['10.115.0.10'], 'A, BACKUP after its reload, keeps the kept VIP');
    assert.deepEqual(b.vips(), ['10.115.0.10', '10.115.0.11'], 'B, master now, took the set of its (not yet reloaded) config');

    // Both silent now, whichever master_down runs out first (it depends on when A's last advert came) takes
    // the new set; the other, a backup, still holds the kept VIP.
    const hupB = Date.now();
    b.init('reload');
    const newMaster = await waitFor('a master with the new set', () => a.vips().includes('10.115.0.12') || b.vips().includes('10.115.0.12'), 15000);
    await sleep(1500);
    const [master, backup] = a.vips().includes('10.115.0.12') ? [a, b] : [b, a];
    t.diagnostic(`B reloaded: ${master.name.toUpperCase()} master with ${master.vips().join(' ')} after ${newMaster - hupB} ms; ${backup.name.toUpperCase()} (backup) holds ${backup.vips().join(' ')}`);
    for (const l of b.logSince(hupB).filter((l) => /STATE|Reloading|no longer/.test(l))) t.diagnostic(`B log ${l}`);
    for (const l of a.logSince(hupB).filter((l) => /STATE/.test(l))) t.diagnostic(`A log ${l}`);
    assert.deepEqual(master.vips(), ['10.115.0.10', '10.115.0.12']);
    assert.deepEqual(backup.vips(), ['10.115.0.10'], 'the backup still holds the kept VIP: it is on both nodes');
  } finally {
    await a.kill();
    await b.kill();
    spawnSync('ip', ['netns', 'del', nsA]);
    spawnSync('ip', ['netns', 'del', nsB]);
  }
});
