import assert from 'node:assert/strict';
import { execFileSync, execSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import type { TarEntry } from '../../src/archive/tar-entry.js';
import { digestFile, forEachDataEntry, readDebControl, verifyDebChecksum } from '../../src/debian/deb.js';
import { UserError } from '../../src/util/errors.js';
import { makeDeb } from '../fixtures/debs/make-deb.js';
import { realDebs } from '../fixtures/debs/real-debs.js';

const work = mkdtempSync(join(tmpdir(), 'obsbuild-deb-test-'));
after(() => rmSync(work, { recursive: true, force: true }));

const TYPE_CHAR: Record<string, string> = { file: '-', directory: 'd', symlink: 'l', link: 'h', 'character-device': 'c', 'block-device': 'b', fifo: 'p' };

function permString(mode: number): string {
  const bits = 'rwxrwxrwx';
  let s = '';
  for (let i = 0; i < 9; i++) s += mode & (1 << (8 - i)) ? bits[i] : '-';
  const chars = s.split('');
  if (mode & 0o4000) chars[2] = chars[2] === 'x' ? 's' : 'S';
  if (mode & 0o2000) chars[5] = chars[5] === 'x' ? 's' : 'S';
  if (mode & 0o1000) chars[8] = chars[8] === 'x' ? 't' : 'T';
  return chars.join('');
}

/** What GNU tar says about data.tar, normalized to comparable rows. */
function tarListing(deb: string): string[] {
  const out = execSync(`dpkg-deb --fsys-tarfile '${deb}' | tar --numeric-owner -tvf -`).toString();
  return out
    .trim()
    .split('\n')
    .map((line) => {
      const m = /^(\S)(\S{9}) (\d+)\/(\d+)\s+(\d+) \S+ \S+ (.*)$/.exec(line);
      assert.ok(m, `unexpected tar line: ${line}`);
      let [, type, perms, uid, gid, size, rest] = m;
      let link = '';
      const sym = / -> (.*)$/.exec(rest);
      const hard = / link to (.*)$/.exec(rest);
      if (type === 'l' && sym) [rest, link] = [rest.slice(0, sym.index), sym[1]];
      if (type === 'h' && hard) [rest, link] = [rest.slice(0, hard.index), hard[1].replace(/^\.\//, '')];
      const path = rest.replace(/^\.\/?/, '').replace(/\/$/, '');
      return [type === 'h' ? 'h' : type, perms, uid, gid, type === '-' ? size : '0', path, link].join(' ');
    });
}

async function ourListing(deb: string): Promise<string[]> {
  const rows: string[] = [];
  await forEachDataEntry(deb, async (e: TarEntry, content) => {
    let size = 0;
    for await (const chunk of content) size += chunk.length;
    if (e.type === 'file') assert.equal(size, e.size, `${deb}: ${e.path} content length`);
    rows.push([TYPE_CHAR[e.type], permString(e.mode), e.uid, e.gid, e.type === 'file' ? e.size : 0, e.path, e.linkname ?? ''].join(' '));
  });
  return rows;
}

test('real Debian .debs (xz data members): control and every data.tar entry match dpkg-deb and GNU tar', async (t) => {
  const real = realDebs();
  if ('skip' in real) return t.skip(real.skip);
  const debs = readdirSync(real.dir).filter((f) => f.endsWith('.deb'));
  assert.ok(debs.length >= real.names.length);
  for (const name of debs) {
    const deb = join(real.dir, name);
    const { control, files } = await readDebControl(deb);
    const expectedFields = execFileSync('dpkg-deb', ['-f', deb, 'Package', 'Version', 'Architecture']).toString();
    assert.equal(`Package: ${control.get('Package')}\nVersion: ${control.get('Version')}\nArchitecture: ${control.get('Architecture')}\n`, expectedFields);
    if (control.get('Package') === 'keepalived') assert.ok(files.has('md5sums') && files.has('postinst'), 'keepalived ships md5sums and postinst');
    assert.deepEqual(await ourListing(deb), tarListing(deb), name);
  }
});

test('hand-made lenny-style packages: gzip, xz, zstd and uncompressed members, owners, setuid, links', async () => {
  for (const compression of ['gzip', 'xz', 'zstd', 'none'] as const) {
    const deb = makeDeb(work, {
      name: `fmt-${compression}`,
      version: '1.0-1',
      compression,
      files: [
        { path: '/usr/sbin/tool', content: '#!/bin/sh\necho hi\n', mode: 0o4755 },
        { path: '/var/lib/tool/state', content: 'secret\n', mode: 0o640, uid: 1, gid: 1 },
        { path: '/usr/sbin/tool-alias', symlink: 'tool' },
        { path: '/usr/sbin/tool-hard', hardlinkTo: '/usr/sbin/tool' },
      ],
    });
    assert.deepEqual(await ourListing(deb), tarListing(deb), compression);
    let state = '';
    await forEachDataEntry(deb, async (e, content) => {
      if (e.path === 'var/lib/tool/state') for await (const c of content) state += c.toString();
    });
    assert.equal(state, 'secret\n');
    const { control } = await readDebControl(deb);
    assert.match(control.get('Description')!, /\n \.\n Second paragraph\.$/);
  }
});

test('a truncated .deb is a UserError naming the file', async () => {
  const deb = makeDeb(work, { name: 'cut', version: '1', files: [{ path: '/usr/share/cut/big', content: 'x'.repeat(200_000) + Math.random() }] });
  const bytes = readFileSync(deb);
  const cut = join(work, 'cut-short.deb');
  writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.6)));
  await assert.rejects(() => forEachDataEntry(cut, async () => {}), (err: Error) => err instanceof UserError && err.message.startsWith(`${cut}: `) && /truncated/.test(err.message));
  // Found from the ar headers alone, before anything is unpacked.
  await assert.rejects(() => readDebControl(cut), /cut-short\.deb: not a valid \.deb: truncated: member data\.tar\.gz needs \d+ more bytes/);
});

