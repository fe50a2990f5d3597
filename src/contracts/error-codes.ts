/**
 * What kind of problem stopped a command, as a stable code: the command layer maps it to an exit code,
 * scripts can read it from --json reports, and tests assert it instead of matching prose.
 */
export const ERROR_CODES = {
  /** Wrong flags or arguments: exit 2. */
  usage: 2,
  /** The site file cannot be read, parsed or validated, or lint found errors. */
  'site-invalid': 1,
  /**
   * A file a command starts from is missing, damaged or not what the site needs: Plat'Home's rootfs tarball,
   * uImage and kern.tgz, or what an earlier build left (stick folder, stick image and its block map, manifest).
   */
  'input-invalid': 1,
  /** A .deb, a Packages or Release index, or package resolution. */
  'package-invalid': 1,
  /** A mirror could not be reached, or what it served failed its size, checksum or signature. */
  'mirror-failed': 1,
  /** An output path obsbuild must not or cannot write. */
  'output-refused': 1,
  /** A flash target that is not safe to write (mounted, in use, not removable, too small). */
  'target-refused': 1,
  /** Something written or installed did not verify (read-back, console checks). */
  'verify-failed': 1,
  /** A program obsbuild runs (mke2fs, gpgv, ssh, qemu...) is missing or failed. */
  'tool-failed': 1,
  /** The serial line or the box did not do what the console expected. */
  'console-failed': 1,
  /**
   * A box reached over SSH or through a shell on its serial line (the real board or the virtual one) could not
   * be connected to, or a command on it failed, ran too long or printed too much.
   */
  'box-failed': 1,
  /** Stopped by Ctrl-C or SIGTERM: exit 130. */
  interrupted: 130,
  /** A problem the user can fix that has no more specific code yet. */
  'user-error': 1,
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;
