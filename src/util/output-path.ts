/**
 * The one rule for every path a user names as an output (--out, --site for init, --json, --log): what may
 * be there before obsbuild writes. Missing: created. A regular file, for a file output: replaced. A
 * directory that carries obsbuild's own marker (or is empty), for a directory output: replaced. Anything
 * else (someone's folder, a device, a symbolic link, the current directory, a path under a regular file,
 * a kernel filesystem such as /proc) is refused with one line naming the path, before any work starts.
 */
import { access, constants, lstat, readdir, rm, stat, statfs, writeFile } from 'node:fs/promises';
import { dirname, resolve, sep } from 'node:path';
import type { Stats } from 'node:fs';
import { swapIntoPlace, tempSibling } from './atomic.js';
import { makeDirs, removeDirs } from './dirs.js';
import { UsageError, UserError } from './errors.js';
import { describeFileKind } from './file-kind.js';

export interface OutputRule {
  /** The option that named the path, for messages: "--out", "--json". */
  argument: string;
  kind: 'file' | 'dir';
  /** For a directory: entries whose presence shows obsbuild wrote it, so a later run may replace it. */
  markers?: readonly string[];
  /** Who leaves those markers, for the refusal: "obsbuild image". */
  owner?: string;
  /** Files this run reads (site file, inventory, manifest): an output may never replace one of them. */
  inputs?: readonly (string | undefined)[];
}

/** Kernel filesystems (statfs f_type) where files cannot be created, whatever the permissions say. */
const KERNEL_FILESYSTEMS = new Map<number, string>([
  [0x9fa0, 'proc'],
  [0x62656572, 'sysfs'],
  [0x27e0eb, 'cgroup'],
  [0x63677270, 'cgroup2'],
  [0x64626720, 'debugfs'],
  [0x74726163, 'tracefs'],
  [0x73636673, 'securityfs'],
  [0xcafe4a11, 'bpf'],
  [0x1cd1, 'devpts'],
  [0x62656570, 'configfs'],
  [0x6165676c, 'pstore'],
  [0x42494e4d, 'binfmt_misc'],
  [0xde5e81e4, 'efivarfs'],
]);

function errno(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException)?.code;
}


/** Refuses paths that name no place of their own: '', '/', the current directory or one holding it. */
function checkSpelling(path: string, argument: string, noun: string): string {
  if (path === '') throw new UsageError(`${argument} '': an empty path; name a ${noun}`);
  const abs = resolve(path);
  if (dirname(abs) === abs) throw new UserError(`${path}: is the root directory; name a ${noun} below it`, { code: 'output-refused' });
  const cwd = process.cwd();
  if (cwd === abs || cwd.startsWith(abs + sep)) {
    throw new UserError(`${path}: is the current directory or holds it; name a new ${noun} instead`, { code: 'output-refused' });
  }
  return abs;
}

/** The closest folder that exists, from `start` up, must be a writable directory on an ordinary filesystem. */
async function checkPlace(path: string, start: string): Promise<void> {
  let dir = start;
  for (;;) {
    let st: Stats;
    try {
      st = await stat(dir);
    } catch (err) {
      const code = errno(err);
      const parent = dirname(dir);
      if ((code === 'ENOENT' || code === 'ENOTDIR') && parent !== dir) {
        dir = parent;
        continue;
      }
      throw new UserError(`${path}: cannot use ${dir}: ${code ?? (err as Error).message}`, { code: 'output-refused', cause: err });
    }
    if (!st.isDirectory()) throw new UserError(`${path}: ${dir} is ${describeFileKind(st)}, not a directory`, { code: 'output-refused' });
    break;
  }
  const fs = KERNEL_FILESYSTEMS.get(Number((await statfs(dir)).type));
  if (fs) throw new UserError(`${path}: ${dir} is on the kernel's ${fs} filesystem, where nothing can be written`, { code: 'output-refused' });
  try {
    await access(dir, constants.W_OK);
  } catch (err) {
    throw new UserError(`${path}: ${dir} is not writable (${errno(err) ?? (err as Error).message})`, { code: 'output-refused', cause: err });
  }
}

