import { access, readFile, readdir, realpath, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../util/errors.js';

/**
 * What the kernel says about a block device, read from sysfs, /proc and udev's database.
 * Nothing here opens the device itself: describing a disk must be harmless for any disk.
 */

/** Where the kernel's views live; tests point these at a fake tree. */
export interface SystemView {
  sysRoot: string;
  mountinfo: string;
  swaps: string;
  udevData: string;
}

export const realSystem: SystemView = {
  sysRoot: '/sys',
  mountinfo: '/proc/self/mountinfo',
  swaps: '/proc/swaps',
  udevData: '/run/udev/data',
};

/** A mounted filesystem (or active swap) that lives on the disk, directly or through dm/md. */
export interface MountUse {
  source: string;
  mountpoint: string;
  /** kernel name of the device it sits on: sdb1, dm-0, loop3 */
  device: string;
}

export interface BlockDeviceInfo {
  /** the path the user gave */
  path: string;
  /** kernel name: sdb, sdb1, loop3 */
  name: string;
  major: number;
  minor: number;
  isPartition: boolean;
  /** kernel name of the whole disk (the device itself when it is one) */
  disk: string;
  removable: boolean;
  usb: boolean;
  /** the kernel marks it read-only (a stick's write-protect switch, a CD) */
  readOnly: boolean;
  /** bytes */
  size: number;
  logicalBlockSize: number;
  vendor?: string;
  model?: string;
  serial?: string;
  /** loop devices: the file behind them */
  backingFile?: string;
  /** mounted filesystems and swap on this disk, its partitions or anything stacked on them */
  mounts: MountUse[];
  /** dm/md devices stacked on the disk or its partitions (in use even when nothing is mounted) */
  holders: string[];
  /** devices written along with the target under another name (loop aliases, the disks under a stacked target) */
  aliases: DeviceAlias[];
}

export interface DeviceAlias {
  /** kernel name */
  name: string;
  /** how it aliases the target, one clause */
  why: string;
  /** "MAJ:MIN" */
  dev?: string;
  /** a whole disk of its own: the flash holds it exclusively too, which fails while anything (a mount in any namespace) holds it */
  peer: boolean;
}

async function readText(file: string): Promise<string | undefined> {
  try {
    return (await readFile(file, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

// Not fs-extra's pathExists: loading fs-extra costs ~30 ms, and flash's start-up is part of its wall time.
async function pathExists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return await readdir(dir);
  } catch {
    return [];
  }
}

/** The device's directory under /sys/devices (for a partition: inside its disk's directory). */
async function sysDeviceDir(sys: SystemView, major: number, minor: number): Promise<string | undefined> {
  try {
    return await realpath(path.join(sys.sysRoot, 'dev', 'block', `${major}:${minor}`));
  } catch {
    return undefined;
  }
}

async function sysDirByName(sys: SystemView, name: string): Promise<string | undefined> {
  try {
    return await realpath(path.join(sys.sysRoot, 'class', 'block', name));
  } catch {
    return undefined;
  }
}

function parseDevNumber(text: string | undefined): [number, number] | undefined {
  const m = /^(\d+):(\d+)$/.exec(text ?? '');
  return m ? [Number(m[1]), Number(m[2])] : undefined;
}

/** /proc/self/mountinfo escapes spaces and friends as \ooo. */
function unescapeMountField(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
}

export interface MountEntry {
  major: number;
  minor: number;
  mountpoint: string;
  fstype: string;
  source: string;
}

export function parseMountinfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    const [left, right] = line.split(' - ');
    if (right === undefined) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    const dev = parseDevNumber(l[2]);
    if (!dev || l[4] === undefined) continue;
    entries.push({ major: dev[0], minor: dev[1], mountpoint: unescapeMountField(l[4]), fstype: r[0] ?? '', source: unescapeMountField(r[1] ?? '') });
  }
  return entries;
}

/** "MAJ:MIN" of a block device node, undefined for anything else (a swap file). */
async function blockDeviceNumber(file: string): Promise<string | undefined> {
  try {
    const st = await stat(file);
    return st.isBlockDevice() ? devNumbers(st.rdev).join(':') : undefined;
  } catch {
    return undefined;
  }
}

function parseSwaps(text: string): string[] {
  return text
    .split('\n')
    .slice(1)
    .map((l) => l.split(/\s+/)[0])
    .filter((f): f is string => !!f && f.startsWith('/'))
    .map(unescapeMountField);
}

/** The serial number: udev's ID_SERIAL_SHORT when udev runs, else the USB/MMC/NVMe device's own `serial`. */
async function readSerial(sys: SystemView, diskDir: string, major: number, minor: number): Promise<string | undefined> {
  const udev = await readText(path.join(sys.udevData, `b${major}:${minor}`));
  const fromUdev = udev?.split('\n').find((l) => l.startsWith('E:ID_SERIAL_SHORT='));
  if (fromUdev) return fromUdev.slice('E:ID_SERIAL_SHORT='.length).trim() || undefined;
  let dir: string;
  try {
    dir = await realpath(path.join(diskDir, 'device'));
  } catch {
    return undefined;
  }
  const stop = path.join(sys.sysRoot, 'devices');
  // Walk up from the disk's device (a SCSI LUN for USB sticks) to the USB device that owns it.
  while (dir.startsWith(stop + path.sep)) {
    const serial = await readText(path.join(dir, 'serial'));
    if (serial) return serial;
    dir = path.dirname(dir);
  }
  return undefined;
}

/**
 * Every device whose contents change when the target is written: the disk, its partitions, the
 * dm/md devices stacked on any of them (holders, transitively), the disks under a stacked target
 * (slaves), and for loop devices the aliases a device name hides: other loop devices on the same
 * backing file, loop devices backed by one of these devices, and the device behind a loop device.
 * Each of those brings its own partitions and holders. Keyed by kernel name.
 */
interface AliasDevice {
  dev?: string;
  dmName?: string;
  /** stacked on the disk (dm, md), as opposed to the disk itself or one of its partitions */
  stacked: boolean;
  /** how it aliases the target, for devices reached through a loop device or a slave; shown to the user */
  why?: string;
  /** a whole disk that is a different device for the kernel: held by a mount or another program only shows in an exclusive open */
  peer: boolean;
}

/** A loop device's backing file, identified by inode (a path may be a hard link or a renamed file). */
interface LoopBacking {
  name: string;
  dir: string;
  file: string;
  /** "dev:ino" of a regular file, or "block:MAJ:MIN" of a block device; the path when it cannot be stat'ed (deleted) */
  key: string;
}

async function loopBackings(sys: SystemView): Promise<LoopBacking[]> {
  const out: LoopBacking[] = [];
  for (const name of await listDir(path.join(sys.sysRoot, 'block'))) {
    if (!name.startsWith('loop')) continue;
    const file = await readText(path.join(sys.sysRoot, 'block', name, 'loop', 'backing_file'));
    const dir = file && (await sysDirByName(sys, name));
    if (!file || !dir) continue;
    let key = `path:${file.replace(/ \(deleted\)$/, '')}`;
    try {
      const st = await stat(file);
      key = st.isBlockDevice() ? `block:${devNumbers(st.rdev).join(':')}` : `${st.dev}:${st.ino}`;
    } catch {
      // deleted or not visible here: fall back to comparing paths, which errs towards refusing
    }
    out.push({ name, dir, file, key });
  }
  return out;
}

async function aliasesOf(sys: SystemView, targetDir: string): Promise<Map<string, AliasDevice>> {
  const found = new Map<string, AliasDevice>();
  const loops = await loopBackings(sys);
  const queue: { dir: string; stacked: boolean; peer: boolean; why?: string }[] = [{ dir: targetDir, stacked: false, peer: false }];
  const wholeDiskDir = async (dir: string): Promise<string> => ((await pathExists(path.join(dir, 'partition'))) ? path.dirname(dir) : dir);
  while (queue.length > 0) {
    const { dir, stacked, peer, why } = queue.shift()!;
    const name = path.basename(dir);
    if (found.has(name)) continue;
    const dev = await readText(path.join(dir, 'dev'));
    found.set(name, { dev, dmName: await readText(path.join(dir, 'dm', 'name')), stacked, peer, ...(why ? { why } : {}) });
    // Partitions keep the reason their disk was reached by.
    for (const entry of await listDir(dir)) {
      if (await pathExists(path.join(dir, entry, 'partition'))) queue.push({ dir: path.join(dir, entry), stacked, peer: false, why });
    }
    for (const holder of await listDir(path.join(dir, 'holders'))) {
      const hdir = await sysDirByName(sys, holder);
      if (hdir) queue.push({ dir: hdir, stacked: true, peer: false, why: why && `${holder} is stacked on ${name}, and ${why}` });
    }
    // Writing a stacked device writes the disks under it; anything else on those disks is hit too.
    for (const slave of await listDir(path.join(dir, 'slaves'))) {
      const sdir = await sysDirByName(sys, slave);
      if (!sdir) continue;
      const disk = await wholeDiskDir(sdir);
      queue.push({ dir: disk, stacked: false, peer: false, why: `writing ${name} writes ${slave}, on disk ${path.basename(disk)}` });
    }
    const own = loops.find((l) => l.name === name);
    for (const l of loops) {
      if (l.name === name) continue;
      if (own && l.key === own.key) {
        queue.push({ dir: l.dir, stacked: false, peer: true, why: `${l.name} is a loop device on the same backing file as ${name} (${own.file})` });
      } else if (dev && l.key === `block:${dev}`) {
        queue.push({ dir: l.dir, stacked: false, peer: true, why: `${l.name} is a loop device on ${name}` });
      }
    }
    if (own?.key.startsWith('block:')) {
      const bdir = await sysDeviceDir(sys, ...(parseDevNumber(own.key.slice('block:'.length)) ?? [0, 0]));
      if (bdir) queue.push({ dir: await wholeDiskDir(bdir), stacked: false, peer: true, why: `${name} is a loop device on ${own.file}` });
    }
  }
  return found;
}

/** Describes the block device with these numbers from sysfs alone (no device is opened). */
export async function describeBlockDevice(devicePath: string, major: number, minor: number, sys: SystemView = realSystem): Promise<BlockDeviceInfo> {
  const dir = await sysDeviceDir(sys, major, minor);
  if (!dir) throw new UserError(`${devicePath}: the kernel does not list block device ${major}:${minor} in ${sys.sysRoot}/dev/block`, { code: 'target-refused' });
  const name = path.basename(dir);
  const isPartition = await pathExists(path.join(dir, 'partition'));
  const diskDir = isPartition ? path.dirname(dir) : dir;
  const disk = path.basename(diskDir);
  const sectors = Number(await readText(path.join(dir, 'size')));
  const [diskMajor, diskMinor] = parseDevNumber(await readText(path.join(diskDir, 'dev'))) ?? [major, minor];

  const onDisk = await aliasesOf(sys, diskDir);
  const byNumber = new Map<string, string>();
  const dmNames = new Map<string, string>();
  for (const [kname, d] of onDisk) {
    if (d.dev) byNumber.set(d.dev, kname);
    if (d.dmName) dmNames.set(d.dmName, kname);
  }
  // Only filesystems with anonymous device numbers (major 0: btrfs) are matched by their source's
  // name (/dev/sdb1, /dev/mapper/x); everything else by number, which no alias can hide.
  const deviceOfSource = (source: string): string | undefined => {
    if (!source.startsWith('/dev/')) return undefined;
    const base = path.basename(source);
    if (source.startsWith('/dev/mapper/')) return dmNames.get(base);
    return onDisk.has(base) ? base : undefined;
  };
  const mounts: MountUse[] = [];
  for (const m of parseMountinfo((await readText(sys.mountinfo)) ?? '')) {
    const device = byNumber.get(`${m.major}:${m.minor}`) ?? (m.major === 0 ? deviceOfSource(m.source) : undefined);
    if (device) mounts.push({ source: m.source, mountpoint: m.mountpoint, device });
  }
  for (const swap of parseSwaps((await readText(sys.swaps)) ?? '')) {
    const device = (await blockDeviceNumber(swap).then((n) => n && byNumber.get(n))) ?? deviceOfSource(swap);
    if (device) mounts.push({ source: swap, mountpoint: '[swap]', device });
  }
  const holders = [...onDisk].filter(([, d]) => d.stacked).map(([kname]) => kname);
  const aliases = [...onDisk].filter(([, d]) => d.why !== undefined).map(([kname, d]) => ({ name: kname, why: d.why!, peer: d.peer, ...(d.dev ? { dev: d.dev } : {}) }));

  const lbs = Number(await readText(path.join(diskDir, 'queue', 'logical_block_size')));
  return {
    path: devicePath,
    name,
    major,
    minor,
    isPartition,
    disk,
    removable: (await readText(path.join(diskDir, 'removable'))) === '1',
    usb: diskDir.includes('/usb'),
    readOnly: (await readText(path.join(dir, 'ro'))) === '1' || (await readText(path.join(diskDir, 'ro'))) === '1',
    size: Number.isFinite(sectors) ? sectors * 512 : 0,
    logicalBlockSize: Number.isFinite(lbs) && lbs > 0 ? lbs : 512,
    vendor: (await readText(path.join(diskDir, 'device', 'vendor'))) || undefined,
    model: (await readText(path.join(diskDir, 'device', 'model'))) || (await readText(path.join(diskDir, 'device', 'name'))) || undefined,
    serial: await readSerial(sys, diskDir, diskMajor, diskMinor),
    backingFile: (await readText(path.join(diskDir, 'loop', 'backing_file'))) || undefined,
    mounts,
    holders,
    aliases,
  };
}

/**
 * Describes the target path: must exist (nothing is ever created in /dev) and be a block device.
 * Symlinks such as /dev/disk/by-id/usb-… are followed.
 */
export async function describeTarget(devicePath: string, sys: SystemView = realSystem): Promise<BlockDeviceInfo> {
  let st;
  try {
    st = await stat(devicePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UserError(`${devicePath}: ${code === 'ENOENT' ? 'no such device' : (err as Error).message}; nothing was written`, { code: 'target-refused', cause: err });
  }
  if (!st.isBlockDevice()) {
    throw new UserError(`${devicePath}: not a block device (${st.isFile() ? 'a regular file' : st.isDirectory() ? 'a directory' : 'not a disk'}); nothing was written`, { code: 'target-refused' });
  }
  const [major, minor] = devNumbers(st.rdev);
  return describeBlockDevice(devicePath, major, minor, sys);
}

/** Linux's dev_t encoding (glibc gnu_dev_major/minor). */
export function devNumbers(rdev: number): [number, number] {
  const r = BigInt(rdev);
  const major = Number(((r >> 8n) & 0xfffn) | ((r >> 32n) & ~0xfffn));
  const minor = Number((r & 0xffn) | ((r >> 12n) & ~0xffn));
  return [major, minor];
}

/** Whole disks that look like USB sticks or card readers (removable or on USB), for `flash --list`. */
export async function listCandidates(sys: SystemView = realSystem): Promise<BlockDeviceInfo[]> {
  const out: BlockDeviceInfo[] = [];
  for (const name of (await listDir(path.join(sys.sysRoot, 'block'))).sort()) {
    const dev = parseDevNumber(await readText(path.join(sys.sysRoot, 'block', name, 'dev')));
    if (!dev) continue;
    const info = await describeBlockDevice(`/dev/${name}`, dev[0], dev[1], sys);
    if ((info.removable || info.usb) && info.size > 0) out.push(info);
  }
  return out;
}

export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = bytes;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(1)} ${units[u]}`;
}

/** One line a user can recognise their stick by. */
export function describeForHumans(d: BlockDeviceInfo): string {
  const what = [d.vendor, d.model].filter(Boolean).join(' ') || (d.backingFile ? `loop device on ${d.backingFile}` : 'unknown model');
  const bus = d.usb ? 'USB' : d.removable ? 'removable' : 'fixed';
  return `${d.path} (${d.name}): ${what}, serial ${d.serial ?? 'none'}, ${formatSize(d.size)} (${d.size} bytes), ${bus}`;
}
