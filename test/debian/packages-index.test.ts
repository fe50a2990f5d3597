import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { buildIndexFromDebs, loadPackagesDir, readPackagesIndex } from '../../src/debian/packages-index.js';
import { UserError } from '../../src/util/errors.js';
import { makeDeb } from '../fixtures/debs/make-deb.js';

const work = mkdtempSync(join(tmpdir(), 'obsbuild-index-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

function debsFolder(name: string): string {
  const dir = join(work, name);
  mkdirSync(dir);
  makeDeb(dir, { name: 'ipvsadm', version: '1:1.24-2.1', depends: 'libpopt0 (>= 1.14)', files: [{ path: '/sbin/ipvsadm', content: 'x\n', mode: 0o755 }] });
  makeDeb(dir, { name: 'libpopt0', version: '1.14-4', provides: 'popt', files: [{ path: '/usr/lib/libpopt.so.0', content: 'p\n' }] });
  return dir;
}

test('a folder of .debs without an index reads like the index dpkg-scanpackages writes for it', async () => {
  const dir = debsFolder('plain');
  const ours = await buildIndexFromDebs(dir);
  const theirs = execFileSync('dpkg-scanpackages', ['-m', '.'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] }).toString();
  writeFileSync(join(work, 'Packages.scan'), theirs);
  const scanned = await readPackagesIndex(join(work, 'Packages.scan'));
  assert.deepEqual(
    ours.map((e) => [e.name, e.version, e.arch, e.size, e.md5, e.sha256]),
    scanned.map((e) => [e.name, e.version, e.arch, e.size, e.md5, e.sha256]),
  );
  assert.deepEqual(ours[0].depends, [[{ name: 'libpopt0', op: '>=', version: '1.14' }]]);
  assert.deepEqual(ours[1].provides, [{ name: 'popt' }]);
});

test('--packages DIR with a Packages index (plain, .gz or .xz): Filename found in the folder, by base name too', async () => {
  for (const variant of ['Packages', 'Packages.gz', 'Packages.xz']) {
    const dir = debsFolder(`with-${variant}`);
    const text = execFileSync('dpkg-scanpackages', ['-m', '.'], { cwd: dir, stdio: ['ignore', 'pipe', 'ignore'] }).toString()
      .replace(/^Filename: \.\//gm, 'Filename: pool/main/x/');
    const path = join(dir, variant);
    if (variant === 'Packages') writeFileSync(path, text);
    if (variant === 'Packages.gz') writeFileSync(path, gzipSync(text));
    if (variant === 'Packages.xz') writeFileSync(path, execFileSync('xz', ['-c'], { input: text }));
    const entries = await loadPackagesDir(dir);
    assert.deepEqual(entries.map((e) => `${e.name} ${e.version}`), ['ipvsadm 1:1.24-2.1', 'libpopt0 1.14-4'], variant);
    for (const e of entries) assert.equal(e.localPath, join(dir, e.filename!.split('/').pop()!));
  }
});

test('a broken index names the file and line; a truncated compressed index is an error, not a short list', async () => {
  const bad = join(work, 'Packages');
  writeFileSync(bad, 'Package: a\nVersion: 1\n\nPackage: b\nVersion: 2\nno colon here\n');
  await assert.rejects(() => readPackagesIndex(bad), new UserError(`${bad}:6: expected 'Field: value', got 'no colon here'`, { code: 'package-invalid' }));
  writeFileSync(bad, 'Package: a\nVersion: x:1.0\n');
  await assert.rejects(() => readPackagesIndex(bad), new UserError(`${bad}: package a: version 'x:1.0': epoch is not a number`, { code: 'package-invalid' }));
  const text = Array.from({ length: 3000 }, (_, i) => `Package: p${i}\nVersion: ${i}\nDescription: ${'x'.repeat(i % 97)}${i}\n`).join('\n');
  for (const [name, bytes] of [['Packages.gz', gzipSync(text)], ['Packages.xz', execFileSync('xz', ['-c'], { input: text })]] as const) {
    const cut = join(work, `cut-${name}`);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
    await assert.rejects(() => readPackagesIndex(cut), (err: Error) => err instanceof UserError && err.message.startsWith(`${cut}: cannot read the index`));
    const whole = join(work, `whole-${name}`);
    writeFileSync(whole, bytes);
    assert.equal((await readPackagesIndex(whole)).length, 3000);
  }
  await assert.rejects(() => loadPackagesDir(join(work, 'nope')), /nope: no such packages folder/);
  mkdirSync(join(work, 'empty'));
  await assert.rejects(() => loadPackagesDir(join(work, 'empty')), /empty: no Packages index and no \.deb files/);
});
