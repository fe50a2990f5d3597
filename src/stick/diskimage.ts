import { createHash } from 'node:crypto';
import { mkdtemp, open, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, posix } from 'node:path';
import { writeAtomically, writeFileAtomically } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { blockMapText, computeBlockMap, type ByteRange, type StickScan } from './blockmap.js';
import { blockMapPathFor } from '../contracts/block-map.js';
import { encodeMbr, MBR_PART_TYPE, SECTOR } from './mbr.js';
import { runTool } from '../util/run-tool.js';

/**
 * stick.img: an MBR disk image with one partition at 1 MiB holding the stick folder (msf/), ext3
 * labelled MSF by default, built without root and without loop mounts (mke2fs -d / mkfs.fat + mcopy
 * write straight into the image file at the partition offset).
 *
 * The image is sized to its content plus a margin, not to the stick: the guide asks for a stick of
 * 128 MB or more, and any stick at least as large as the image works (the rest stays unpartitioned).
 * Reproducible: the same stick folder and epoch give the same bytes (fixed UUID / volume id, hash seed,
 * timestamps and owners).
 */
export type StickFs = 'ext3' | 'ext2' | 'vfat';

export interface StickImageOptions {
  fs?: StickFs;
  label?: string;
  /** timestamps inside the image; default $SOURCE_DATE_EPOCH, else 2000-01-01; never before 1980 */
  sourceDateEpoch?: number;
}

export interface StickImageInfo {
  image: string;
  imageSize: number;
  fs: StickFs;
  label: string;
  partitionStart: number;
  partitionBytes: number;
  /** ext UUID or FAT volume id (as blkid prints it) */
  fsId: string;
  blockMap: StickScan;
}

export const PARTITION_START = 1024 * 1024;
const MIB = 1024 * 1024;
const EXT_BLOCK = 4096;
const JOURNAL_MIB = 4;

interface Entry {
  /** path relative to the stick root, POSIX */
  rel: string;
  dir: boolean;
  size: number;
}

