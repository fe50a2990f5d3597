/**
 * A file (or directory / symlink) obsbuild generates for the box's root filesystem: what the renderers
 * produce, the overlay tarball packs and the manifest lists.
 */
export interface GeneratedFile {
  /** Absolute path in the target root, e.g. /etc/hostname. */
  path: string;
  content: string | Buffer;
  mode: number;
  uid?: number;
  gid?: number;
  type?: 'file' | 'dir' | 'symlink';
  linkTarget?: string;
}

/** The bytes of a generated file (symlinks and directories have none). */
export function fileBytes(file: GeneratedFile): Buffer {
  if (file.type === 'dir' || file.type === 'symlink') return Buffer.alloc(0);
  return typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
}

/** Sorted by path (byte order), so every consumer sees the same order whatever produced the list. */
export function sortFiles(files: readonly GeneratedFile[]): GeneratedFile[] {
  return [...files].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/**
 * Merge file lists; a later list wins for the same path (the pipeline layers its own files, such as
 * /etc/shadow, over what the renderers produced).
 */
export function mergeFiles(...lists: (readonly GeneratedFile[])[]): GeneratedFile[] {
  const byPath = new Map<string, GeneratedFile>();
  for (const list of lists) for (const f of list) byPath.set(f.path, f);
  return sortFiles([...byPath.values()]);
}

/** A directory entry for the target root. */
export function dirEntry(path: string, mode = 0o755, uid = 0, gid = 0): GeneratedFile {
  return { path, content: '', mode, uid, gid, type: 'dir' };
}

/** A symbolic link for the target root. */
export function symlinkEntry(path: string, linkTarget: string): GeneratedFile {
  return { path, content: '', mode: 0o777, uid: 0, gid: 0, type: 'symlink', linkTarget };
}
