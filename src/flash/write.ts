import { constants } from 'node:fs';
import { open, stat, type FileHandle } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { UserError } from '../util/errors.js';
import { mappedBytes, uncovered, type BlockMap, type BlockRange } from './bmap.js';
import { devNumbers, type BlockDeviceInfo, type DeviceAlias } from './device.js';
import { recheckIdentity } from './safety.js';
import { identityOf, sameImage, type ImageIdentity } from './image-identity.js';

/**
 * The sparse write: only the image's mapped ranges go to the device, old partition-table and
 * filesystem signatures are cleared, then everything written is read back from the device and
 * compared with the block map's sha256.
 *
 * Signature clearing: the first 512 KiB and the last 256 KiB of the device are where partition
 * tables (MBR, GPT and its backup in the last 17 KiB), RAID superblocks (md 0.90/1.0 in the last
 * 128 KiB, 1.1/1.2 at the start), filesystem, ISO and LVM labels (all within the first 68 KiB) and
 * ZFS labels L0, L1 and L3 live. The parts of those zones the image does not map are made zero;
 * blocks there that already read as zero are not rewritten, which spares the stick's flash. The
 * zones are sized so that even a stick full of junk costs at most 768 KiB beyond the image's used
 * ranges (the budget is 1 MiB); ZFS's L2 label (end − 512 KiB) is the one signature left.
 *
 * The partition table goes last: the image's first block (the MBR) is zeroed on the stick before any image
 * data is written and written only after everything else is on the stick and synced. A stick left by an
 * interrupt, a write error or a failed check therefore has no partition table: the firmware finds nothing to
 * boot, instead of an old or new table pointing at half-written data.
 */

/** Large sequential chunks: a USB stick's erase blocks are 1–4 MiB. */
export const CHUNK = 4 * 1024 * 1024;
export const HEAD_CLEAR_ZONE = 512 * 1024;
export const TAIL_CLEAR_ZONE = 256 * 1024;
/** Granularity of the "already zero?" test in the clear zones. */
const CLEAR_BLOCK = 4096;
/** The image's first block, held back until the rest is synced: it holds the MBR. */
const PARTITION_TABLE_BLOCK = 4096;

export type FlashPhase = 'clearing signatures' | 'writing' | 'syncing' | 'verifying';

export interface FlashProgress {
  phase: FlashPhase;
  done: number;
  total: number;
}

export interface FlashOptions {
  image: string;
  /** the map as checkImage returned it: every range's sha256 set, checked against the image */
  map: BlockMap;
  /** the image file as checkImage saw it: the flash refuses to write a file that differs from it */
  identity: ImageIdentity;
  target: BlockDeviceInfo;
  onProgress?: (p: FlashProgress) => void;
  /** test seam: runs after a target's data is synced, before its read-back (e.g. to damage the medium) */
  afterSync?: (device: string) => Promise<void>;
  /** aborted (by SIGINT/SIGTERM): stop at the next chunk and reject with FlashInterrupted */
  signal?: AbortSignal;
}

/** The flash stopped on request; `phase` tells whether the device may hold a half-written image. */
export class FlashInterrupted extends Error {
  constructor(
    readonly phase: FlashPhase,
    readonly reason: unknown,
  ) {
    super(`flash interrupted while ${phase}`);
    this.name = 'FlashInterrupted';
  }
}

export interface FlashReport {
  image: string;
  device: string;
  imageSize: number;
  deviceSize: number;
  ranges: number;
  mappedBytes: number;
  clearedBytes: number;
  /** mapped + cleared + the first block's zeroing before the write: everything this run wrote to the device */
  bytesWritten: number;
  verifiedBytes: number;
  partitionTableReread: 'ok' | 'not supported by this device' | string;
  /** write includes opening, identity checks and clearing signatures */
  seconds: { write: number; sync: number; verify: number; total: number };
}

export async function readFully(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesRead } = await fh.read(buf, done, length - done, position + done);
    if (bytesRead === 0) throw new UserError(`unexpected end of data at byte ${position + done}`, { code: 'input-invalid' });
    done += bytesRead;
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, length: number, position: number): Promise<void> {
  let done = 0;
  while (done < length) {
    const { bytesWritten } = await fh.write(buf, done, length - done, position + done);
    done += bytesWritten;
  }
}

