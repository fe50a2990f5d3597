import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, mkdir, open, readdir, readFile, stat, statfs } from 'node:fs/promises';
import { basename, join, posix } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { writeAtomically } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import { listFiles, MD5SUMS_NAME, parseMd5sums, verifyMd5sums } from './md5sums.js';
import { describeFileKind } from '../util/file-kind.js';
import { runTool } from '../util/run-tool.js';

/**
 * `--stick-dir DIR`: the guide's manual way. The user formatted a stick (FAT, ext2 or ext3), labelled
 * it MSF and mounted it at DIR; we copy msf/ onto it. Checks first (a mount point, a filesystem the
 * firmware reads, the label, free space), then copies into a temporary folder and renames it to msf/,
 * so a stick is never left with a half-copied msf/, and finally checks every file against MD5SUMS.
 * An msf/ already on the stick is replaced only when it holds nothing but files this copy writes and files an
 * earlier copy wrote (listed in its MD5SUMS): anything else there is the user's, and the copy is refused.
 */
export const STICK_FILESYSTEMS = ['vfat', 'msdos', 'ext2', 'ext3'];

export interface StickDirResult {
  target: string;
  source: string;
  fstype: string;
  bytes: number;
}

const MIB = 1024 * 1024;

async function mountOf(dir: string): Promise<{ source: string; fstype: string }> {
  let out: string;
  try {
    out = await runTool('findmnt', ['-n', '-J', '-o', 'SOURCE,FSTYPE', '--mountpoint', dir]);
  } catch (err) {
    if (err instanceof UserError && /not found/.test(err.message) && !/findmnt failed/.test(err.message)) throw err;
    throw new UserError(`${dir}: not the mount point of a stick (format it FAT, ext2 or ext3, label it MSF, mount it, pass the mount point)`, { code: 'target-refused', cause: err });
  }
  const fsys = (JSON.parse(out) as { filesystems?: { source: string; fstype: string }[] }).filesystems ?? [];
  if (fsys.length === 0) throw new UserError(`${dir}: not the mount point of a stick`, { code: 'target-refused' });
  return fsys[fsys.length - 1];
}

async function labelOf(source: string, dir: string): Promise<string> {
  try {
    return (await runTool('blkid', ['-p', '-o', 'value', '-s', 'LABEL', source])).trim();
  } catch (err) {
    throw new UserError(`${dir}: cannot read the volume label of ${source} (blkid -p needs read access to the device; run as root)`, { code: 'target-refused', cause: err });
  }
}

async function copyFile(from: string, to: string): Promise<void> {
  await pipeline(createReadStream(from), createWriteStream(to, { mode: 0o644 }));
  // fsync works on the file, whichever descriptor asks: flush it before the rename makes it visible.
  const fh = await open(to, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** Entries looked at in an msf/ already on the stick before giving up: a stick folder holds a handful. */
const MAX_EXISTING_ENTRIES = 10_000;

/**
 * The entries of the msf/ already at `existing` that are not `ours` (relative paths; a directory counts by
 * what it holds; a symlink, device or other non-file is never ours). Empty when there is no msf/ yet.
 */
async function foreignEntries(existing: string, ours: Set<string>): Promise<string[]> {
  const foreign: string[] = [];
  let seen = 0;
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(join(existing, rel), { withFileTypes: true })) {
      if (++seen > MAX_EXISTING_ENTRIES) throw new UserError(`${existing}: more than ${MAX_EXISTING_ENTRIES} entries; not a stick folder obsbuild wrote`, { code: 'target-refused' });
      const path = rel ? posix.join(rel, e.name) : e.name;
      if (e.isDirectory()) await walk(path);
      else if (!e.isFile() || !ours.has(path)) foreign.push(path);
    }
  };
  await walk('');
  return foreign;
}

