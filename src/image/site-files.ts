/**
 * The site's own files (`files:`): a folder beside the site file copied over the box's root, and single
 * entries (text, or a file beside the site file). They become GeneratedFiles like everything else obsbuild
 * puts on the box, so they reach the overlay, the manifest (with sha256) and day two's drift check and apply.
 *
 * The site file may come from anyone, so reading is held tight:
 * - the folder and every `source:` must resolve (realpath) inside the site file's folder: a symlink out of it
 *   cannot pull the build host's /etc/shadow in;
 * - in the folder, symlinks are copied as symlinks and never followed; regular files keep their permission
 *   bits, and a setuid, setgid or sticky one is refused (chmod it: obsbuild does not put such a file on the
 *   box behind the operator's back); directories become 0755 root:root (git keeps no directory modes, so the
 *   build host's say nothing the operator chose); devices, FIFOs and sockets are refused, named;
 * - counts, depth and bytes are capped; every box path goes through the archive path-safety rule;
 * - a path obsbuild itself writes (box-paths.ts OBSBUILD_OWNED_PATHS, and every file the build generates)
 *   is refused, named, as is a file or symlink where one of them needs a directory.
 * The disk is read once per loaded site (both nodes of a pair, and every day-two step, see the same bytes).
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, opendirSync, readlinkSync, readSync, realpathSync, type Stats } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ArchiveTree, entryComponents, MAX_ENTRY_PATH } from '../archive/path-safety.js';
import type { TarEntryType } from '../archive/tar-entry.js';
import { OBSBUILD_OWNED_PATHS } from '../contracts/box-paths.js';
import type { Finding } from '../contracts/finding.js';
import type { GeneratedFile } from '../contracts/generated-file.js';
import type { LoadedSite, SitePath } from '../site/load.js';
import { BOX_PATH_PATTERN } from '../site/schema.js';
import { located, oneLine, UserError } from '../util/errors.js';
import { describeFileKind } from '../util/file-kind.js';

/** Far above what configuration files need, far below what would fill a CF card or the day-two transfer. */
export const SITE_FILES_LIMITS = {
  /** Files, directories and symlinks together; well inside the 10 000 config files day two reads from a manifest. */
  entries: 4096,
  fileBytes: 16 << 20,
  totalBytes: 64 << 20,
  /** Directory levels below the folder. */
  depth: 32,
};

/** One of the site's files as read from disk, owner and group still names. */
export interface SiteFile {
  /** Absolute on the box. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  bytes: Buffer;
  mode: number;
  linkTarget?: string;
  owner: string;
  group: string;
  /** Where the site file says it: the key's line, and how to name it ("files.entries[2]", "files.folder site/etc/motd"). */
  line: number | undefined;
  origin: string;
  /** The owner: and group: keys' own lines, when the site file spells them out. */
  ownerLine?: number;
  groupLine?: number;
}

/** The base system's account files owners are resolved against (the rootfs's at build time, the box's on day two). */
export interface Accounts {
  passwd: string | undefined;
  group: string | undefined;
  /** Where they come from, for messages ("the rootfs's", "the box's"). */
  whose: string;
}

/** A problem with the site's files: the site file line and the message. */
class SiteFilesProblem extends Error {
  constructor(
    readonly line: number | undefined,
    message: string,
  ) {
    super(message);
  }
}

const FOLDER_KEY: SitePath = ['files', 'folder'];
interface ScanResult {
  files: SiteFile[];
  /** in site file order: the folder's (at most one), then each entry's, then clashes between paths */
  problems: SiteFilesProblem[];
}
const read = new WeakMap<LoadedSite, ScanResult>();

/** The disk read once per loaded site: the files, and every problem found. */
function readOnce(loaded: LoadedSite): ScanResult {
  let result = read.get(loaded);
  if (!result) {
    result = scan(loaded);
    read.set(loaded, result);
  }
  return result;
}