/** Splits a range into CHUNK-sized pieces (ranges are block aligned, so the pieces are too). */
function* chunksOf(r: { start: number; length: number }): Generator<{ start: number; length: number }> {
  for (let off = 0; off < r.length; off += CHUNK) yield { start: r.start + off, length: Math.min(CHUNK, r.length - off) };
}

interface Chunk {
  start: number;
  length: number;
  rangeIndex: number;
  lastOfRange: boolean;
}

/**
 * Reads the ranges of `fh` in chunks and calls `each` per chunk, with the read of the next chunk
 * already in flight: hashing (main thread) and writing (thread pool) overlap the reading. Two
 * buffers: a buffer is refilled only after the `each` that used it has finished.
 */
export async function streamRanges(
  fh: FileHandle,
  ranges: readonly { start: number; length: number }[],
  each: (buf: Buffer, c: Chunk) => Promise<void> | void,
): Promise<void> {
  const chunks: Chunk[] = [];
  ranges.forEach((r, rangeIndex) => {
    for (const c of chunksOf(r)) chunks.push({ ...c, rangeIndex, lastOfRange: c.start + c.length === r.start + r.length });
  });
  if (chunks.length === 0) return;
  const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
  let reading = readFully(fh, bufs[0], chunks[0].length, chunks[0].start);
  let pending: Promise<void> | undefined;
  try {
    for (let k = 0; k < chunks.length; k++) {
      await reading;
      await pending;
      const next = chunks[k + 1];
      if (next) reading = readFully(fh, bufs[(k + 1) % 2], next.length, next.start);
      pending = Promise.resolve(each(bufs[k % 2], chunks[k]));
      // awaited on the next turn, after the read: until then a failed write must not count as unhandled (which ends the process)
      pending.catch(() => undefined);
    }
    await pending;
  } finally {
    // never leave a read running on a handle the caller is about to close
    await reading.catch(() => undefined);
  }
}

export function describeRange(r: { start: number; length: number }): string {
  return `offset ${r.start}, length ${r.length} (bytes ${r.start}–${r.start + r.length - 1})`;
}

/** The unmapped parts of the device's first HEAD_CLEAR_ZONE and last TAIL_CLEAR_ZONE bytes. */
export function clearZones(deviceSize: number, ranges: readonly BlockRange[]): { start: number; length: number }[] {
  const head = Math.min(HEAD_CLEAR_ZONE, deviceSize);
  const tailStart = Math.max(head, deviceSize - TAIL_CLEAR_ZONE);
  return [...uncovered(0, head, ranges), ...uncovered(tailStart, deviceSize, ranges)];
}

/** Zeroes the blocks of the zones that are not zero yet; returns what it wrote. */
async function clearSignatures(dev: FileHandle, zones: { start: number; length: number }[], stopIfAsked: () => void): Promise<{ start: number; length: number }[]> {
  const zero = Buffer.alloc(CHUNK);
  const buf = Buffer.alloc(CHUNK);
  const dirty: { start: number; length: number }[] = [];
  for (const z of zones) {
    for (const c of chunksOf(z)) {
      await readFully(dev, buf, c.length, c.start);
      for (let off = 0; off < c.length; off += CLEAR_BLOCK) {
        const len = Math.min(CLEAR_BLOCK, c.length - off);
        if (buf.subarray(off, off + len).equals(zero.subarray(0, len))) continue;
        const last = dirty[dirty.length - 1];
        if (last && last.start + last.length === c.start + off) last.length += len;
        else dirty.push({ start: c.start + off, length: len });
      }
    }
  }
  for (const d of dirty) {
    for (const c of chunksOf(d)) {
      stopIfAsked();
      await writeFully(dev, zero, c.length, c.start);
    }
  }
  return dirty;
}

