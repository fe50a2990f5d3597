import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { UserError } from '../util/errors.js';
import { checkImage } from './image-check.js';
import type { ImageIdentity } from './image-identity.js';
import { blockMapPathFor, readBlockMap, wholeImageMap, type BlockMap } from './bmap.js';

/** Which image `obsbuild flash` writes: --image, or the one out/<hostname>/stick.img there is. */
export async function findDefaultImage(outDir = 'out'): Promise<string> {
  let hosts: string[] = [];
  try {
    hosts = (await readdir(outDir)).sort();
  } catch {
    // no out/ yet: handled below
  }
  const found: string[] = [];
  for (const h of hosts) {
    const candidate = path.join(outDir, h, 'stick.img');
    try {
      if ((await stat(candidate)).isFile()) found.push(candidate);
    } catch {
      // not built for this host
    }
  }
  if (found.length === 1) return found[0];
  if (found.length === 0) throw new UserError(`${outDir}/*/stick.img: no stick image found; run obsbuild image first or pass --image FILE`, { code: 'input-invalid' });
  throw new UserError(`several stick images (${found.join(', ')}): pass --image to choose one`, { code: 'input-invalid' });
}

export interface ImageToFlash {
  image: string;
  map: BlockMap;
  /** false when there is no block map and the whole image is written */
  sparse: boolean;
  /** the file as it was checked; the flash refuses a file that differs from it */
  identity: ImageIdentity;
}

/** The image and its map, refused unless they can describe a real stick (see image-check.ts). */
export async function loadImage(image: string): Promise<ImageToFlash> {
  let st;
  try {
    st = await stat(image);
  } catch (err) {
    throw new UserError(`${image}: no such image; run obsbuild image first or pass --image FILE`, { code: 'input-invalid', cause: err });
  }
  if (!st.isFile()) throw new UserError(`${image}: not a regular file`, { code: 'input-invalid' });
  const mapFile = blockMapPathFor(image);
  let sparse = true;
  try {
    await stat(mapFile);
  } catch {
    sparse = false;
  }
  const map = sparse ? await readBlockMap(mapFile, image) : wholeImageMap(st.size);
  return { image, ...(await checkImage(image, map)), sparse };
}
