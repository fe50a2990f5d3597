import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { firstbootFiles, renderFirstbootScript } from '../../src/box/firstboot.js';
import { FIRSTBOOT_STEP_COUNT, parseMarker } from '../../src/contracts/markers.js';
import { DEBCONF_SELECTIONS_PATH, FIRSTBOOT_PATH } from '../../src/contracts/box-paths.js';

const run = promisify(execFile);
const ID = '0123456789abcdef';

/**
 * lenny's /bin/sh is bash, bookworm's is dash. (Not busybox sh: it runs its own depmod and sysctl applets
 * ahead of PATH, which would bypass the stand-ins and touch the host.)
 */
const SHELLS: [string, string[]][] = [
  ['dash', ['dash']],
  ['bash --posix', ['bash', '--posix']],
];

/** Stand-ins for the box's commands: each records its arguments (and DEBIAN_FRONTEND) in calls.log. */
async function fakeRoot(opts: { dpkgFails?: boolean; sshKeygenHasA?: boolean; manager?: 'keepalived' | 'ipvsadm' } = {}) {
  const root = await mkdtemp(join(tmpdir(), 'obsbuild-firstboot-'));
  const stubs = join(root, 'stubs');
  await mkdir(stubs);
  const stub = async (name: string, body = '') => {
    await writeFile(join(stubs, name), `#!/bin/sh\necho "${name} $* DEBIAN_FRONTEND=\${DEBIAN_FRONTEND:-}" >>"${root}/calls.log"\n${body}`);
    await chmod(join(stubs, name), 0o755);
  };
  await stub('depmod');
  await stub('debconf-set-selections');
  await stub('dpkg', opts.dpkgFails ? 'echo "dpkg: error processing keepalived (--configure):" >&2\necho " subprocess post-installation script returned error exit status 1" >&2\nexit 1\n' : `echo "dpkg-env UCF_FORCE_CONFFOLD=\${UCF_FORCE_CONFFOLD:-}" >>"${root}/calls.log"\n`);
  await stub('ssh-keygen', opts.sshKeygenHasA ? '' : '[ "$1" = -A ] && { echo "ssh-keygen: illegal option -- A" >&2; exit 1; }\nexit 0\n');
  await stub('sysctl');
  await stub('modprobe');
  await stub('ipvsadm-restore', `cat >>"${root}/restored"\n`);

  const manager = opts.manager ?? 'keepalived';
  const files = firstbootFiles({ manifestId: ID, manager, obsbuildVersion: 'test', runlevels: [2, 3, 4, 5] });
  for (const f of files) {
    const target = join(root, f.path);
    await mkdir(join(target, '..'), { recursive: true });
    if (f.type === 'dir') await mkdir(target, { recursive: true });
    else if (f.type === 'symlink') await symlink(f.linkTarget!, target);
    else await writeFile(target, f.content, { mode: f.mode });
  }
  await rm(join(root, 'etc/obsbuild/manifest-id')); // prove the script writes it
  await mkdir(join(root, 'usr/sbin'), { recursive: true });
  await writeFile(join(root, 'usr/sbin/sshd'), '', { mode: 0o755 });
  await mkdir(join(root, 'etc/ssh'), { recursive: true });
  await writeFile(join(root, 'etc/ssh/ssh_host_rsa_key'), 'SHARED KEY');
  await writeFile(join(root, 'etc/ssh/ssh_host_rsa_key.pub'), 'SHARED KEY');
  for (const svc of ['ssh', 'keepalived']) {
    await writeFile(join(root, 'etc/init.d', svc), `#!/bin/sh\necho "${svc} $*" >>"${root}/calls.log"\n`, { mode: 0o755 });
  }
  await writeFile(join(root, 'etc/sysctl.conf'), 'net.ipv4.ip_forward = 1\n');
  await writeFile(join(root, 'etc/modules'), '# from the rootfs\nloop\n');
  await writeFile(join(root, 'etc/ipvsadm.rules'), '-A -t 192.168.253.120:80 -s wlc\n');
  await mkdir(join(root, DEBCONF_SELECTIONS_PATH, '..'), { recursive: true });
  await writeFile(join(root, DEBCONF_SELECTIONS_PATH), 'ipvsadm ipvsadm/daemon_method select none\n');
  await mkdir(join(root, 'var/log'), { recursive: true });
  return { root, stubs };
}