/** Runs blockdev (util-linux); resolves with its exit code and stderr, never rejects on a non-zero exit. */
function blockdev(args: string[]): Promise<{ exitCode: number; stderr: string }> {
  return new Promise((resolve) => {
    execFile('blockdev', args, (err, _stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : 127) : 0;
      resolve({ exitCode: code, stderr: String(stderr) || (err && !stderr ? err.message : '') });
    });
  });
}

/** Drops the device's page cache so the read-back below comes from the device, not from memory. */
async function dropDeviceCache(devicePath: string): Promise<void> {
  const r = await blockdev(['--flushbufs', devicePath]);
  if (r.exitCode !== 0) throw new UserError(`${devicePath}: cannot flush the device cache for the read-back (${String(r.stderr).trim()})`, { code: 'tool-failed' });
}

/** BLKRRPART so the kernel sees the new partition; loop devices without partscan answer EINVAL. */
async function rereadPartitionTable(devicePath: string): Promise<string> {
  const r = await blockdev(['--rereadpt', devicePath]);
  if (r.exitCode === 0) return 'ok';
  const err = String(r.stderr).trim();
  if (/Invalid argument/i.test(err)) return 'not supported by this device';
  return `failed: ${err}`;
}

/**
 * Reads back the ranges from the device and compares them byte for byte with the image (checked against
 * the map's sha256 before the write, and held to that check's identity); the cleared blocks must read as
 * zero. A byte comparison instead of a hash keeps the read-back at the device's speed, and lets several
 * sticks be read back at once without hashing anything again. A difference names the range.
 */
export async function verifyRanges(
  dev: FileHandle,
  devicePath: string,
  ranges: readonly BlockRange[],
  cleared: readonly { start: number; length: number }[],
  onProgress: ((done: number) => void) | undefined,
  img: FileHandle,
  stopIfAsked: () => void = () => undefined,
): Promise<number> {
  let done = 0;
  const want = Buffer.allocUnsafe(CHUNK);
  await streamRanges(dev, ranges, async (buf, c) => {
    stopIfAsked();
    await readFully(img, want, c.length, c.start);
    if (!buf.subarray(0, c.length).equals(want.subarray(0, c.length))) {
      const bad = ranges[c.rangeIndex];
      throw new UserError(`verify failed: ${devicePath} differs from the image at ${describeRange(bad)}: the stick may be faulty or was changed during the write`, { code: 'verify-failed' });
    }
    done += c.length;
    onProgress?.(done);
  });
  const zero = Buffer.alloc(CHUNK);
  await streamRanges(dev, cleared, (buf, c) => {
    if (!buf.subarray(0, c.length).equals(zero.subarray(0, c.length))) {
      throw new UserError(`verify failed: ${devicePath} is not zero at ${describeRange(c)} after clearing old signatures`, { code: 'verify-failed' });
    }
  });

  return done;
}

export async function openExclusive(devicePath: string, flags: number): Promise<FileHandle> {
  try {
    // (libuv adds O_CLOEXEC.) O_EXCL on a Linux block device: fails with EBUSY when it (or a partition) is mounted or claimed.
    return await open(devicePath, flags | constants.O_EXCL);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EBUSY') throw new UserError(`${devicePath} is busy (mounted, or opened exclusively by another program); nothing was written`, { code: 'target-refused', cause: err });
    throw new UserError(`${devicePath}: cannot open for writing (${(err as Error).message}); nothing was written`, { code: 'target-refused', cause: err });
  }
}

/** The device node of an alias, if this system has one that really is that device. */
async function aliasNode(alias: DeviceAlias): Promise<string | undefined> {
  for (const node of [`/dev/${alias.name}`, `/dev/block/${alias.dev}`]) {
    try {
      const st = await stat(node);
      if (st.isBlockDevice() && devNumbers(st.rdev).join(':') === alias.dev) return node;
    } catch {
      // no such node here (a container's /dev): try the next
    }
  }
  return undefined;
}

/**
 * Holds every other whole disk that aliases the target (a loop device on the same file, the disk
 * behind a loop device) exclusively until the flash ends. The open fails while one is mounted, in
 * any mount namespace, or claimed by another program, and while held nobody can mount it.
 */
