import { execa } from 'execa';
import { UserError } from '../util/errors.js';

/** The Debian package that provides each external tool, for the "not found" message. */
const PACKAGE_OF: Record<string, string> = {
  mke2fs: 'e2fsprogs',
  debugfs: 'e2fsprogs',
  dumpe2fs: 'e2fsprogs',
  'mkfs.fat': 'dosfstools',
  mcopy: 'mtools',
  findmnt: 'util-linux',
  blkid: 'util-linux',
};

/** Runs a tool; a missing tool or a failure becomes a one-line UserError naming it. */
export async function runTool(
  cmd: string,
  args: string[],
  opts: { env?: Record<string, string>; input?: string; what?: string } = {},
): Promise<string> {
  try {
    const r = await execa(cmd, args, { env: opts.env, input: opts.input, stripFinalNewline: false });
    return r.stdout;
  } catch (err) {
    const e = err as { code?: string; stderr?: string; shortMessage?: string };
    if (e.code === 'ENOENT') {
      const pkg = PACKAGE_OF[cmd];
      throw new UserError(`${cmd} not found${pkg ? `: install ${pkg}` : ''}`);
    }
    const detail = (e.stderr ?? '').trim().split('\n').filter((l) => l.trim()).slice(-1)[0] ?? e.shortMessage ?? String(err);
    throw new UserError(`${opts.what ? `${opts.what}: ` : ''}${cmd} failed: ${detail}`);
  }
}
