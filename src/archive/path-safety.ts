/**
 * The one path-safety rule for every archive obsbuild reads or writes (rootfs, kern.tgz, a .deb's data.tar,
 * the overlay tarball). Archives are unpacked by the installer under a mount point (the CF root), not at
 * `/`, so an extractor resolves their symlinks against the installer's own root; the rule is built so that
 * no entry can land outside the tree whatever tar does:
 *
 * - an entry name is root-relative: no absolute name, no `..` component (lexical `a/../b` is wrong when `a`
 *   is a symlink, and GNU tar refuses such names too), at most MAX_ENTRY_PATH bytes;
 * - no entry (nor a hard link's target) may pass THROUGH a symlink seen earlier in the archive: busybox tar
 *   follows such a link or not depending on its version, GNU tar follows it when it points to a directory;
 *   nor may an entry other than a new symlink sit at an earlier symlink's own path;
 * - a symlink's target is resolved from the link's own directory; an absolute target is fine (it resolves
 *   inside the box's root once booted, and nothing is written through it); a relative target that climbs
 *   above the root is refused where the policy says so: a package or a modules archive never needs one
 *   (lintian rejects it), and unpacked under the mount point it points into the installer.
 */
import type { TarEntryType } from './tar-entry.js';

/** Linux's PATH_MAX: no real archive entry or link target is longer. */
export const MAX_ENTRY_PATH = 4096;
/** Entries per archive: Debian's biggest packages hold about 10^5 files; a rootfs a few 10^4. */
export const MAX_ARCHIVE_ENTRIES = 1 << 20;

export interface ArchiveEntryHeader {
  /** The name as stored. */
  name: string;
  type: TarEntryType;
  /** Symlink target as stored, or hard link target name. */
  linkname?: string;
}

/** A limit no real archive reaches (entry count, name length): the caller turns it into an error naming the file. */
export class ArchiveLimitError extends Error {}

export interface ArchiveTreeOptions {
  /** Relative symlink targets climbing above the root: refuse (packages, kern.tgz, overlay) or allow (rootfs). */
  escapingSymlinks: 'refuse' | 'allow';
}

export interface CheckedEntry {
  /** Root-relative path ('' for the root itself); undefined when the name itself is unsafe. */
  path: string | undefined;
  /** Why the entry is refused ("through the symlink a -> /etc"); undefined when it is safe. */
  problem: string | undefined;
}

/** Root-relative components of an entry name, or the reason it is not a safe name. */
export function entryComponents(raw: string): string[] | string {
  if (Buffer.byteLength(raw) > MAX_ENTRY_PATH) return `a name longer than ${MAX_ENTRY_PATH} bytes`;
  if (raw.startsWith('/')) return 'an absolute name';
  if (raw.includes('\0')) return 'a NUL byte in its name';
  return plainComponents(raw) ?? 'a .. component';
}

/** A path's components without the empty and `.` ones, or undefined when one is `..` (whatever the leading `/`). */
export function plainComponents(path: string): string[] | undefined {
  const parts = path.split('/').filter((p) => p !== '' && p !== '.');
  return parts.includes('..') ? undefined : parts;
}

/**
 * `path` resolved by its text alone from the directory `from` (components): `.` and empty components
 * dropped, `..` taking one off. A `..` at the root gives undefined (`above: 'refuse'`) or stays at the root
 * (`above: 'clamp'`, as in a chroot). Only for reasoning about links inside an archive: on disk `a/..` is
 * not `.` when `a` is a symlink, which is why entry names with `..` are refused outright.
 */
export function resolveLexically(path: string, above: 'refuse' | 'clamp', from: readonly string[] = []): string[] | undefined {
  const parts = [...from];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part !== '..') parts.push(part);
    else if (parts.length > 0) parts.pop();
    else if (above === 'refuse') return undefined;
  }
  return parts;
}

/** A member name or hard-link target as a root-relative path; undefined when it is absolute or climbs above the root. */
export function normalizeTarPath(name: string): string | undefined {
  if (name.startsWith('/')) return undefined;
  return resolveLexically(name, 'refuse')?.join('/');
}

/** Whether a relative symlink target, read from the directory `dir` (components), climbs above the root. */
export function symlinkClimbsAboveRoot(dir: string[], target: string): boolean {
  return !target.startsWith('/') && resolveLexically(target, 'refuse', dir) === undefined;
}

interface TrieNode {
  children: Map<string, TrieNode>;
  /** Set when this path is a symlink (kept even if a later entry replaces it: tar may keep the link). */
  symlink?: string;
}

/**
 * Tracks an archive's entries in order and says which ones are unsafe. Symlink paths are kept in a trie
 * of components, so checking an entry costs one step per component (linear in the archive's size).
 */
export class ArchiveTree {
  private readonly root: TrieNode = { children: new Map() };
  private count = 0;