async function walk(root: string, rel = ''): Promise<Entry[]> {
  const out: Entry[] = [];
  const entries = await readdir(join(root, rel), { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const r = rel ? posix.join(rel, e.name) : e.name;
    if (e.isDirectory()) {
      out.push({ rel: r, dir: true, size: 0 });
      out.push(...(await walk(root, r)));
    } else if (e.isFile()) {
      out.push({ rel: r, dir: false, size: (await stat(join(root, r))).size });
    } else {
      throw new UserError(`${join(root, r)}: only plain files and folders can go on the stick`, { code: 'input-invalid' });
    }
    if (/[\s"\\]/.test(e.name)) throw new UserError(`${join(root, r)}: names on the stick must not contain spaces, quotes or backslashes`, { code: 'input-invalid' });
  }
  return out;
}

/** 2000-01-01: the default image time. */
const DEFAULT_EPOCH = 946684800;
/**
 * 1980-01-01: FAT cannot store earlier dates, and e2fsprogs reads E2FSPROGS_FAKE_TIME=0 as "not set" and
 * stamps the wall clock instead (a build from inputs without a date would differ from run to run).
 */
const EARLIEST_EPOCH = 315532800;

function imageEpoch(requested: number | undefined): number {
  const env = process.env.SOURCE_DATE_EPOCH;
  const epoch = requested ?? (env && /^\d+$/.test(env) ? Number(env) : DEFAULT_EPOCH);
  return Math.max(epoch, EARLIEST_EPOCH);
}

/** A stable identity for the content: names, sizes and MD5SUMS (which covers the bytes). */
async function contentDigest(stickDir: string, entries: Entry[], fs: StickFs, label: string): Promise<Buffer> {
  const h = createHash('sha256');
  h.update(`${fs}\0${label}\0`);
  for (const e of entries) {
    h.update(`${e.rel}\0${e.dir ? 'd' : e.size}\0`);
    if (!e.dir && posix.basename(e.rel) === 'MD5SUMS') {
      const fh = await open(join(stickDir, e.rel), 'r');
      try {
        h.update(await fh.readFile());
      } finally {
        await fh.close();
      }
    }
  }
  return h.digest();
}

function uuidFrom(d: Buffer): string {
  const b = Buffer.from(d.subarray(0, 16));
  b[6] = (b[6] & 0x0f) | 0x50; // version 5 style (name based)
  b[8] = (b[8] & 0x3f) | 0x80;
  const x = b.toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

function roundUp(n: number, unit: number): number {
  return Math.ceil(n / unit) * unit;
}

/** Partition size: content rounded to 4 KiB blocks, plus 5 % and a fixed slack for metadata. */
function partitionBytesFor(entries: Entry[], fs: StickFs): number {
  const content = entries.reduce((n, e) => n + (e.dir ? EXT_BLOCK : roundUp(Math.max(e.size, 1), EXT_BLOCK)), 0);
  const fixed = fs === 'ext3' ? (JOURNAL_MIB + 8) * MIB : 8 * MIB;
  return roundUp(Math.ceil(content * 1.05) + fixed, MIB);
}

/** The mke2fs.conf used for the stick, so the host's /etc/mke2fs.conf cannot change the result. */
const MKE2FS_CONF = `[defaults]
	base_features = sparse_super,large_file,filetype,dir_index,ext_attr
	blocksize = 4096
	inode_size = 256
	inode_ratio = 16384
[fs_types]
	ext3 = {
		features = has_journal
	}
	ext2 = {
		inode_size = 256
	}
	small = {
		blocksize = 4096
	}
	floppy = {
		blocksize = 4096
	}
`;

async function buildExt(tmp: string, stickDir: string, entries: Entry[], fs: 'ext2' | 'ext3', label: string, uuid: string, epoch: number, partBytes: number, work: string): Promise<ByteRange[]> {
  const conf = join(work, 'mke2fs.conf');
  await writeFile(conf, MKE2FS_CONF);
  const env = { MKE2FS_CONFIG: conf, E2FSPROGS_FAKE_TIME: String(epoch), SOURCE_DATE_EPOCH: String(epoch) };
  const blocks = partBytes / EXT_BLOCK;
  const args = ['-q', '-F', '-t', fs, '-b', String(EXT_BLOCK), '-m', '0', '-N', String(entries.length + 32), '-L', label, '-U', uuid,
    '-E', `offset=${PARTITION_START},hash_seed=${uuid},root_owner=0:0`];
  if (fs === 'ext3') args.push('-J', `size=${JOURNAL_MIB}`);
  args.push('-d', stickDir, tmp, String(blocks));
  await runTool('mke2fs', args, { env, what: `making the ${fs} filesystem of the stick image` });

  // mke2fs -d copies the source files' owners and times (ctime cannot be set on the source): pin them.
  const fsPath = `${tmp}?offset=${PARTITION_START}`;
  const cmds: string[] = [];
  for (const p of ['/', ...entries.map((e) => `/${e.rel}`)]) {
    for (const f of ['atime', 'mtime', 'ctime', 'crtime']) cmds.push(`sif "${p}" ${f} @${epoch}`);
    cmds.push(`sif "${p}" uid 0`, `sif "${p}" gid 0`);
  }
  const cmdFile = join(work, 'debugfs.cmds');
  await writeFile(cmdFile, cmds.join('\n') + '\n');
  await runTool('debugfs', ['-w', '-f', cmdFile, fsPath], { env, what: 'pinning times and owners in the stick image' });

  // Metadata that may be all zero yet must overwrite the stick: bitmaps and inode tables.
  const dump = await runTool('dumpe2fs', [fsPath], { env, what: 'reading the stick image layout' });
  const ranges: ByteRange[] = [];
  for (const m of dump.matchAll(/(?:Block|Inode) bitmap at (\d+)/g)) {
    ranges.push({ start: PARTITION_START + Number(m[1]) * EXT_BLOCK, length: EXT_BLOCK });
  }
  for (const m of dump.matchAll(/Inode table at (\d+)-(\d+)/g)) {
    const first = Number(m[1]);
    ranges.push({ start: PARTITION_START + first * EXT_BLOCK, length: (Number(m[2]) - first + 1) * EXT_BLOCK });
  }
  if (ranges.length === 0) throw new Error('dumpe2fs printed no group layout for the stick image');
  return ranges;
}

async function buildVfat(tmp: string, stickDir: string, entries: Entry[], label: string, volumeId: string, epoch: number, partBytes: number): Promise<void> {
  const env = { SOURCE_DATE_EPOCH: String(epoch), MTOOLS_SKIP_CHECK: '1' };
  const startSector = PARTITION_START / SECTOR;
  await runTool('mkfs.fat', ['--invariant', '-i', volumeId, '-n', label, '--mbr=n', `--offset=${startSector}`, '-h', String(startSector), tmp, String(partBytes / 1024)],
    { env, what: 'making the FAT filesystem of the stick image' });
  const top = entries.filter((e) => !e.rel.includes('/'));
  if (top.length > 0) {
    await runTool('mcopy', ['-s', '-Q', '-i', `${tmp}@@${PARTITION_START}`, ...top.map((e) => join(stickDir, e.rel)), '::/'],
      { env, what: 'copying the stick folder into the FAT image' });
  }
}

/** FAT32 keeps 0 in the 16-bit sectors-per-FAT field of its boot sector. */
async function fatPartitionType(img: string): Promise<number> {
  const fh = await open(img, 'r');
  try {
    const b = Buffer.alloc(SECTOR);
    await fh.read(b, 0, SECTOR, PARTITION_START);
    return b.readUInt16LE(22) === 0 ? MBR_PART_TYPE.fat32Lba : MBR_PART_TYPE.fat16Lba;
  } finally {
    await fh.close();
  }
}

function checkLabel(fs: StickFs, label: string): void {
  const max = fs === 'vfat' ? 11 : 16;
  if (!/^[A-Za-z0-9_-]+$/.test(label) || label.length > max) {
    throw new UserError(`stick label "${label}": letters, digits, _ and - only, at most ${max} characters for ${fs}`, { code: 'site-invalid' });
  }
  if (fs === 'vfat' && label !== label.toUpperCase()) throw new UserError(`stick label "${label}": FAT labels are upper case`, { code: 'site-invalid' });
}

/**
 * Builds outImg from stickDir (which holds msf/), written atomically, with its block map `<outImg>.bmap` (bmaptool's format) next to it.
 */
export async function buildStickImage(stickDir: string, outImg: string, opts: StickImageOptions = {}): Promise<StickImageInfo> {
  const fs = opts.fs ?? 'ext3';
  const label = opts.label ?? 'MSF';
  checkLabel(fs, label);
  const epoch = imageEpoch(opts.sourceDateEpoch);
  let entries: Entry[];
  try {
    entries = await walk(stickDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new UserError(`${stickDir}: no such stick folder`, { code: 'input-invalid', cause: err });
    throw err;
  }
  if (entries.length === 0) throw new UserError(`${stickDir}: the stick folder is empty`, { code: 'input-invalid' });
  const digest = await contentDigest(stickDir, entries, fs, label);
  const partBytes = partitionBytesFor(entries, fs);
  const imageSize = PARTITION_START + partBytes;
  const work = await mkdtemp(join(tmpdir(), 'obsbuild-stick-'));
  try {
    let fsId = '';
    const blockMap = await writeAtomically(outImg, async (tmp) => {
      const fh = await open(tmp, 'w');
      await fh.truncate(imageSize);
      await fh.close();
      let mustInclude: ByteRange[];
      let type: number;
      if (fs === 'vfat') {
        const volumeId = digest.subarray(0, 4).toString('hex');
        fsId = `${volumeId.slice(0, 4)}-${volumeId.slice(4)}`.toUpperCase();
        await buildVfat(tmp, stickDir, entries, label, volumeId, epoch, partBytes);
        type = await fatPartitionType(tmp);
        // FAT has no holes: every block from the boot sector to the last cluster in use belongs to
        // the filesystem (the FATs, zero blocks inside files), so the map covers that whole stretch.
        const scan = await computeBlockMap(tmp);
        const last = scan.map.ranges[scan.map.ranges.length - 1];
        mustInclude = [{ start: PARTITION_START, length: last.start + last.length - PARTITION_START }];
      } else {
        fsId = uuidFrom(digest);
        mustInclude = await buildExt(tmp, stickDir, entries, fs, label, fsId, epoch, partBytes, work);
        type = MBR_PART_TYPE.linux;
      }
      const mbr = encodeMbr({
        diskSignature: digest.readUInt32LE(16),
        partitions: [{ index: 1, bootable: false, type, startLba: PARTITION_START / SECTOR, sectors: partBytes / SECTOR }],
      });
      const out = await open(tmp, 'r+');
      try {
        await out.write(mbr, 0, mbr.length, 0);
        await out.sync();
      } finally {
        await out.close();
      }
      return computeBlockMap(tmp, [{ start: 0, length: SECTOR }, ...mustInclude]);
    });
    await writeFileAtomically(blockMapPathFor(outImg), blockMapText(blockMap));
    return { image: outImg, imageSize, fs, label, partitionStart: PARTITION_START, partitionBytes: partBytes, fsId, blockMap };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