async function holdAliases(target: BlockDeviceInfo): Promise<FileHandle[]> {
  const held: FileHandle[] = [];
  try {
    for (const alias of target.aliases) {
      if (!alias.peer || !alias.dev) continue;
      const node = await aliasNode(alias);
      if (!node) continue;
      try {
        held.push(await open(node, constants.O_RDONLY | constants.O_EXCL));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EBUSY') continue;
        throw new UserError(
          `${target.path}: ${node} is busy (mounted, perhaps in another mount namespace, or opened exclusively by another program), ` +
            `where ${alias.why}; nothing was written`,
          { code: 'target-refused', cause: err },
        );
      }
    }
  } catch (err) {
    await Promise.all(held.map((h) => h.close()));
    throw err;
  }
  return held;
}

/** One target's fate in a multi-target flash: its report, or the error that stopped it (the others go on). */
export interface TargetOutcome {
  device: string;
  report?: FlashReport;
  error?: Error;
}

export interface MultiFlashOptions extends Omit<FlashOptions, 'target' | 'onProgress'> {
  targets: BlockDeviceInfo[];
  /** Progress of target `index` (the order of `targets`). */
  onProgress?: (index: number, p: FlashProgress) => void;
}

/** What the flash holds open for one target while it runs. */
interface Lane {
  index: number;
  target: BlockDeviceInfo;
  dev?: FileHandle;
  held: FileHandle[];
  cleared: { start: number; length: number }[];
  phase: FlashPhase;
  error?: Error;
  written: number;
  verified: number;
  /** performance.now() marks: start, write done, sync done, verify done */
  t: number[];
}

/**
 * Writes one image to several sticks at once: every target is opened, re-checked and cleared on its own;
 * the image is read once, each chunk going to every target still alive; then each target is synced and read
 * back on its own, in parallel. One target's failure (a write error, a read-back mismatch) is recorded in
 * its outcome and does not stop the others. An interrupt stops them all (FlashInterrupted).
 *
 * The image was hashed by checkImage and is not hashed again: it is opened once, refused before any device
 * is opened unless it is still the file that was checked, and compared again after the read-back, so a
 * change in place at any time in between fails every stick (the one image handle serves write and read-back).
 */
