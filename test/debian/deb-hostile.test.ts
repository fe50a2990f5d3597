import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { after, test } from 'node:test';
import { forEachDataEntry, readDebControl } from '../../src/debian/deb.js';
import { writeOverlay } from '../../src/image/overlay.js';
import { UserError } from '../../src/util/errors.js';
import { LENNY_BASE_STATUS } from '../fixtures/debs/make-deb.js';
import { arArchive, arHeader } from '../helpers/ar.js';
import { CONTROL_TEXT, craftedDeb, debWithHugeScript, tarBuffer, type CraftedEntry } from './crafted-debs.js';

const work = mkdtempSync(join(tmpdir(), 'obsbuild-deb-hostile-'));
after(() => rmSync(work, { recursive: true, force: true }));
const debModule = fileURLToPath(new URL('../../src/debian/deb.js', import.meta.url));

let n = 0;
async function deb(data: CraftedEntry[], control?: CraftedEntry[]): Promise<string> {
  const path = join(work, `crafted-${n++}.deb`);
  writeFileSync(path, await craftedDeb(data, control));
  return path;
}

async function walk(path: string): Promise<string[]> {
  const seen: string[] = [];
  await forEachDataEntry(path, async (e, content) => {
    for await (const _ of content);
    seen.push(e.path);
  });
  return seen;
}

/** Read a .deb's control member in a child node and report its outcome and peak memory (maxRSS, KiB). */
function controlInChild(path: string): { outcome: string; maxRssMiB: number; ms: number } {
  const script = `
    const { readDebControl } = await import(${JSON.stringify(debModule)});
    const t = Date.now();
    let outcome;
    try { await readDebControl(process.argv[1]); outcome = 'read'; } catch (e) { outcome = e.name + ': ' + e.message; }
    console.log(JSON.stringify({ outcome, maxRssMiB: Math.round(process.resourceUsage().maxRSS / 1024), ms: Date.now() - t }));`;
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', script, path], { maxBuffer: 1 << 20 }).toString();
  return JSON.parse(out.trim().split('\n').pop()!);
}

test('a maintainer script larger than 1 MiB is refused from its tar header, in bounded memory', async () => {
  const path = join(work, 'huge-postinst.deb');
  await debWithHugeScript(path, 'postinst', 256 << 20);
  const r = controlInChild(path);
  assert.match(r.outcome, /^UserError: .*huge-postinst\.deb: control file postinst is larger than 1 MiB/);
  // 256 MiB read into memory would be well over 300 MiB; refusing from the header stays near node's baseline.
  assert.ok(r.maxRssMiB < 150, `peak memory ${r.maxRssMiB} MiB`);
});

