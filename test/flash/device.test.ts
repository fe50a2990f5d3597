import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describeBlockDevice, describeTarget, listCandidates, parseMountinfo, realSystem, type SystemView } from '../../src/flash/device.js';
import { refusals } from '../../src/flash/safety.js';
import { attachLoop, detachLoop, MiB, removeDir, tempDir } from './helpers.js';
import { execa } from 'execa';

/**
 * A fake /sys with a USB stick (sdb, serial on its USB device) whose partition carries a
 * device-mapper volume, and a fixed virtio disk (vda) holding /.
 */
async function fakeSystem(root: string, opts: { mountinfo: string; swaps?: string; udev?: Record<string, string> }): Promise<SystemView> {
  const sys = path.join(root, 'sys');
  const file = async (p: string, content: string) => {
    await mkdir(path.dirname(p), { recursive: true });
    await writeFile(p, `${content}\n`);
  };
  const link = async (target: string, p: string) => {
    await mkdir(path.dirname(p), { recursive: true });
    await symlink(target, p);
  };
  const usbDev = path.join(sys, 'devices/pci0000:00/0000:00:14.0/usb1/1-1');
  const lun = path.join(usbDev, '1-1:1.0/host6/target6:0:0/6:0:0:0');
  const sdb = path.join(lun, 'block/sdb');
  await file(path.join(usbDev, 'serial'), 'USBSERIAL1');
  await file(path.join(usbDev, 'idVendor'), '0781');
  await file(path.join(lun, 'vendor'), 'SanDisk ');
  await file(path.join(lun, 'model'), 'Cruzer Blade    ');
  await file(path.join(sdb, 'dev'), '8:16');
  await file(path.join(sdb, 'size'), String((1024 * MiB) / 512));
  await file(path.join(sdb, 'removable'), '1');
  await file(path.join(sdb, 'queue/logical_block_size'), '512');
  await link(lun, path.join(sdb, 'device'));
  await file(path.join(sdb, 'sdb1/dev'), '8:17');
  await file(path.join(sdb, 'sdb1/partition'), '1');
  await file(path.join(sdb, 'sdb1/size'), String((1000 * MiB) / 512));
  await file(path.join(sdb, 'sdb2/dev'), '8:18');
  await file(path.join(sdb, 'sdb2/partition'), '2');
  await file(path.join(sdb, 'sdb2/size'), String((20 * MiB) / 512));
  await mkdir(path.join(sdb, 'sdb1/holders'), { recursive: true });
  await symlink(path.join(sys, 'devices/virtual/block/dm-0'), path.join(sdb, 'sdb1/holders/dm-0'));
  const dm0 = path.join(sys, 'devices/virtual/block/dm-0');
  await mkdir(path.join(dm0, 'slaves'), { recursive: true });
  await symlink(path.join(sdb, 'sdb1'), path.join(dm0, 'slaves/sdb1'));
  await file(path.join(dm0, 'dev'), '253:0');
  await file(path.join(dm0, 'size'), String((1000 * MiB) / 512));
  await file(path.join(dm0, 'dm/name'), 'cryptdata');
  await file(path.join(dm0, 'removable'), '0');
  const vda = path.join(sys, 'devices/pci0000:00/0000:00:05.0/virtio2/block/vda');
  await file(path.join(vda, 'dev'), '254:0');
  await file(path.join(vda, 'size'), String((256 * 1024 * MiB) / 512));
  await file(path.join(vda, 'removable'), '0');
  for (const [name, dir, dev] of [
    ['sdb', sdb, '8:16'],
    ['sdb1', path.join(sdb, 'sdb1'), '8:17'],
    ['sdb2', path.join(sdb, 'sdb2'), '8:18'],
    ['dm-0', dm0, '253:0'],
    ['vda', vda, '254:0'],
  ]) {
    await link(dir, path.join(sys, 'class/block', name));
    await link(dir, path.join(sys, 'dev/block', dev));
    if (!/^sdb\d/.test(name)) await link(dir, path.join(sys, 'block', name));
  }
  const udevData = path.join(root, 'udev');
  await mkdir(udevData, { recursive: true });
  for (const [k, v] of Object.entries(opts.udev ?? {})) await writeFile(path.join(udevData, k), v);
  await file(path.join(root, 'mountinfo'), opts.mountinfo);
  await file(path.join(root, 'swaps'), opts.swaps ?? 'Filename\tType\tSize\tUsed\tPriority');
  return { sysRoot: sys, mountinfo: path.join(root, 'mountinfo'), swaps: path.join(root, 'swaps'), udevData };
}

