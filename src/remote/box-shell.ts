/**
 * A root shell on a running board, whatever carries it (SSH now, the serial console later): the only
 * surface a day-two command (`verify`, `apply`) sees, so the hardware boundary is this type.
 */

export interface RunOptions {
  /** Give up (and report the command) after this long; the transport picks a default. */
  timeoutMs?: number;
}

export interface RunResult {
  /** The command's exit status as the box's shell reports it. */
  exitCode: number;
  /** What the command printed, standard error included (a serial console cannot tell the two apart). */
  stdout: string;
}

/** Numeric owner of a file written on the box (names are resolved against the box's own account files first). */
export interface FileOwner {
  uid: number;
  gid: number;
}

export interface BoxShell {
  /** Runs `command` with the box's /bin/sh; a non-zero exit status is a result, not an error. */
  run(command: string, opts?: RunOptions): Promise<RunResult>;
  /**
   * Writes `bytes` to the absolute `path` on the box with permission bits `mode` (and `owner`, else the login
   * user's): through a temporary sibling whose SHA-256 is checked on the box before it is renamed into place,
   * so the path holds either the old file or exactly these bytes, owner and mode.
   */
  putFile(path: string, bytes: Uint8Array, mode: number, owner?: FileOwner): Promise<void>;
  /** Ends the session; the box is left with nothing of ours running. Safe to call twice. */
  close(): Promise<void>;
  /**
   * How fast the box's output can arrive when the link is what limits it (a serial line: baud / 10 for 8N1),
   * so a command that prints a lot is given the time the line needs; absent where it is not (SSH).
   */
  readonly lineBytesPerSecond?: number;
}