/** The site's files as read from disk; the first problem is a UserError naming the site file line. */
export function readSiteFiles(loaded: LoadedSite): SiteFile[] {
  const { files, problems } = readOnce(loaded);
  if (problems.length > 0) throw new UserError(located(loaded.file, problems[0].line, problems[0].message), { code: 'site-invalid' });
  return files;
}

/** The same checks as lint findings, every one of them (`obsbuild lint` reads the folder too). */
export function lintSiteFiles(loaded: LoadedSite): Finding[] {
  return readOnce(loaded).problems.map((p) => ({ severity: 'error', rule: 'files', line: p.line, message: p.message }));
}

/** Runs one unit of the scan; its problem is recorded and the scan goes on with the next. */
function collecting(problems: SiteFilesProblem[], work: () => void): void {
  try {
    work();
  } catch (err) {
    if (!(err instanceof SiteFilesProblem)) throw err;
    problems.push(err);
  }
}

/**
 * The site's files for the box, owners resolved against `accounts` (null: left unresolved, where no account
 * files are known, as in `obsbuild render`), checked against `generated` (every file the build generates for
 * this node): the site cannot replace one.
 */
export function siteFiles(loaded: LoadedSite, accounts: Accounts | null, generated: readonly GeneratedFile[] = []): GeneratedFile[] {
  const files = readSiteFiles(loaded);
  if (files.length === 0) return [];
  const fail = (f: SiteFile, message: string, line = f.line): never => {
    throw new UserError(located(loaded.file, line, `${f.origin}: ${message}`), { code: 'site-invalid' });
  };
  const generatedPaths = new Map(generated.map((g) => [g.path, g.type ?? 'file']));
  const generatedParents = new Map<string, string>();
  for (const g of generated) for (const parent of ancestors(g.path)) if (!generatedParents.has(parent)) generatedParents.set(parent, g.path);
  const users = accounts ? accountIds(accounts.passwd) : undefined;
  const groups = accounts ? accountIds(accounts.group) : undefined;
  return files.map((f) => {
    const type = generatedPaths.get(f.path);
    if (type !== undefined && !(type === 'dir' && f.type === 'dir')) fail(f, `${f.path} is a file obsbuild generates for this node; files: cannot replace it`);
    const below = generatedParents.get(f.path);
    if (below !== undefined && f.type !== 'dir') fail(f, `${f.path} would be a ${f.type === 'symlink' ? 'symlink' : 'file'} where obsbuild needs the directory holding ${below}`);
    const out: GeneratedFile = { path: f.path, content: f.bytes, mode: f.mode, type: f.type };
    if (f.linkTarget !== undefined) out.linkTarget = f.linkTarget;
    if (accounts) {
      out.uid = resolveAccount(f.owner, users, 'user', `${accounts.whose} /etc/passwd`, (m) => fail(f, m, f.ownerLine ?? f.line));
      out.gid = resolveAccount(f.group, groups, 'group', `${accounts.whose} /etc/group`, (m) => fail(f, m, f.groupLine ?? f.line));
    }
    return out;
  });
}

/** name -> id of /etc/passwd or /etc/group (the third field); bounded by the file, which the capture caps. */
function accountIds(text: string | undefined): Map<string, number> | undefined {
  if (text === undefined) return undefined;
  const ids = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [name, , id] = line.split(':', 3);
    if (name && id !== undefined && /^[0-9]{1,10}$/.test(id) && !ids.has(name)) ids.set(name, Number(id));
  }
  return ids;
}

function resolveAccount(name: string, ids: Map<string, number> | undefined, kind: string, where: string, fail: (m: string) => never): number {
  if (name === 'root') return 0; // uid and gid 0 on every Debian, whatever the files say
  if (!ids) return fail(`${kind} ${name}: ${where} is missing, there is nothing to look it up in`);
  const id = ids.get(name);
  if (id === undefined) return fail(`${kind} ${name} is not in ${where}; use a ${kind} the base system has (or root)`);
  return id;
}