const ROOT_ON_VDA = '27 1 254:0 / / rw,relatime - ext4 /dev/vda rw';
const DATA_ON_DM = '41 27 253:0 / /mnt/my\\040data rw,relatime - ext4 /dev/mapper/cryptdata rw';

test('a USB stick is described from sysfs: whole disk, removable, USB, size, vendor, model, serial', async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, { mountinfo: ROOT_ON_VDA });
    const d = await describeBlockDevice('/dev/sdb', 8, 16, sys);
    assert.equal(d.name, 'sdb');
    assert.equal(d.isPartition, false);
    assert.equal(d.removable, true);
    assert.equal(d.usb, true);
    assert.equal(d.size, 1024 * MiB);
    assert.equal(d.vendor, 'SanDisk');
    assert.equal(d.model, 'Cruzer Blade');
    assert.equal(d.serial, 'USBSERIAL1');
    assert.deepEqual(d.mounts, []);
    // the partition carries an (unmounted) dm volume: still in use
    assert.deepEqual(d.holders, ['dm-0']);
    const p = await describeBlockDevice('/dev/sdb1', 8, 17, sys);
    assert.equal(p.isPartition, true);
    assert.equal(p.disk, 'sdb');
  } finally {
    await removeDir(root);
  }
});

test("udev's ID_SERIAL_SHORT is preferred when udev has a record", async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, { mountinfo: ROOT_ON_VDA, udev: { 'b8:16': 'S:disk/by-id/usb-x\nE:ID_SERIAL_SHORT=4C530001231120115142\nE:ID_BUS=usb\n' } });
    assert.equal((await describeBlockDevice('/dev/sdb', 8, 16, sys)).serial, '4C530001231120115142');
  } finally {
    await removeDir(root);
  }
});

test('a filesystem mounted through a dm volume on a partition makes the disk in use, even with --force-unsafe-target', async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, { mountinfo: `${ROOT_ON_VDA}\n${DATA_ON_DM}` });
    const d = await describeBlockDevice('/dev/sdb', 8, 16, sys);
    assert.deepEqual(d.mounts, [{ source: '/dev/mapper/cryptdata', mountpoint: '/mnt/my data', device: 'dm-0' }]);
    const r = refusals(d, { imageSize: 64 * MiB, forceUnsafeTarget: true });
    assert.ok(r.some((l) => /holds mounted filesystems \(\/dev\/mapper\/cryptdata on \/mnt\/my data\)/.test(l)), r.join('\n'));
  } finally {
    await removeDir(root);
  }
});

test('a stacked target is in use when anything else on the disks under it is mounted (its slaves, followed by number)', async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, { mountinfo: `${ROOT_ON_VDA}\n60 27 8:18 / /mnt/other rw - ext4 /dev/disk/by-label/OTHER rw` });
    const d = await describeBlockDevice('/dev/dm-0', 253, 0, sys);
    assert.deepEqual(d.mounts, [{ source: '/dev/disk/by-label/OTHER', mountpoint: '/mnt/other', device: 'sdb2' }]);
    const r = refusals(d, { imageSize: MiB, forceUnsafeTarget: true });
    assert.ok(
      r.some((l) => l === '/dev/dm-0 holds mounted filesystems (/dev/disk/by-label/OTHER on /mnt/other, where writing dm-0 writes sdb1, on disk sdb): unmount them first'),
      r.join('\n'),
    );
    // the disk under it is not reported as a holder of the target
    assert.deepEqual(d.holders, []);
  } finally {
    await removeDir(root);
  }
});

test('a mount is matched by device number, not by the name its source shows', async () => {
  const root = await tempDir();
  try {
    // /dev/sdb1 by name, but the kernel says 254:0 (vda): not the stick's
    const sys = await fakeSystem(root, { mountinfo: `${ROOT_ON_VDA}\n61 27 254:0 / /mnt/x rw - ext4 /dev/sdb1 rw` });
    assert.deepEqual((await describeBlockDevice('/dev/sdb', 8, 16, sys)).mounts, []);
  } finally {
    await removeDir(root);
  }
});

