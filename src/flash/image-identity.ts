import type { FileHandle } from 'node:fs/promises';

/**
 * The image file as the check saw it. A rebuild (`obsbuild image` renames a new file into place) gives a new
 * inode; a change in place moves the size, mtime or ctime (nanoseconds; kernels since 6.13 make ctime exact on
 * ext4, xfs, btrfs and tmpfs once it has been read, older ones may miss a write in the same clock tick as the
 * check's last look). The flash compares it before its first write and after its read-back.
 */
export interface ImageIdentity {
  dev: bigint;
  ino: bigint;
  size: bigint;
  mtimeNs: bigint;
  ctimeNs: bigint;
}

export async function identityOf(fh: FileHandle): Promise<ImageIdentity> {
  const st = await fh.stat({ bigint: true });
  return { dev: st.dev, ino: st.ino, size: st.size, mtimeNs: st.mtimeNs, ctimeNs: st.ctimeNs };
}

export function sameImage(a: ImageIdentity, b: ImageIdentity): boolean {
  return a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeNs === b.mtimeNs && a.ctimeNs === b.ctimeNs;
}