  constructor(private readonly options: ArchiveTreeOptions) {}

  /** Check and record one entry. Throws ArchiveLimitError past MAX_ARCHIVE_ENTRIES. */
  add(header: ArchiveEntryHeader): CheckedEntry {
    if (++this.count > MAX_ARCHIVE_ENTRIES) {
      throw new ArchiveLimitError(`more than ${MAX_ARCHIVE_ENTRIES} entries, which no real archive has`);
    }
    const parts = entryComponents(header.name);
    if (typeof parts === 'string') return { path: undefined, problem: parts };
    const path = parts.join('/');
    const through = this.symlinkOnTheWay(parts, parts.length - 1);
    if (through) return { path, problem: `through the symlink ${through}` };
    // Over an earlier symlink, tar keeps a link to a directory and chmods through it, or unlinks it:
    // either way the archive is not saying one thing, so only a new symlink may replace one.
    const over = header.type === 'symlink' ? undefined : this.symlinkOnTheWay(parts, parts.length);
    if (over) return { path, problem: `over the symlink ${over}` };
    if (header.type === 'link') {
      const target = entryComponents(header.linkname ?? '');
      if (typeof target === 'string') return { path, problem: `hard link to ${header.linkname}, which has ${target}` };
      const targetThrough = this.symlinkOnTheWay(target, target.length - 1);
      if (targetThrough) return { path, problem: `hard link to ${header.linkname}, through the symlink ${targetThrough}` };
    }
    if (header.type === 'symlink') {
      const target = header.linkname ?? '';
      if (Buffer.byteLength(target) > MAX_ENTRY_PATH) return { path, problem: `a symlink target longer than ${MAX_ENTRY_PATH} bytes` };
      if (this.options.escapingSymlinks === 'refuse' && symlinkClimbsAboveRoot(parts.slice(0, -1), target)) {
        return { path, problem: `symlink to ${target}, above the archive root` };
      }
      this.recordSymlink(parts, target);
    }
    return { path, problem: undefined };
  }

  /** The first symlink among the first `upTo` components, as "path -> target". */
  private symlinkOnTheWay(parts: string[], upTo: number): string | undefined {
    let node = this.root;
    for (let i = 0; i < upTo; i++) {
      const next = node.children.get(parts[i]);
      if (!next) return undefined;
      if (next.symlink !== undefined) return `${parts.slice(0, i + 1).join('/')} -> ${next.symlink}`;
      node = next;
    }
    return undefined;
  }

  private recordSymlink(parts: string[], target: string): void {
    if (parts.length === 0) return; // the root itself cannot be replaced by a link
    let node = this.root;
    for (const part of parts) {
      let next = node.children.get(part);
      if (!next) {
        next = { children: new Map() };
        node.children.set(part, next);
      }
      node = next;
    }
    node.symlink = target;
  }
}

/** Device nodes and FIFOs: refused in a .deb or kern.tgz (no package or modules archive needs one). */
export function isSpecialFile(type: TarEntryType): boolean {
  return type === 'character-device' || type === 'block-device' || type === 'fifo';
}

const SPECIAL_NAMES: Partial<Record<TarEntryType, string>> = {
  'character-device': 'a character device',
  'block-device': 'a block device',
  fifo: 'a FIFO',
};

/** "a character device" etc., for error messages. */
export function describeSpecialFile(type: TarEntryType): string {
  return SPECIAL_NAMES[type] ?? `of type ${type}`;
}

/** One warning line for a setuid or setgid regular file, else undefined. */
export function setidWarning(label: string, path: string, mode: number, uid: number | undefined, gid: number | undefined): string | undefined {
  const bits: string[] = [];
  if (mode & 0o4000) bits.push(uid === 0 ? 'setuid root' : `setuid ${uid ?? '?'}`);
  if (mode & 0o2000) bits.push(gid === 0 ? 'setgid root' : `setgid ${gid ?? '?'}`);
  if (bits.length === 0) return undefined;
  return `${label}: /${path} is ${bits.join(' and ')} (mode ${(mode & 0o7777).toString(8).padStart(4, '0')})`;
}

/** Setuid/setgid warnings of one archive: the first few named, the rest counted (a warning list stays short). */
export class SetidWarnings {
  private readonly named: string[] = [];
  private more = 0;

  constructor(
    private readonly label: string,
    private readonly limit = 10,
  ) {}

  add(path: string, mode: number, uid: number | undefined, gid: number | undefined): void {
    const line = setidWarning(this.label, path, mode, uid, gid);
    if (!line) return;
    if (this.named.length < this.limit) this.named.push(line);
    else this.more++;
  }

  lines(): string[] {
    return this.more ? [...this.named, `${this.label}: ${this.more} more setuid/setgid files`] : [...this.named];
  }
}
