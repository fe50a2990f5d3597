import { readdir, readlink } from 'node:fs/promises';

/**
 * Waits until process `pid` holds `path` open (read from /proc/<pid>/fd), or gives up after `ms`: how the
 * virtual board knows the console, or ser2net in front of it, has the pty before it powers the board on.
 * `path` is compared with each descriptor's link, so pass the real path (a pty, not a symlink to one).
 */
export async function holdsOpen(pid: number, path: string, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  for (;;) {
    let fds: string[];
    try {
      fds = await readdir(`/proc/${pid}/fd`);
    } catch {
      return false; // the process is gone
    }
    for (const fd of fds) {
      if ((await readlink(`/proc/${pid}/fd/${fd}`).catch(() => '')) === path) return true;
    }
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
