import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';

/** Loop devices the test itself creates (and detaches in a finally block). */
export function attachLoop(file: string, opts: { readOnly?: boolean } = {}): string {
  const args = ['-f', '--show', '-P'];
  if (opts.readOnly) args.push('-r');
  return execFileSync('losetup', [...args, file], { encoding: 'utf8' }).trim();
}

export function detachLoop(dev: string | undefined): void {
  if (!dev) return;
  try {
    execFileSync('losetup', ['-d', dev]);
  } catch {
    // already gone
  }
}

export async function waitForNode(path: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!existsSync(path)) {
    if (Date.now() > end) throw new Error(`${path} did not appear`);
    await sleep(50);
  }
}

/**
 * Makes sure the partitions of a loop device have nodes. Returns false when the kernel did not scan
 * the table itself (no DOS partition parser) and partx had to register them.
 */
export async function ensurePartitions(dev: string): Promise<boolean> {
  try {
    await waitForNode(`${dev}p1`, 500);
    return true;
  } catch {
    execFileSync('partx', ['-a', dev]);
    await waitForNode(`${dev}p1`);
    return false;
  }
}
