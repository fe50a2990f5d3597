/** A test site: the nat-single fixture with more keys appended, loaded from a temp file. */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite, type LoadedSite } from '../../src/site/load.js';
import { repoRoot } from '../helpers/cli.js';

const NAT_SINGLE = join(repoRoot, 'test/fixtures/sites/nat-single.yaml');

/** The nat-single fixture with `more` appended (and `board:` replaced when given), loaded from a temp file. */
export async function siteWith(more: string, board?: string): Promise<LoadedSite> {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-ntp-'));
  try {
    let text = await readFile(NAT_SINGLE, 'utf8');
    if (board) text = text.replace(/^board: .*$/m, `board: ${board}`);
    await writeFile(join(dir, 'site.yaml'), `${text}${more}`);
    return await loadSite(join(dir, 'site.yaml'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

