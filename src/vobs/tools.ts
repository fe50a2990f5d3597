import { execa } from 'execa';
import { UserError } from '../util/errors.js';

/** The Debian package behind each tool the virtual board needs, for the "not found" message. */
const PACKAGE_OF: Record<string, string> = {
  mmdebstrap: 'mmdebstrap',
  mkimage: 'u-boot-tools',
  'qemu-system-x86_64': 'qemu-system-x86',
  cpio: 'cpio',
  'dpkg-scanpackages': 'dpkg-dev',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  depmod: 'kmod',
  modprobe: 'kmod',
  debugfs: 'e2fsprogs',
  tar: 'tar',
  gpg: 'gnupg',
  gpgconf: 'gnupg',
};

export interface ToolOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Said before the tool's own message on failure. */
  what?: string;
  /** Lines of output, for progress. */
  onLine?: (line: string) => void;
}

/** Runs a tool; a missing tool or a failure becomes a one-line UserError naming it. */
export async function runTool(cmd: string, args: string[], opts: ToolOptions = {}): Promise<string> {
  try {
    const child = execa(cmd, args, { cwd: opts.cwd, env: opts.env, all: true, stripFinalNewline: false });
    if (opts.onLine) {
      let rest = '';
      child.all?.on('data', (b: Buffer) => {
        const lines = (rest + b.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) opts.onLine!(l);
      });
    }
    const r = await child;
    return r.stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; shortMessage?: string };
    if (e.code === 'ENOENT') {
      const pkg = PACKAGE_OF[cmd];
      throw new UserError(`${cmd} not found${pkg ? `: install it (apt-get install ${pkg})` : ''}`);
    }
    const detail =
      (e.stderr ?? '').trim().split('\n').filter((l) => l.trim()).slice(-1)[0] ?? e.shortMessage ?? String(err);
    throw new UserError(`${opts.what ? `${opts.what}: ` : ''}${cmd} failed: ${detail}`);
  }
}