export async function flashImageToMany(opts: MultiFlashOptions): Promise<TargetOutcome[]> {
  const { image, map } = opts;
  const total = mappedBytes(map);
  const lanes: Lane[] = opts.targets.map((target, index) => ({ index, target, held: [], cleared: [], phase: 'clearing signatures', written: 0, verified: 0, t: [performance.now()] }));
  const progress = (lane: Lane, p: FlashPhase, done: number, of = total) => {
    lane.phase = p;
    opts.onProgress?.(lane.index, { phase: p, done, total: of });
  };
  const stopIfAsked = (lane: Lane): void => {
    if (opts.signal?.aborted) throw new FlashInterrupted(lane.phase, opts.signal.reason);
  };
  const alive = () => lanes.filter((l) => !l.error);
  const fail = (lane: Lane, err: unknown) => {
    if (err instanceof FlashInterrupted) throw err;
    lane.error = err instanceof Error ? err : new Error(String(err));
  };
  // Every lane's step runs to its end, so no handle is closed under a running read or write; an
  // interrupt is rethrown once all have stopped.
  const eachLane = async (work: (lane: Lane) => Promise<void>): Promise<void> => {
    const results = await Promise.allSettled(alive().map(async (lane) => {
      try {
        await work(lane);
      } catch (err) {
        fail(lane, err);
      }
    }));
    const interrupted = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (interrupted) throw interrupted.reason;
  };

  // checkImage makes the first range start at 0; a map that does not is written as it is
  const headLength = map.ranges[0]?.start === 0 ? Math.min(PARTITION_TABLE_BLOCK, map.ranges[0].length) : 0;
  const head = Buffer.alloc(headLength);

  const writeAndVerify = async (img: FileHandle): Promise<void> => {
    await eachLane(async (lane) => {
      lane.dev = await openExclusive(lane.target.path, constants.O_RDWR);
      await recheckIdentity(lane.dev, lane.target, 'before the write');
      lane.held = await holdAliases(lane.target);
      progress(lane, 'clearing signatures', 0, 0);
      lane.cleared = await clearSignatures(lane.dev, clearZones(lane.target.size, map.ranges), () => stopIfAsked(lane));
      await writeFully(lane.dev, head, headLength, 0); // still zeros here: the old partition table goes first
    });

    if (alive().length > 0) {
      for (const lane of alive()) progress(lane, 'writing', 0);
      await streamRanges(img, map.ranges, async (buf, c) => {
        const skip = c.start === 0 ? headLength : 0;
        if (skip > 0) buf.copy(head, 0, 0, skip);
        await eachLane(async (lane) => {
          stopIfAsked(lane);
          await writeFully(lane.dev!, buf.subarray(skip), c.length - skip, c.start + skip);
          lane.written += c.length;
          progress(lane, 'writing', lane.written);
        });
      });
    }
    for (const lane of alive()) lane.t.push(performance.now());

    await eachLane(async (lane) => {
      progress(lane, 'syncing', 0, 0);
      await lane.dev!.sync();
      // everything else is on the stick: now the partition table that makes it bootable
      stopIfAsked(lane);
      await writeFully(lane.dev!, head, headLength, 0);
      await lane.dev!.sync();
      await opts.afterSync?.(lane.target.path);
      await dropDeviceCache(lane.target.path);
      lane.t.push(performance.now());
      stopIfAsked(lane);
      // Verified before the partition table is re-read: once the kernel sees the new partition a
      // desktop may auto-mount it, and the exclusive hold we still have keeps that from happening.
      await recheckIdentity(lane.dev!, lane.target, 'before the read-back');
      progress(lane, 'verifying', 0);
      lane.verified = await verifyRanges(lane.dev!, lane.target.path, map.ranges, lane.cleared, (d) => progress(lane, 'verifying', d), img, () => stopIfAsked(lane));
      lane.t.push(performance.now());
    });
    // What was written and read back is the image as it is now; it must still be the image that was checked.
    if (!sameImage(opts.identity, await identityOf(img))) {
      for (const lane of alive()) {
        lane.error = new UserError(`${image} changed while it was being flashed (rebuilt or written to): ${lane.target.path} holds neither the checked image nor its old contents; run the command again`, { code: 'input-invalid' });
      }
    }
  };

  const img = await open(image, 'r');
  try {
    if (!sameImage(opts.identity, await identityOf(img))) {
      throw new UserError(`${image} changed after it was checked (rebuilt or written to); nothing was written; run the command again`, { code: 'input-invalid' });
    }
    await writeAndVerify(img);
  } finally {
    for (const lane of lanes) {
      await Promise.all(lane.held.map((h) => h.close()));
      await lane.dev?.close();
    }
    await img.close();
  }

  const s = (a: number, b: number) => Math.round(b - a) / 1000;
  const outcomes: TargetOutcome[] = [];
  for (const lane of lanes) {
    if (lane.error) {
      outcomes.push({ device: lane.target.path, error: lane.error });
      continue;
    }
    const reread = await rereadPartitionTable(lane.target.path);
    const clearedBytes = lane.cleared.reduce((n, c) => n + c.length, 0);
    const [t0, t2, t3, t4] = lane.t;
    outcomes.push({
      device: lane.target.path,
      report: {
        image,
        device: lane.target.path,
        imageSize: map.imageSize,
        deviceSize: lane.target.size,
        ranges: map.ranges.length,
        mappedBytes: total,
        clearedBytes,
        bytesWritten: total + clearedBytes + headLength,
        verifiedBytes: lane.verified,
        partitionTableReread: reread,
        seconds: { write: s(t0, t2), sync: s(t2, t3), verify: s(t3, t4), total: s(t0, performance.now()) },
      },
    });
  }
  return outcomes;
}

/** One target: the same flash, its failure thrown. */
export async function flashImage(opts: FlashOptions): Promise<FlashReport> {
  const { target, onProgress, ...rest } = opts;
  const [outcome] = await flashImageToMany({ ...rest, targets: [target], onProgress: onProgress && ((_i, p) => onProgress(p)) });
  if (outcome.error) throw outcome.error;
  return outcome.report!;
}
