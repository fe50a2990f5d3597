/**
 * One tar entry, as the reader hands it over and (less what the writer derives) as the writer takes it:
 * tar-stream's header with the stored name made a root-relative path. Every archive module speaks it.
 */

/**
 * The entry types obsbuild deals in. A contiguous file (typeflag 7) is read as a regular file, as GNU tar
 * extracts it; the pax and GNU long-name headers are folded into their entry by tar-stream.
 */
export type TarEntryType = 'file' | 'directory' | 'symlink' | 'link' | 'character-device' | 'block-device' | 'fifo';

export interface TarEntry {
  /** Relative to the archive root, without `./`, a leading `/` or a trailing slash; '' is the root itself. */
  path: string;
  /** The name as stored in the archive (messages quote it). */
  name: string;
  type: TarEntryType;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Bytes of data (regular files only). */
  size: number;
  /** Symlink target as stored, or a hard link's target name. */
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

/** A file's data to write: bytes in memory, or a file on disk of a known size to stream from. */
export type TarContent = { buffer: Buffer } | { file: string; size: number };

/** What the writer takes: the stored name comes from the path and the size from the content. */
export interface TarEntryToWrite extends Omit<TarEntry, 'name' | 'size'> {
  content?: TarContent;
}
