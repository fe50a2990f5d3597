import { open } from 'node:fs/promises';
import { UserError, type ErrorCode } from './errors.js';

export interface BoundedRead {
  /** Why a bigger file is not one, for "larger than N MiB; <why>". */
  why: string;
  code: ErrorCode;
}

/**
 * A whole small file (a site file, an inventory, a manifest) read with a cap: one byte more than `max` is
 * read, never the rest, so /dev/zero or a huge file costs max bytes, not memory without end. A file that
 * cannot be opened or read throws the system's error, for the caller to name in its own words.
 */
export async function readTextBounded(file: string, max: number, o: BoundedRead): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(max + 1);
    let got = 0;
    while (got < buf.length) {
      const { bytesRead } = await fh.read(buf, got, buf.length - got, null);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got > max) throw new UserError(`${file}: larger than ${max / (1 << 20)} MiB; ${o.why}`, { code: o.code });
    return buf.toString('utf8', 0, got);
  } finally {
    await fh.close();
  }
}
