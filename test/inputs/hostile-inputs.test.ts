import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 as zlibCrc32, createGzip, gzipSync } from 'node:zlib';
import { standinDir } from '../fixtures/inputs/standin.js';
import { inspectKernTgz } from '../../src/inputs/kerntgz.js';
import { inspectRootfs } from '../../src/inputs/rootfs.js';
import { inspectUImage } from '../../src/inputs/uimage.js';
import { UserError } from '../../src/util/errors.js';
import { tarBuffer, type CraftedEntry } from '../debian/crafted-debs.js';

let scratch: string;
const cleanups: Array<() => Promise<void>> = [];
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'obsbuild-hostile-inputs-'));
  cleanups.push(() => rm(scratch, { recursive: true, force: true }));
});
after(async () => {
  for (const c of cleanups) await c();
});

const IH_TYPE_KERNEL = 2;
const IH_TYPE_MULTI = 4;

/** A legacy U-Boot image with correct header and data CRCs (so only the part table can be wrong). */
async function uImage(name: string, type: number, payload: Buffer): Promise<string> {
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x27051956, 0);
  h.writeUInt32BE(1263859200, 8);
  h.writeUInt32BE(payload.length, 12);
  h.writeUInt32BE(zlibCrc32(payload), 24);
  h[28] = 5; // Linux
  h[29] = 7; // PowerPC
  h[30] = type;
  h[31] = 0;
  h.write('OBS600 2.6.29-obs600', 32, 'latin1');
  h.writeUInt32BE(zlibCrc32(h), 4);
  const file = join(scratch, name);
  await writeFile(file, Buffer.concat([h, payload]));
  return file;
}

function table(sizes: number[], after: number): Buffer {
  const t = Buffer.alloc(4 * sizes.length + after, 0x5a);
  sizes.forEach((s, i) => t.writeUInt32BE(s, 4 * i));
  return t;
}

test('uImage: a part of 2^31 bytes or more in a small file is refused (no 32-bit wrap)', async () => {
  // With 32-bit alignment arithmetic a big part that is not the last one wrapped to a negative or zero size.
  const big = await uImage('uImage.2g', IH_TYPE_MULTI, table([0x80000000, 4, 0], 64));
  await assert.rejects(inspectUImage(big), (e: Error) => e instanceof UserError && /uImage\.2g: the part sizes \(2147483648 \+ 4 bytes\) do not fit in the 76-byte payload/.test(e.message));
  // Two 4 GiB parts (and a small one) in a 144-byte file.
  const two = await uImage('uImage.4g', IH_TYPE_MULTI, table([0xffffffff, 0xffffffff, 4, 0], 64));
  await assert.rejects(inspectUImage(two), /uImage\.4g: the part sizes \(4294967295 \+ 4294967295 \+ 4 bytes\) do not fit in the 80-byte payload/);
  // A kernel that fits but a ramdisk that does not, by one byte.
  const edge = await uImage('uImage.edge', IH_TYPE_MULTI, table([5, 4, 0], 8 + 4 - 1));
  await assert.rejects(inspectUImage(edge, { expectArch: null }), /uImage\.edge: the part sizes \(5 \+ 4 bytes\) do not fit in the 23-byte payload/);
});

test('uImage: a kernel image with no data, and a multi-file table with no parts, are refused', async () => {
  const empty = await uImage('uImage.empty', IH_TYPE_KERNEL, Buffer.alloc(0));
  await assert.rejects(inspectUImage(empty), (e: Error) => e instanceof UserError && e.message === 'uImage.empty: the image holds no data (its header says 0 bytes): there is no kernel to boot');
  const none = await uImage('uImage.none', IH_TYPE_MULTI, table([0], 16));
  await assert.rejects(inspectUImage(none), /uImage\.none: multi-file image whose part table lists no parts \(no kernel\)/);
});

test('uImage: a 1 MiB part table without its terminator is refused at once (linear, capped part count)', async () => {
  const file = await uImage('uImage.noend', IH_TYPE_MULTI, Buffer.alloc(1 << 20, 0x01));
  const t = Date.now();
  await assert.rejects(inspectUImage(file), /uImage\.noend: multi-file image whose part table lists more than 16 parts \(or lacks its 0 terminator\)/);
  const ms = Date.now() - t;
  assert.ok(ms < 5000, `took ${ms} ms`);
});

