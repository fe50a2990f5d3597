import { execa } from 'execa';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { UserError } from './errors.js';

/** The Debian package behind each external program obsbuild runs, for the "not found" message. */
const PACKAGE_OF: Record<string, string> = {
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  'mkfs.fat': 'dosfstools',
  mcopy: 'mtools',
  findmnt: 'util-linux',
  blkid: 'util-linux',
  mmdebstrap: 'mmdebstrap',
  mkimage: 'u-boot-tools',
  'qemu-system-x86_64': 'qemu-system-x86',
  cpio: 'cpio',
  'dpkg-scanpackages': 'dpkg-dev',
  'dpkg-shlibdeps': 'dpkg-dev',
  'apt-get': 'apt',
  'apt-cache': 'apt',
  'dpkg-deb': 'dpkg',
  depmod: 'kmod',
  modprobe: 'kmod',
  tar: 'tar',
  gpg: 'gnupg',
  gpgconf: 'gnupg',
  gpgv: 'gpgv',
  make: 'make',
  gcc: 'gcc',
};

export interface ToolOptions {
  cwd?: string;
  env?: Record<string, string>;
  /** Given to the program on standard input. */
  input?: string;
  /** Said before the program's own message on failure. */
  what?: string;
  /** Each non-empty line of output as it comes, for progress. */
  onLine?: (line: string) => void;
}

/** Runs a program and returns its standard output; a missing program or a failure is a one-line UserError naming it. */
export async function runTool(cmd: string, args: string[], opts: ToolOptions = {}): Promise<string> {
  try {
    const child = execa(cmd, args, { cwd: opts.cwd, env: opts.env, input: opts.input, all: true, stripFinalNewline: false });
    if (opts.onLine) {
      const onLine = opts.onLine;
      let rest = '';
      child.all?.on('data', (b: Buffer) => {
        const lines = (rest + b.toString()).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) onLine(l);
      });
    }
    return (await child).stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; shortMessage?: string };
    if (e.code === 'ENOENT') {
      const pkg = PACKAGE_OF[cmd];
      throw new UserError(`${cmd} not found${pkg ? `: install it (apt-get install ${pkg})` : ''}`, { code: 'tool-failed', cause: err });
    }
    const detail = (e.stderr ?? '').trim().split('\n').filter((l) => l.trim()).slice(-1)[0] ?? e.shortMessage ?? String(err);
    throw new UserError(`${opts.what ? `${opts.what}: ` : ''}${cmd} failed: ${detail}`, { code: 'tool-failed', cause: err });
  }
}

/** Whether `cmd` is an executable in a $PATH directory: to name a missing tool before work that would need it. */
export function isOnPath(cmd: string): boolean {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    try {
      accessSync(join(dir, cmd), constants.X_OK);
      return true;
    } catch {
      /* keep looking */
    }
  }
  return false;
}