test('a btrfs-style anonymous device number is matched by its source, and active swap counts as in use', async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, {
      mountinfo: `${ROOT_ON_VDA}\n50 27 0:45 / /srv rw - btrfs /dev/sdb1 rw`,
      swaps: 'Filename\tType\tSize\tUsed\tPriority\n/dev/sdb1 partition 1000 0 -2',
    });
    const d = await describeBlockDevice('/dev/sdb', 8, 16, sys);
    assert.deepEqual(
      d.mounts.map((m) => m.mountpoint),
      ['/srv', '[swap]'],
    );
  } finally {
    await removeDir(root);
  }
});

test('a write-protected stick is refused', async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, { mountinfo: ROOT_ON_VDA });
    const stick = path.join(sys.sysRoot, 'class/block/sdb');
    assert.deepEqual(refusals(await describeBlockDevice('/dev/sdb', 8, 16, sys), { imageSize: 64 * MiB }).filter((l) => /read-only/.test(l)), []);
    await writeFile(path.join(stick, 'ro'), '1\n');
    const d = await describeBlockDevice('/dev/sdb', 8, 16, sys);
    assert.equal(d.readOnly, true);
    assert.ok(refusals(d, { imageSize: 64 * MiB }).some((l) => /read-only/.test(l)));
  } finally {
    await removeDir(root);
  }
});

test('the disk of / is refused whatever the flags', async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, { mountinfo: ROOT_ON_VDA });
    const d = await describeBlockDevice('/dev/vda', 254, 0, sys);
    assert.equal(d.removable, false);
    assert.equal(d.usb, false);
    const r = refusals(d, { imageSize: 64 * MiB, forceUnsafeTarget: true });
    assert.ok(r.some((l) => /is the disk of \//.test(l)), r.join('\n'));
  } finally {
    await removeDir(root);
  }
});

test('--list candidates are the removable or USB disks only', async () => {
  const root = await tempDir();
  try {
    const sys = await fakeSystem(root, { mountinfo: ROOT_ON_VDA });
    assert.deepEqual(
      (await listCandidates(sys)).map((d) => d.name),
      ['sdb'],
    );
  } finally {
    await removeDir(root);
  }
});

test('mountinfo parsing unescapes mount points and keeps the source', () => {
  const [m] = parseMountinfo('36 35 98:0 /mnt1 /mnt/a\\040b rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n');
  assert.deepEqual(m, { major: 98, minor: 0, mountpoint: '/mnt/a b', fstype: 'ext3', source: '/dev/root' });
});

test('the real disk holding / on this machine is refused even with --force-unsafe-target (sysfs only, never opened)', async (t) => {
  const rootMount = parseMountinfo(await readFile('/proc/self/mountinfo', 'utf8')).find((m) => m.mountpoint === '/');
  let d;
  try {
    d = rootMount && (await describeBlockDevice('(root)', rootMount.major, rootMount.minor, realSystem));
  } catch {
    d = undefined;
  }
  if (!d) return t.skip('/ is not on a block device here (container or overlay)');
  const r = refusals(d, { imageSize: 0, forceUnsafeTarget: true });
  assert.ok(r.some((l) => /disk of \//.test(l)), r.join('\n'));
});

test('a real loop device is described as a fixed whole disk with its backing file and size', async () => {
  const dir = await tempDir();
  let dev: string | undefined;
  try {
    const backing = path.join(dir, 'disk.img');
    await execa('truncate', ['-s', String(12 * MiB), backing]);
    dev = await attachLoop(backing);
    const d = await describeTarget(dev);
    assert.equal(d.name, path.basename(dev));
    assert.equal(d.isPartition, false);
    assert.equal(d.removable, false);
    assert.equal(d.usb, false);
    assert.equal(d.size, 12 * MiB);
    assert.equal(d.backingFile, backing);
    assert.deepEqual(d.mounts, []);
    assert.deepEqual(refusals(d, { imageSize: 12 * MiB, forceUnsafeTarget: true }), []);
    assert.match(refusals(d, { imageSize: 12 * MiB })[0], /neither removable nor on USB/);
  } finally {
    await detachLoop(dev);
    await removeDir(dir);
  }
});
