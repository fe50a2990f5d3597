import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { tzif } from '../fixtures/inputs/make-standin-inputs.js';
import { imageArgs, makeWorkspace, type Workspace, withExtractedOverlay } from './fixtures.js';
import type { Manifest } from '../../src/contracts/manifest.js';

const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** The site file with `timezone:` set on its last line; returns that line's number. */
async function withTimezone(ws: Workspace, zone: string): Promise<number> {
  const text = (await readFile(ws.site, 'utf8')).trimEnd();
  await writeFile(ws.site, `${text}\ntimezone: ${zone}\n`);
  return text.split('\n').length + 1;
}

test('timezone: /etc/timezone and /etc/localtime (the zone file of the rootfs, through its hard link) in the overlay and the manifest', async () => {
  const ws = await makeWorkspace();
  try {
    await withTimezone(ws, 'Japan');
    const r = await runCli(imageArgs(ws));
    assert.equal(r.exitCode, 0, String(r.stderr));
    const dir = join(ws.out, 'obs600');
    const jst = tzif('JST', 9 * 3600);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Manifest;
    const listed = (path: string) => manifest.config.find((f) => f.path === path);
    assert.deepEqual(
      [listed('/etc/timezone')?.sha256, listed('/etc/localtime')?.sha256],
      [sha256('Japan\n'), sha256(jst)],
      'both files in the manifest with their sha256',
    );
    assert.equal(listed('/etc/localtime')?.type, 'file');

    await withExtractedOverlay(join(dir, 'stick/msf/obsbuild-overlay.tgz'), async (root) => {
      assert.equal(await readFile(join(root, 'etc/timezone'), 'utf8'), 'Japan\n');
      assert.deepEqual(await readFile(join(root, 'etc/localtime')), jst);
      const st = await lstat(join(root, 'etc/localtime'));
      assert.ok(st.isFile(), 'a regular file, as lenny tzdata copies it');
      assert.equal(st.mode & 0o7777, 0o644);
      assert.equal(st.uid, 0);
    });
  } finally {
    await ws.cleanup();
  }
});

test('a zone the rootfs lacks, or whose file is not a zone file, stops the build naming the site line and the zone', async () => {
  const ws = await makeWorkspace({ standin: { extraRootfsEntries: [{ name: './usr/share/zoneinfo/Asia/Bogus', content: 'not compiled\n' }] } });
  try {
    const cases: Array<[string, RegExp]> = [
      ['Asia/Tokio', /timezone Asia\/Tokio cannot be used with lenny-powerpc-obs600-20100119-00\.tar\.gz: the rootfs's tzdata has no zone Asia\/Tokio \(no file \/usr\/share\/zoneinfo\/Asia\/Tokio\)$/],
      ['Asia/Bogus', /timezone Asia\/Bogus cannot be used with \S+: \/usr\/share\/zoneinfo\/Asia\/Bogus is not a TZif zone file$/],
    ];
    const site = await readFile(ws.site, 'utf8');
    for (const [zone, want] of cases) {
      await writeFile(ws.site, site);
      const line = await withTimezone(ws, zone);
      const r = await runCli(imageArgs(ws));
      assert.equal(r.exitCode, 1, String(r.stderr));
      const lines = String(r.stderr).trimEnd().split('\n');
      assert.equal(lines.length, 1, String(r.stderr));
      assert.ok(lines[0].startsWith(`obsbuild: ${ws.site}:${line}: `), lines[0]);
      assert.match(lines[0], want);
      assert.deepEqual(await readdir(ws.out).catch(() => []), [], 'no output');
    }
  } finally {
    await ws.cleanup();
  }
});
