import { open } from 'node:fs/promises';
import { basename } from 'node:path';
import { UserError } from '../../util/errors.js';
import type { InputsReport } from '../../inputs/inspect.js';
import type { Epoch, ImageOptions } from '../pipeline.js';
import type { Step } from '../recipe.js';

/**
 * The one timestamp every generated file, tar entry and output gets, so two builds from the same inputs
 * are byte-identical. In order:
 *   1. SOURCE_DATE_EPOCH (reproducible-builds.org), when set;
 *   2. the MTIME in the rootfs tarball's gzip header, when the tool that made it recorded one;
 *   3. the date in the rootfs file name (Plat'Home's lenny-powerpc-obs600-YYYYMMDD-NN.tar.gz), 00:00 UTC;
 *   4. 0 (1970-01-01).
 * All but the first depend only on the input bytes and name, never on the clock or on file mtimes
 * (which a copy or a git checkout changes).
 */
export async function chooseEpoch(env: NodeJS.ProcessEnv, rootfsPath: string): Promise<Epoch> {
  const fromEnv = env.SOURCE_DATE_EPOCH;
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!/^\d{1,12}$/.test(fromEnv)) throw new UserError(`SOURCE_DATE_EPOCH must be a whole number of seconds, not "${fromEnv}"`, { code: 'user-error' });
    return { value: Number(fromEnv), source: 'SOURCE_DATE_EPOCH' };
  }
  const gzipTime = await gzipMtime(rootfsPath);
  if (gzipTime > 0) return { value: gzipTime, source: `gzip header of ${basename(rootfsPath)}` };
  const dated = /-(\d{4})(\d{2})(\d{2})-\d+\.tar\.gz$/.exec(basename(rootfsPath));
  if (dated) {
    const value = Date.UTC(Number(dated[1]), Number(dated[2]) - 1, Number(dated[3])) / 1000;
    if (Number.isFinite(value) && value > 0) return { value, source: `date in ${basename(rootfsPath)}` };
  }
  return { value: 0, source: 'no date in the inputs' };
}

/** Bytes 4..7 of a gzip member, little-endian: the original file's mtime, 0 when not recorded. */
export async function gzipMtime(file: string): Promise<number> {
  const fh = await open(file, 'r');
  try {
    const head = Buffer.alloc(10);
    const { bytesRead } = await fh.read(head, 0, 10, 0);
    if (bytesRead < 10 || head[0] !== 0x1f || head[1] !== 0x8b) return 0;
    return head.readUInt32LE(4);
  } finally {
    await fh.close();
  }
}

export const epochStep: Step<{ options: Pick<ImageOptions, 'env'>; inputs: InputsReport }, { epoch: Epoch }> = {
  name: 'build time',
  async run({ options, inputs }, progress) {
    const epoch = await chooseEpoch(options.env, inputs.files.rootfs.path);
    progress.note(`${new Date(epoch.value * 1000).toISOString().replace('.000Z', 'Z')} (${epoch.source})`);
    return { epoch };
  },
};