async function runScript(shell: string[], root: string, stubs: string) {
  const env = {
    OBSBUILD_ROOT: root,
    OBSBUILD_CONSOLE: join(root, 'console'),
    OBSBUILD_PATH: `${stubs}:/usr/bin:/bin`,
    TMPDIR: root,
  };
  await writeFile(join(root, 'console'), '');
  try {
    await run(shell[0], [...shell.slice(1), join(root, FIRSTBOOT_PATH), 'start'], { env });
    return { code: 0, console: await readFile(join(root, 'console'), 'utf8') };
  } catch (err) {
    return { code: (err as { code: number }).code, console: await readFile(join(root, 'console'), 'utf8') };
  }
}

const exists = (p: string) => access(p).then(() => true, () => false);
const LINKS = [2, 3, 4, 5].map((l) => `etc/rc${l}.d/S99obsbuild-firstboot`);

test('the rendered first-boot script passes shellcheck --shell=sh', async () => {
  for (const manager of ['keepalived', 'ipvsadm'] as const) {
    const dir = await mkdtemp(join(tmpdir(), 'obsbuild-sc-'));
    try {
      const file = join(dir, 'obsbuild-firstboot');
      await writeFile(file, renderFirstbootScript({ manifestId: ID, manager, obsbuildVersion: '0.1.0', runlevels: [2] }));
      await run('shellcheck', ['--shell=sh', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
});

test('the script has an LSB header and carries the manifest id', () => {
  const text = renderFirstbootScript({ manifestId: ID, manager: 'keepalived', obsbuildVersion: '0.1.0', runlevels: [2] });
  assert.match(text, /^### BEGIN INIT INFO\n# Provides:\s+obsbuild-firstboot\n/m);
  assert.match(text, /^# Default-Start:\s+2 3 4 5$/m);
  assert.match(text, /^### END INIT INFO$/m);
  assert.match(text, new RegExp(`^MANIFEST_ID='${ID}'$`, 'm'));
  assert.doesNotMatch(text, /@[A-Z_]+@/, 'every placeholder is filled in');
  assert.throws(() => renderFirstbootScript({ manifestId: "x'; rm -rf /", manager: 'keepalived', obsbuildVersion: '0', runlevels: [] }));
});

for (const [label, shell] of SHELLS) {
  test(`first boot under ${label}: every step reported, host keys renewed, keepalived started, links removed`, async () => {
    const { root, stubs } = await fakeRoot();
    try {
      const r = await runScript(shell, root, stubs);
      assert.equal(r.code, 0, r.console);
      const lines = r.console.trimEnd().split('\n');
      assert.deepEqual(lines, [
        'obsbuild-firstboot: [1/7] depmod -a', 'obsbuild-firstboot: [1/7] ok',
        'obsbuild-firstboot: [2/7] debconf answers', 'obsbuild-firstboot: [2/7] ok',
        'obsbuild-firstboot: [3/7] dpkg --configure -a', 'obsbuild-firstboot: [3/7] ok',
        'obsbuild-firstboot: [4/7] ssh host keys', 'obsbuild-firstboot: [4/7] ok',
        'obsbuild-firstboot: [5/7] sysctl -p', 'obsbuild-firstboot: [5/7] ok',
        'obsbuild-firstboot: [6/7] start keepalived', 'obsbuild-firstboot: [6/7] ok',
        'obsbuild-firstboot: [7/7] manifest id', 'obsbuild-firstboot: [7/7] ok',
        `obsbuild-firstboot: done manifest=${ID}`,
      ]);
      const calls = await readFile(join(root, 'calls.log'), 'utf8');
      assert.match(calls, /^depmod -a /m);
      assert.match(calls, new RegExp(`^debconf-set-selections ${root}${DEBCONF_SELECTIONS_PATH} `, 'm'));
      assert.match(calls, /^dpkg --configure -a DEBIAN_FRONTEND=noninteractive$/m);
      // ucf (chrony's postinst) keeps the site's config instead of failing for want of debconf
      assert.match(calls, /^dpkg-env UCF_FORCE_CONFFOLD=1$/m);
      // lenny's ssh-keygen has no -A: the script falls back to one key per type.
      assert.match(calls, /^ssh-keygen -q -t rsa -N {2}-f .*ssh_host_rsa_key /m);
      assert.match(calls, /^ssh-keygen -q -t dsa -N {2}-f .*ssh_host_dsa_key /m);
      assert.equal(await exists(join(root, 'etc/ssh/ssh_host_rsa_key')), false, 'the shipped (shared) host key is gone');
      assert.match(calls, /^ssh restart$/m);
      assert.match(calls, new RegExp(`^sysctl -p ${root}/etc/sysctl.conf `, 'm'));
      assert.match(calls, /^keepalived restart$/m);
      // keepalived 1.1.15 does not load ip_vs itself: the module is loaded before keepalived starts.
      assert.match(calls, /^modprobe ip_vs [^\n]*\nkeepalived restart$/m);
      // ...and every later boot loads it from /etc/modules (listed once, whatever was there)
      assert.equal(await readFile(join(root, 'etc/modules'), 'utf8'), '# from the rootfs\nloop\nip_vs\n');
      assert.equal(await readFile(join(root, 'etc/obsbuild/manifest-id'), 'utf8'), `${ID}\n`);
      for (const link of LINKS) assert.equal(await exists(join(root, link)), false, `${link} removed after success`);
      assert.equal(await exists(join(root, FIRSTBOOT_PATH)), true, 'the script itself stays for reference');
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
}

test("every line the first-boot script prints is one the console's marker contract parses", async () => {
  const { root, stubs } = await fakeRoot();
  try {
    const r = await runScript(['dash'], root, stubs);
    assert.equal(r.code, 0, r.console);
    const markers = r.console.trimEnd().split('\n').map(parseMarker);
    assert.ok(markers.every((m) => m !== null), r.console);
    const steps = markers.filter((m) => m?.kind === 'firstboot-step');
    assert.deepEqual(steps.map((m) => m?.kind === 'firstboot-step' && `${m.n}/${m.total}`), Array.from({ length: FIRSTBOOT_STEP_COUNT }, (_, i) => `${i + 1}/${FIRSTBOOT_STEP_COUNT}`));
    assert.deepEqual(markers.at(-1), { kind: 'firstboot-done', manifestId: ID });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('a failing step stops the script, names the reason, and keeps the rc links for the next boot', async () => {
  const { root, stubs } = await fakeRoot({ dpkgFails: true });
  try {
    const r = await runScript(['dash'], root, stubs);
    assert.equal(r.code, 1);
    const lines = r.console.trimEnd().split('\n');
    assert.equal(lines.at(-1), 'obsbuild-firstboot: [3/7] FAILED:  subprocess post-installation script returned error exit status 1');
    assert.ok(!r.console.includes('[4/7]'), 'no step after the failed one runs');
    assert.ok(!r.console.includes('done manifest='));
    for (const link of LINKS) assert.equal(await exists(join(root, link)), true, `${link} kept`);
    assert.equal(await exists(join(root, 'etc/obsbuild/manifest-id')), false);
    const log = await readFile(join(root, 'var/log/obsbuild-firstboot.log'), 'utf8');
    assert.match(log, /dpkg: error processing keepalived/, 'the whole error output is kept in the log');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});

test('with the ipvsadm manager the rules file is restored instead of starting keepalived', async () => {
  const { root, stubs } = await fakeRoot({ manager: 'ipvsadm', sshKeygenHasA: true });
  try {
    const r = await runScript(['dash'], root, stubs);
    assert.equal(r.code, 0, r.console);
    assert.match(r.console, /\[6\/7\] start ipvsadm\n.*\[6\/7\] ok/);
    assert.equal(await readFile(join(root, 'restored'), 'utf8'), '-A -t 192.168.253.120:80 -s wlc\n');
    const calls = await readFile(join(root, 'calls.log'), 'utf8');
    assert.doesNotMatch(calls, /keepalived restart/);
    assert.match(calls, /^ssh-keygen -A /m);
    assert.doesNotMatch(calls, /-t rsa/, 'ssh-keygen -A worked: no fallback');
  } finally {
    await rm(root, { recursive: true, force: true });
  }
});