/** Refuses to replace an msf/ on the stick that holds anything this copy or an earlier one did not write. */
async function checkExistingFolder(target: string, writing: readonly string[]): Promise<void> {
  let st;
  try {
    st = await lstat(target);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new UserError(`${target}: cannot look at it (${(err as NodeJS.ErrnoException).code ?? String(err)}); nothing was copied`, { code: 'target-refused', cause: err });
  }
  if (!st.isDirectory()) throw new UserError(`${target}: is ${describeFileKind(st)}, not a stick folder; move it off the stick and run again; nothing was copied`, { code: 'target-refused' });
  const ours = new Set([...writing, MD5SUMS_NAME]);
  try {
    const text = await readFile(join(target, MD5SUMS_NAME), 'utf8');
    for (const e of parseMd5sums(text.slice(0, 1024 * 1024))) ours.add(e.path);
  } catch {
    // no MD5SUMS, or not one obsbuild wrote: only the names this copy writes are replaceable
  }
  const foreign = await foreignEntries(target, ours);
  if (foreign.length > 0) {
    const shown = foreign.slice(0, 3).join(', ') + (foreign.length > 3 ? ` and ${foreign.length - 3} more` : '');
    throw new UserError(`${target}: holds ${foreign.length === 1 ? 'a file' : `${foreign.length} files`} obsbuild did not write (${shown}); move ${foreign.length === 1 ? 'it' : 'them'} off the stick and run again; nothing was copied`, { code: 'target-refused' });
  }
}

/** The checks that need no build: a mount point of a filesystem the firmware reads, with the right label. */
export async function checkStickDir(mountDir: string, opts: { label?: string } = {}): Promise<{ source: string; fstype: string }> {
  const label = opts.label ?? 'MSF';
  const { source, fstype } = await mountOf(mountDir);
  if (!STICK_FILESYSTEMS.includes(fstype)) {
    throw new UserError(`${mountDir}: ${source} is ${fstype}; the firmware reads FAT, ext2 or ext3 sticks (e.g. mkfs.vfat -n ${label} ${source})`, { code: 'target-refused' });
  }
  const found = await labelOf(source, mountDir);
  if (found !== label) {
    const how = fstype === 'vfat' || fstype === 'msdos' ? `fatlabel ${source} ${label}` : `e2label ${source} ${label}`;
    throw new UserError(`${mountDir}: ${source} is labelled "${found}", the firmware looks for "${label}" (unmount it, then ${how})`, { code: 'target-refused' });
  }
  return { source, fstype };
}

/** Copies msfDir (with its MD5SUMS) to <mountDir>/<same folder name, msf> after the checks above. */
export async function copyToStickDir(msfDir: string, mountDir: string, opts: { label?: string } = {}): Promise<StickDirResult> {
  const files = await listFiles(msfDir);
  if (!(await readdir(msfDir)).includes(MD5SUMS_NAME)) throw new UserError(`${msfDir}: no ${MD5SUMS_NAME}; build the stick folder first`, { code: 'input-invalid' });
  const { source, fstype } = await checkStickDir(mountDir, opts);
  const target = join(mountDir, basename(msfDir));
  await checkExistingFolder(target, files);

  let bytes = 0;
  let need = MIB;
  for (const f of [...files, MD5SUMS_NAME]) {
    const size = (await stat(join(msfDir, f))).size;
    bytes += size;
    need += Math.ceil(size / 32768 + 1) * 32768; // cluster / block slack
  }
  const s = await statfs(mountDir);
  const free = s.bavail * s.bsize;
  if (free < need) {
    throw new UserError(`${mountDir}: needs ${Math.ceil(need / MIB)} MiB free for msf/, ${source} has ${Math.floor(free / MIB)} MiB`, { code: 'target-refused' });
  }

  await writeAtomically(target, async (tmp) => {
    await mkdir(tmp);
    for (const f of [...files, MD5SUMS_NAME]) {
      const parts = f.split('/');
      if (parts.length > 1) await mkdir(join(tmp, ...parts.slice(0, -1)), { recursive: true });
      await copyFile(join(msfDir, f), join(tmp, f));
    }
  });
  await runTool('sync', ['-f', target], { what: `flushing ${mountDir}` });
  const bad = await verifyMd5sums(target);
  if (bad.length > 0) throw new UserError(`${target}: ${bad.join(', ')} do not match MD5SUMS after copying; the stick may be failing`, { code: 'verify-failed' });
  return { target, source, fstype, bytes };
}
