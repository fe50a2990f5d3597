/**
 * files: through a whole build (stand-in inputs): the site's own files land in the overlay tarball with their
 * owners and modes, and in manifest.json (so in the manifest id) with their sha256; one targeting a file the
 * build generates stops the build before any output is written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { runCli } from '../helpers/cli.js';
import type { Manifest } from '../../src/contracts/manifest.js';
import { imageArgs, makeWorkspace, withExtractedOverlay } from './fixtures.js';

const run = promisify(execFile);
const sha256 = (bytes: string | Buffer) => createHash('sha256').update(bytes).digest('hex');

const FILES = `
files:
  folder: rootfs-files
  entries:
    - { path: /etc/motd, content: "lb: managed by obsbuild\\n" }
    - { path: /etc/default/agent, source: files/agent.conf, mode: "0640", owner: www-data, group: adm }
`;

test('files: entries and the folder land in the overlay with owner and mode, and in manifest.json with their sha256', async () => {
  const ws = await makeWorkspace();
  try {
    await writeFile(ws.site, (await readFile(ws.site, 'utf8')) + FILES);
    await mkdir(join(ws.root, 'files'));
    await writeFile(join(ws.root, 'files/agent.conf'), 'LEVEL=2\n');
    await mkdir(join(ws.root, 'rootfs-files/usr/local/sbin'), { recursive: true });
    await writeFile(join(ws.root, 'rootfs-files/usr/local/sbin/report'), '#!/bin/sh\necho ok\n');
    await chmod(join(ws.root, 'rootfs-files/usr/local/sbin/report'), 0o750);
    await run('ln', ['-s', '/etc/shadow', join(ws.root, 'rootfs-files/usr/local/sbin/not-followed')]);

    const r = await runCli(imageArgs(ws));
    assert.equal(r.exitCode, 0, String(r.stderr));
    const dir = join(ws.out, 'obs600');
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const entry = (path: string) => manifest.config.find((f) => f.path === path);
    assert.deepEqual(entry('/etc/motd'), { path: '/etc/motd', type: 'file', mode: '0644', uid: 0, gid: 0, size: 24, sha256: sha256('lb: managed by obsbuild\n') });
    assert.deepEqual(entry('/etc/default/agent'), { path: '/etc/default/agent', type: 'file', mode: '0640', uid: 33, gid: 4, size: 8, sha256: sha256('LEVEL=2\n') });
    assert.equal(entry('/usr/local/sbin/report')?.sha256, sha256('#!/bin/sh\necho ok\n'));
    assert.deepEqual([entry('/usr/local/sbin/not-followed')?.type, entry('/usr/local/sbin/not-followed')?.linkTarget], ['symlink', '/etc/shadow']);

    await withExtractedOverlay(join(dir, 'stick/msf/obsbuild-overlay.tgz'), async (root) => {
      assert.equal(await readFile(join(root, 'etc/motd'), 'utf8'), 'lb: managed by obsbuild\n');
      const agent = await lstat(join(root, 'etc/default/agent'));
      assert.deepEqual([agent.mode & 0o7777, agent.uid, agent.gid], [0o640, 33, 4], 'owner and group by their ids in the rootfs');
      const report = await lstat(join(root, 'usr/local/sbin/report'));
      assert.deepEqual([report.mode & 0o7777, report.uid, report.gid], [0o750, 0, 0]);
      assert.equal(await readlink(join(root, 'usr/local/sbin/not-followed')), '/etc/shadow');
      assert.match(await readFile(join(root, 'etc/keepalived/keepalived.conf'), 'utf8'), /virtual_server/, "obsbuild's own files are still there");
    });
  } finally {
    await ws.cleanup();
  }
});

test('files: targeting a file the build generates, or an owner the rootfs lacks, stops the build naming the line; nothing is written', async () => {
  for (const [entries, pattern] of [
    ['    - { path: /etc/hostname, content: "other\\n" }\n', /obsbuild\.yaml:\d+: files\.entries\[0\]: \/etc\/hostname is obsbuild's own \/etc\/hostname \(the host name, rendered from hostname:\)/],
    ['    - { path: /etc/x, content: x, owner: nagios }\n', /obsbuild\.yaml:\d+: files\.entries\[0\]: user nagios is not in the rootfs's \(lenny-powerpc-obs600-20100119-00\.tar\.gz\) \/etc\/passwd/],
  ] as const) {
    const ws = await makeWorkspace();
    try {
      await writeFile(ws.site, `${await readFile(ws.site, 'utf8')}\nfiles:\n  entries:\n${entries}`);
      const r = await runCli(imageArgs(ws));
      assert.equal(r.exitCode, 1, String(r.stderr));
      assert.match(String(r.stderr), pattern);
      assert.deepEqual(await readdir(ws.out).catch(() => []), []);
    } finally {
      await ws.cleanup();
    }
  }
});