function ancestors(path: string): string[] {
  const parts = path.split('/').filter(Boolean);
  return parts.slice(0, -1).map((_, i) => `/${parts.slice(0, i + 1).join('/')}`);
}

function scan(loaded: LoadedSite): ScanResult {
  const { folder, entries } = loaded.site.files;
  const problems: SiteFilesProblem[] = [];
  if (folder === null && entries.length === 0) return { files: [], problems };
  let siteDir = '';
  collecting(problems, () => (siteDir = onDisk(() => realpathSync(dirname(resolve(loaded.file))), loaded.lineOf(['files']), "files: the site file's folder")));
  if (problems.length > 0) return { files: [], problems };
  const budget = { entries: 0, bytes: 0 };
  const overBudget = () => budget.entries > SITE_FILES_LIMITS.entries || budget.bytes > SITE_FILES_LIMITS.totalBytes;
  const byPath = new Map<string, SiteFile>();
  if (folder !== null) {
    collecting(problems, () => {
      for (const f of readFolder(siteDir, folder, loaded.lineOf(FOLDER_KEY), budget)) byPath.set(f.path, f);
    });
  }
  entries.forEach((e, i) => {
    // past the limits every further entry would say the same: one line is enough
    if (overBudget()) return;
    collecting(problems, () => addEntry(e, i));
  });
  const files = [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  checkTree(files, problems);
  return { files, problems };

  function addEntry(e: (typeof entries)[number], i: number): void {
    const key: SitePath = ['files', 'entries', i];
    const origin = `files.entries[${i}]`;
    const line = loaded.lineOf([...key, 'path']);
    if ((e.mode & ~0o777) !== 0 || e.mode < 0) throw new SiteFilesProblem(loaded.lineOf([...key, 'mode']), `${origin}.mode: ${e.mode.toString(8)} has setuid, setgid or sticky bits; give plain permissions such as "0644"`);
    checkBoxPath(e.path, line, `${origin}.path`);
    let bytes: Buffer;
    if (e.source !== undefined) {
      bytes = readSource(siteDir, e.source, loaded.lineOf([...key, 'source']), `${origin}.source`);
    } else {
      bytes = Buffer.from(e.content ?? '', 'utf8');
    }
    count(budget, bytes.length, line, `${origin} (${e.path})`);
    const ownerLine = loaded.lineOf([...key, 'owner']);
    const groupLine = loaded.lineOf([...key, 'group']);
    byPath.set(e.path, { path: e.path, type: 'file', bytes, mode: e.mode, owner: e.owner, group: e.group, line, origin, ownerLine, groupLine });
  }
}

function count(budget: { entries: number; bytes: number }, bytes: number, line: number | undefined, what: string): void {
  if (++budget.entries > SITE_FILES_LIMITS.entries) throw new SiteFilesProblem(line, `files: more than ${SITE_FILES_LIMITS.entries} files, directories and links (at ${what}); put fewer on the box this way`);
  budget.bytes += bytes;
  if (budget.bytes > SITE_FILES_LIMITS.totalBytes) throw new SiteFilesProblem(line, `files: more than ${SITE_FILES_LIMITS.totalBytes >> 20} MiB together (at ${what}); configuration does not need that much`);
}

/** The box path held to the same spelling as files.entries[].path and to the archive path-safety rule. */
function checkBoxPath(path: string, line: number | undefined, what: string): void {
  const parts = entryComponents(path.slice(1));
  if (typeof parts === 'string') throw new SiteFilesProblem(line, `${what}: ${oneLine(path)} has ${parts}`);
  if (!path.startsWith('/') || parts.length === 0 || !BOX_PATH_PATTERN.test(path)) {
    throw new SiteFilesProblem(line, `${what}: ${oneLine(path)} is not a plain absolute path on the box (letters, digits and ._+@%=,- only)`);
  }
}

/** `rel` resolved inside the site file's folder: realpath, so no symlink leads out of it. */
function insideSiteDir(siteDir: string, rel: string, line: number | undefined, what: string): string {
  let real: string;
  try {
    real = realpathSync(resolve(siteDir, rel));
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    throw new SiteFilesProblem(line, `${what}: cannot read ${rel} beside the site file: ${code}`);
  }
  if (!real.startsWith(siteDir + sep)) throw new SiteFilesProblem(line, `${what}: ${rel} leads outside the site file's folder (to ${real}); files: takes only files beside the site file`);
  return real;
}

function readSource(siteDir: string, source: string, line: number | undefined, what: string): Buffer {
  return readRegular(insideSiteDir(siteDir, source, line, what), line, `${what}: ${source}`).bytes;
}

/** A regular file's bytes and mode, opened without following a symlink (nothing can be swapped in between). */
function readRegular(file: string, line: number | undefined, what: string): { bytes: Buffer; mode: number } {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    throw new SiteFilesProblem(line, `${what}: cannot open it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile()) throw new SiteFilesProblem(line, `${what}: is ${describeFileKind(st)}, not a regular file`);
    // Another name of this file may be anywhere on the disk (a hard link to the build host's /etc/shadow sits
    // inside the folder as well as a copy would): the folder's own files have one name.
    if (st.nlink > 1) throw new SiteFilesProblem(line, `${what}: is a hard link (the file has ${st.nlink} names); put a copy of it here instead`);
    if (st.size > SITE_FILES_LIMITS.fileBytes) throw new SiteFilesProblem(line, `${what}: ${st.size} bytes is over the ${SITE_FILES_LIMITS.fileBytes >> 20} MiB a file may have`);
    // One byte more than the cap is read: a file growing meanwhile is caught, never read without end.
    const buf = Buffer.alloc(Math.min(st.size, SITE_FILES_LIMITS.fileBytes) + 1);
    let got = 0;
    for (;;) {
      const n = readSync(fd, buf, got, buf.length - got, null);
      if (n === 0) break;
      got += n;
      if (got === buf.length) {
        if (got > SITE_FILES_LIMITS.fileBytes) throw new SiteFilesProblem(line, `${what}: over the ${SITE_FILES_LIMITS.fileBytes >> 20} MiB a file may have`);
        throw new SiteFilesProblem(line, `${what}: changed while it was read`);
      }
    }
    return { bytes: buf.subarray(0, got), mode: st.mode & 0o7777 };
  } finally {
    closeSync(fd);
  }
}


/** The folder's tree, depth first, names in byte order; the folder itself is the box's root and not listed. */
function readFolder(siteDir: string, folder: string, line: number | undefined, budget: { entries: number; bytes: number }): SiteFile[] {
  const root = insideSiteDir(siteDir, folder, line, 'files.folder');
  if (!onDisk(() => lstatSync(root), line, 'files.folder').isDirectory()) throw new SiteFilesProblem(line, `files.folder: ${folder} is not a directory`);
  const out: SiteFile[] = [];
  const shown = (abs: string) => `${folder.replace(/\/$/, '')}/${relative(root, abs)}`;
  const pending: { dir: string; depth: number }[] = [{ dir: root, depth: 0 }];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const { dir, depth } = next;
    for (const name of listDirectory(dir, line, `files.folder ${oneLine(shown(dir))}`)) {
      const abs = join(dir, name);
      const origin = `files.folder ${oneLine(shown(abs))}`;
      const path = `/${relative(root, abs).split(sep).join('/')}`;
      checkBoxPath(path, line, origin);
      const st = onDisk(() => lstatSync(abs), line, origin);
      const common = { path, owner: 'root', group: 'root', line, origin };
      if (st.isSymbolicLink()) {
        const target = onDisk(() => readlinkSync(abs), line, origin);
        if (Buffer.byteLength(target) > MAX_ENTRY_PATH || /[\x00-\x1f\x7f]/.test(target)) throw new SiteFilesProblem(line, `${origin}: a symlink to a target too long or with control characters`);
        count(budget, 0, line, origin);
        out.push({ ...common, type: 'symlink', bytes: Buffer.alloc(0), mode: 0o777, linkTarget: target });
      } else if (st.isDirectory()) {
        if (depth + 1 > SITE_FILES_LIMITS.depth) throw new SiteFilesProblem(line, `${origin}: more than ${SITE_FILES_LIMITS.depth} directory levels deep`);
        count(budget, 0, line, origin);
        out.push({ ...common, type: 'dir', bytes: Buffer.alloc(0), mode: 0o755 });
        pending.push({ dir: abs, depth: depth + 1 });
      } else if (st.isFile()) {
        const { bytes, mode } = readRegular(abs, line, origin);
        if (mode & 0o7000) throw new SiteFilesProblem(line, `${origin}: mode ${mode.toString(8).padStart(4, '0')} has setuid, setgid or sticky bits; obsbuild does not put those on the box from files: (chmod it)`);
        count(budget, bytes.length, line, origin);
        out.push({ ...common, type: 'file', bytes, mode });
      } else {
        throw new SiteFilesProblem(line, `${origin}: is ${describeFileKind(st)}; files: takes regular files, directories and symlinks only`);
      }
    }
  }
  return out;
}

/** A directory's names in byte order, at most as many as the whole set may have (read one by one, not all at once). */
function listDirectory(dir: string, line: number | undefined, what: string): string[] {
  const handle = onDisk(() => opendirSync(dir), line, what);
  const names: string[] = [];
  try {
    for (let entry = onDisk(() => handle.readSync(), line, what); entry !== null; entry = onDisk(() => handle.readSync(), line, what)) {
      if (names.length >= SITE_FILES_LIMITS.entries) throw new SiteFilesProblem(line, `${what}: more than ${SITE_FILES_LIMITS.entries} names in one directory`);
      names.push(entry.name);
    }
  } finally {
    handle.closeSync();
  }
  return names.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
}

/** A file system call whose failure (a file removed meanwhile, no permission) is a problem of the site, not a bug. */
function onDisk<T>(call: () => T, line: number | undefined, what: string): T {
  try {
    return call();
  } catch (err) {
    if (err instanceof SiteFilesProblem) throw err;
    throw new SiteFilesProblem(line, `${what}: cannot read it: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
}

const TAR_TYPE: Record<SiteFile['type'], TarEntryType> = { file: 'file', dir: 'directory', symlink: 'symlink' };

/**
 * The whole set, sorted: the archive path-safety rule (nothing through a symlink of the set, no relative
 * symlink above the root), nothing under a regular file, nothing obsbuild owns.
 */
function checkTree(files: SiteFile[], problems: SiteFilesProblem[]): void {
  const tree = new ArchiveTree({ escapingSymlinks: 'refuse' });
  const regular = new Set<string>();
  for (const f of files) collecting(problems, () => checkPlace(f));

  function checkPlace(f: SiteFile): void {
    const checked = tree.add({ name: f.path.slice(1), type: TAR_TYPE[f.type], linkname: f.linkTarget });
    if (checked.problem) throw new SiteFilesProblem(f.line, `${f.origin}: ${f.path}: ${checked.problem}`);
    const under = ancestors(f.path).find((a) => regular.has(a));
    if (under) throw new SiteFilesProblem(f.line, `${f.origin}: ${f.path} is under ${under}, which files: makes a regular file`);
    if (f.type === 'file') regular.add(f.path);
    for (const owned of OBSBUILD_OWNED_PATHS) {
      if (f.path === owned.path || (owned.tree && f.path.startsWith(`${owned.path}/`))) {
        throw new SiteFilesProblem(f.line, `${f.origin}: ${f.path} is obsbuild's own ${owned.path} (${owned.what}); files: cannot replace it`);
      }
      if (f.type !== 'dir' && owned.path.startsWith(`${f.path}/`)) {
        throw new SiteFilesProblem(f.line, `${f.origin}: a ${f.type === 'symlink' ? 'symlink' : 'file'} at ${f.path} would replace the directory holding obsbuild's own ${owned.path} (${owned.what})`);
      }
    }
  }
}