test('an ar BSD long name declaring 500 MB is refused without allocating it', async () => {
  const path = join(work, 'bsd-name.deb');
  const control = gzipSync(await tarBuffer([{ name: './control', content: CONTROL_TEXT }]));
  writeFileSync(
    path,
    Buffer.concat([
      arArchive([['debian-binary', Buffer.from('2.0\n')], ['control.tar.gz', control]]),
      // Declares a 500 MB name inside a member whose size field says the same, in a file of a few hundred bytes.
      arHeader('#1/500000000', 500000000),
      Buffer.from('data.tar.gz'),
    ]),
  );
  const r = controlInChild(path);
  assert.match(r.outcome, /^UserError: .*bsd-name\.deb: not a valid \.deb: truncated: member #1\/500000000 needs \d+ more bytes/);
  assert.ok(r.maxRssMiB < 150, `peak memory ${r.maxRssMiB} MiB`);
});

test('an ar size field that is not plain decimal, and more than 16 members, are refused', async () => {
  const good = await craftedDeb([{ name: './', type: 'directory' }]);
  const hex = Buffer.from(good);
  // debian-binary's size field "4" becomes "4e0": parseInt read it as 4 and went on.
  const at = 8 + 48;
  hex.write('4e0       ', at, 'latin1');
  const hexPath = join(work, 'hex-size.deb');
  writeFileSync(hexPath, hex);
  await assert.rejects(readDebControl(hexPath), /hex-size\.deb: not a valid \.deb: bad member size at byte 8/);

  const members: [string, Buffer][] = [['debian-binary', Buffer.from('2.0\n')]];
  for (let i = 0; i < 20; i++) members.push([`_junk${i}`, Buffer.from('x')]);
  members.push(['control.tar.gz', gzipSync(await tarBuffer([{ name: './control', content: CONTROL_TEXT }]))]);
  const many = join(work, 'many-members.deb');
  writeFileSync(many, arArchive(members));
  await assert.rejects(readDebControl(many), (e: Error) => e instanceof UserError && /many-members\.deb: not a valid \.deb: more than 16 members/.test(e.message));
});

test('a control member over 16 MiB is refused before it is decompressed', async () => {
  // An uncompressed control.tar holding a 17 MiB md5sums (under the md5sums cap itself).
  const md5sums = 'd41d8cd98f00b204e9800998ecf8427e  usr/share/doc/x\n'.repeat((17 << 20) / 48);
  const controlTar = await tarBuffer([{ name: './control', content: CONTROL_TEXT }, { name: './md5sums', content: md5sums }]);
  const path = join(work, 'big-control.deb');
  writeFileSync(path, arArchive([['debian-binary', Buffer.from('2.0\n')], ['control.tar', controlTar], ['data.tar.gz', gzipSync(await tarBuffer([]))]]));
  await assert.rejects(readDebControl(path), /big-control\.deb: the control\.tar member is \d+ bytes; a control member is at most 16 MiB/);
});

test('data.tar: an entry written through an earlier symlink is refused, whatever the link points to', async () => {
  const abs = await deb([
    { name: './etc/', type: 'directory' },
    { name: './etc/cron.d', type: 'symlink', linkname: '/tmp/somewhere' },
    { name: './etc/cron.d/evil', content: '* * * * * root sh\n' },
  ]);
  await assert.rejects(walk(abs), (e: Error) => e instanceof UserError && e.message === `${abs}: data.tar entry './etc/cron.d/evil' escapes the root (through the symlink etc/cron.d -> /tmp/somewhere)`);
  // A link inside the tree is no better: tar may or may not follow it.
  const rel = await deb([
    { name: './usr/lib/', type: 'directory' },
    { name: './usr/lib/x', type: 'symlink', linkname: '../share' },
    { name: './usr/lib/x/', type: 'directory' },
    { name: './usr/lib/x/file', content: 'x' },
  ]);
  await assert.rejects(walk(rel), /data\.tar entry '\.\/usr\/lib\/x\/' escapes the root \(over the symlink usr\/lib\/x -> \.\.\/share\)/);
  // A hard link whose target passes through a symlink.
  const hard = await deb([
    { name: './lib', type: 'symlink', linkname: '/etc' },
    { name: './shadow-copy', type: 'link', linkname: './lib/shadow' },
  ]);
  await assert.rejects(walk(hard), /'\.\/shadow-copy' escapes the root \(hard link to \.\/lib\/shadow, through the symlink lib -> \/etc\)/);
});

test('data.tar: a relative symlink climbing above the root and an absolute name are refused; absolute and inner links are fine', async () => {
  const up = await deb([{ name: './usr/lib/up', type: 'symlink', linkname: '../../../etc' }]);
  await assert.rejects(walk(up), /'\.\/usr\/lib\/up' escapes the root \(symlink to \.\.\/\.\.\/\.\.\/etc, above the archive root\)/);
  const absName = await deb([{ name: '/etc/passwd', content: 'root::0:0::/:/bin/sh\n' }]);
  await assert.rejects(walk(absName), /'\/etc\/passwd' escapes the root \(an absolute name\)/);
  const fine = await deb([
    { name: './', type: 'directory' },
    { name: './etc/mtab', type: 'symlink', linkname: '/proc/mounts' },
    { name: './usr/lib/libx.so', type: 'symlink', linkname: '../../lib/libx.so.1' },
    { name: './usr/bin/tool', content: '#!/bin/sh\n', mode: 0o755 },
    { name: './usr/bin/tool2', type: 'link', linkname: './usr/bin/tool' },
  ]);
  assert.deepEqual(await walk(fine), ['', 'etc/mtab', 'usr/lib/libx.so', 'usr/bin/tool', 'usr/bin/tool2']);
});

test('data.tar: device nodes and FIFOs are refused with one line naming the .deb and the entry', async () => {
  for (const [type, what] of [['character-device', 'a character device'], ['block-device', 'a block device'], ['fifo', 'a FIFO']] as const) {
    const path = await deb([{ name: './dev/', type: 'directory' }, { name: './dev/thing', type, devmajor: 1, devminor: 3 }]);
    await assert.rejects(walk(path), (e: Error) => e instanceof UserError && e.message === `${path}: data.tar entry './dev/thing' is ${what}: obsbuild does not install device nodes from packages`);
  }
});

test('the overlay names setuid and setgid package files in its warnings', async () => {
  const path = await deb([
    { name: './bin/', type: 'directory' },
    { name: './bin/su', content: 'elf', mode: 0o4755 },
    { name: './usr/bin/wall', content: 'elf', mode: 0o2755, gid: 5 },
    { name: './usr/bin/plain', content: 'elf', mode: 0o755 },
  ]);
  const result = await writeOverlay(join(work, 'setid', 'obsbuild-overlay.tgz'), {
    packages: [{ debPath: path, entry: { name: 'crafted', version: '1.0', arch: 'powerpc' } }],
    baseStatus: LENNY_BASE_STATUS,
    files: [],
    mtime: 1263859200,
  });
  assert.deepEqual(result.warnings, [`${path}: /bin/su is setuid root (mode 4755)`, `${path}: /usr/bin/wall is setgid 5 (mode 2755)`]);
});

test('the overlay writer refuses a generated file that would be written through a package symlink', async () => {
  const path = await deb([
    { name: './etc/', type: 'directory' },
    { name: './etc/keepalived', type: 'symlink', linkname: '/var/lib/elsewhere' },
  ]);
  const out = join(work, 'through', 'obsbuild-overlay.tgz');
  await assert.rejects(
    writeOverlay(out, {
      packages: [{ debPath: path, entry: { name: 'crafted', version: '1.0', arch: 'powerpc' } }],
      baseStatus: LENNY_BASE_STATUS,
      files: [{ path: '/etc/keepalived/keepalived.conf', content: '! conf\n', mode: 0o644 }],
      mtime: 1263859200,
    }),
    (e: Error) => e instanceof UserError && e.message === `${out}: entry 'etc/keepalived/keepalived.conf' escapes the root (through the symlink etc/keepalived -> /var/lib/elsewhere)`,
  );
});

test('a contiguous file (typeflag 7) is a regular file to the one tar reader, in control.tar as in data.tar', async () => {
  const path = await deb(
    [{ name: './usr/share/doc/x', type: 'contiguous-file', content: 'hello\n' }],
    [{ name: './control', type: 'contiguous-file', content: CONTROL_TEXT }],
  );
  const { control } = await readDebControl(path);
  assert.equal(control.get('Package'), 'crafted');
  const seen: string[] = [];
  await forEachDataEntry(path, async (e, content) => {
    let text = '';
    for await (const c of content) text += c.toString();
    seen.push(`${e.type} ${e.path} ${e.size} ${JSON.stringify(text)}`);
  });
  assert.deepEqual(seen, ['file usr/share/doc/x 6 "hello\\n"']);
});