test('a .deb whose data member is corrupt inside is a UserError, not a silently short package', async () => {
  const deb = makeDeb(work, { name: 'rot', version: '1', files: [{ path: '/usr/share/rot/data', content: Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join('') }] });
  const bytes = Buffer.from(readFileSync(deb));
  const at = bytes.indexOf(Buffer.from('data.tar.gz')) + 60 + 200;
  for (let i = 0; i < 64; i++) bytes[at + i] ^= 0x5a;
  const bad = join(work, 'rot-bad.deb');
  writeFileSync(bad, bytes);
  await assert.rejects(() => forEachDataEntry(bad, async (_e, c) => { for await (const _ of c); }), (err: Error) => err instanceof UserError && err.message.includes(bad) && /corrupt or truncated/.test(err.message));
});

test('not a .deb at all', async () => {
  const junk = join(work, 'junk.deb');
  writeFileSync(junk, 'hello, I am not an ar archive\n');
  await assert.rejects(() => readDebControl(junk), /junk\.deb: not a valid \.deb: not an ar archive/);
});

test('checksum verification: SHA256 when present, else MD5Sum (lenny), size; mismatch names the file', async () => {
  const deb = makeDeb(work, { name: 'sum', version: '1', files: [{ path: '/etc/sum', content: 'a\n' }] });
  const d = await digestFile(deb);
  assert.equal(d.sha256, execFileSync('sha256sum', [deb]).toString().split(' ')[0]);
  assert.equal(d.md5, execFileSync('md5sum', [deb]).toString().split(' ')[0]);
  await verifyDebChecksum(deb, { sha256: d.sha256.toUpperCase(), size: d.size });
  await verifyDebChecksum(deb, { md5: d.md5, size: d.size });
  const wrong = '0'.repeat(64);
  await assert.rejects(() => verifyDebChecksum(deb, { sha256: wrong, md5: d.md5 }), new UserError(`${deb}: checksum mismatch: index says SHA256 ${wrong}, file has ${d.sha256}`, { code: 'package-invalid' }));
  await assert.rejects(() => verifyDebChecksum(deb, { md5: '0'.repeat(32) }), /checksum mismatch: index says MD5Sum/);
  await assert.rejects(() => verifyDebChecksum(deb, { sha256: d.sha256, size: d.size + 1 }), /size mismatch/);
  await assert.rejects(() => verifyDebChecksum(deb, {}), /gives no SHA256 or MD5Sum/);
});