test('uImage: a gzip bomb of a kernel is scanned for its banner only so far; the version then comes from the name', async () => {
  // 257 MiB of zeros, then a banner: about 260 KiB compressed.
  const gzip = createGzip({ level: 1 });
  const chunks: Buffer[] = [];
  gzip.on('data', (c: Buffer) => chunks.push(c));
  const done = new Promise((r) => gzip.on('end', r));
  const zeros = Buffer.alloc(1 << 20);
  for (let i = 0; i < 257; i++) if (!gzip.write(zeros)) await new Promise((r) => gzip.once('drain', r));
  gzip.end(Buffer.from('Linux version 9.9.9-bomb (x@y) #1\n'.padEnd(200, '\0')));
  await done;
  const file = await uImage('uImage.bomb', IH_TYPE_KERNEL, Buffer.concat(chunks));
  const r = await inspectUImage(file);
  assert.equal(r.kernelVersion, '2.6.29-obs600');
  assert.equal(r.kernelVersionSource, 'name');
});

async function kernTgz(name: string, extra: CraftedEntry[]): Promise<string> {
  const file = join(scratch, name);
  const entries: CraftedEntry[] = [
    { name: './lib/modules/2.6.29-obs600/', type: 'directory' },
    { name: './lib/modules/2.6.29-obs600/build', type: 'symlink', linkname: '/usr/src/linux-2.6.29' },
    { name: './lib/modules/2.6.29-obs600/kernel/net/netfilter/ipvs/ip_vs.ko', content: 'ko' },
    { name: './lib/modules/2.6.29-obs600/modules.dep', content: '' },
    ...extra,
  ];
  await writeFile(file, gzipSync(await tarBuffer(entries)));
  return file;
}

test('kern.tgz: a file written through an earlier symlink, or a symlink above the root, is refused', async () => {
  const through = await kernTgz('kern-through.tgz', [
    { name: './lib/modules/2.6.29-obs600/extra', type: 'symlink', linkname: '/etc' },
    { name: './lib/modules/2.6.29-obs600/extra/shadow', content: 'root::0:0:::::\n' },
  ]);
  await assert.rejects(
    inspectKernTgz(through),
    (e: Error) =>
      e instanceof UserError &&
      e.message.startsWith('kern-through.tgz: entry "./lib/modules/2.6.29-obs600/extra/shadow (through the symlink lib/modules/2.6.29-obs600/extra -> /etc)" escapes the archive root'),
  );
  const up = await kernTgz('kern-up.tgz', [{ name: './lib/modules/2.6.29-obs600/source', type: 'symlink', linkname: '../../../../usr/src' }]);
  await assert.rejects(inspectKernTgz(up), /kern-up\.tgz: entry ".*source \(symlink to \.\.\/\.\.\/\.\.\/\.\.\/usr\/src, above the archive root\)" escapes the archive root/);
  // The absolute build link of every real kern.tgz is fine.
  const fine = await inspectKernTgz(await kernTgz('kern-fine.tgz', []));
  assert.equal(fine.ipVsPath, 'lib/modules/2.6.29-obs600/kernel/net/netfilter/ipvs/ip_vs.ko');
});

test('kern.tgz: device nodes are refused in one line; setuid and setgid files are named in warnings', async () => {
  const dev = await kernTgz('kern-dev.tgz', [{ name: './dev/sda', type: 'block-device', devmajor: 8, devminor: 0 }]);
  await assert.rejects(inspectKernTgz(dev), (e: Error) => e instanceof UserError && e.message === 'kern-dev.tgz: entry "./dev/sda" is a block device: a kernel modules archive holds no device nodes');
  const suid = await kernTgz('kern-suid.tgz', [{ name: './lib/modules/2.6.29-obs600/helper', content: 'x', mode: 0o4755 }]);
  const r = await inspectKernTgz(suid);
  assert.ok(r.warnings.includes('kern-suid.tgz: /lib/modules/2.6.29-obs600/helper is setuid root (mode 4755)'), r.warnings.join('\n'));
});

test('rootfs: an entry written through an earlier symlink is refused; relative links above / stay allowed there', async () => {
  const v = await standinDir({
    extraRootfsEntries: [
      { name: './etc/cron.d', type: 'symlink', linkname: '/tmp/elsewhere' },
      { name: './etc/cron.d/evil', content: '* * * * * root sh\n' },
    ],
  });
  cleanups.push(v.cleanup);
  await assert.rejects(inspectRootfs(v.rootfs), /entry "\.\/etc\/cron\.d\/evil \(through the symlink etc\/cron\.d -> \/tmp\/elsewhere\)" escapes the archive root/);
});