/** Throws unless `path` may be written under the rule. Creates nothing, so it can run before long work. */
export async function checkOutputPath(path: string, rule: OutputRule): Promise<void> {
  const noun = rule.kind === 'file' ? 'file' : 'directory';
  const abs = checkSpelling(path, rule.argument, noun);
  let st: Stats | null = null;
  try {
    st = await lstat(abs);
  } catch (err) {
    const code = errno(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UserError(`${path}: cannot use it as the ${rule.argument} ${noun}: ${code ?? (err as Error).message}`, { code: 'output-refused', cause: err });
  }
  if (st) {
    if (st.isSymbolicLink()) {
      throw new UserError(`${path}: is a symbolic link; name the real path (obsbuild would replace the link, not what it points to)`, { code: 'output-refused' });
    }
    if (st.isDirectory()) {
      if (rule.kind === 'file') throw new UserError(`${path}: is a directory; ${rule.argument} names a file`, { code: 'output-refused' });
      const entries = await readdir(abs);
      const ours = entries.length === 0 || (rule.markers ?? []).some((m) => entries.includes(m));
      if (!ours) {
        throw new UserError(`${path}: directory is not empty and was not written by ${rule.owner ?? 'obsbuild'}; choose a new or empty ${rule.argument} directory`, { code: 'output-refused' });
      }
    } else if (st.isFile()) {
      if (rule.kind === 'dir') throw new UserError(`${path}: is a file; ${rule.argument} names a directory`, { code: 'output-refused' });
      for (const input of rule.inputs ?? []) {
        if (input === undefined) continue;
        const other = await lstat(input).catch(() => null);
        if (other && other.dev === st.dev && other.ino === st.ino) {
          throw new UserError(`${path}: is ${input}, which this run reads; choose another ${rule.argument} file`, { code: 'output-refused' });
        }
      }
    } else {
      throw new UserError(`${path}: is ${describeFileKind(st)}; ${rule.argument} names a ${noun}`, { code: 'output-refused' });
    }
  }
  await checkPlace(path, dirname(abs));
}

/** Throws unless `path` can hold outputs as a parent folder (image --out, vm --out): it is never replaced. */
export async function checkOutputParent(path: string, argument: string): Promise<void> {
  const abs = checkSpellingOfParent(path, argument);
  let st: Stats | null = null;
  try {
    st = await stat(abs);
  } catch (err) {
    const code = errno(err);
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new UserError(`${path}: cannot use it as the ${argument} directory: ${code ?? (err as Error).message}`, { code: 'output-refused', cause: err });
  }
  if (st && !st.isDirectory()) throw new UserError(`${path}: is ${describeFileKind(st)}; ${argument} names a directory`, { code: 'output-refused' });
  await checkPlace(path, abs);
}

function checkSpellingOfParent(path: string, argument: string): string {
  if (path === '') throw new UsageError(`${argument} '': an empty path; name a directory`);
  return resolve(path);
}

/** Turns a failure to write the output into one line naming it; a bug (no errno) stays a bug. */
function asUserError(path: string, err: unknown): unknown {
  const code = errno(err);
  if (err instanceof UserError || err instanceof UsageError || !code || !(err as NodeJS.ErrnoException).syscall) return err;
  return new UserError(`${path}: cannot write: ${code}`, { code: 'output-refused', cause: err });
}

/**
 * Writes a user-named output through a temporary sibling, after checking the rule; on failure the old
 * content stays, and folders created for it are removed again.
 */
export async function writeOutput<T>(path: string, rule: OutputRule, work: (tmpPath: string) => Promise<T>): Promise<T> {
  await checkOutputPath(path, rule);
  const created = await makeDirs(dirname(resolve(path)));
  const tmp = tempSibling(path);
  try {
    const result = await work(tmp);
    await swapIntoPlace(tmp, path);
    return result;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    await removeDirs(created);
    throw asUserError(path, err);
  }
}

export async function writeOutputFile(path: string, argument: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  await writeOutput(path, { argument, kind: 'file' }, (tmp) => writeFile(tmp, data, { mode }));
}
