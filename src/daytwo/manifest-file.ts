/**
 * Reading a build's manifest.json for a day-two command: its id (compared with the box's manifest-id) and
 * the generated files it lists (to find files the site no longer renders). Read bounded; only the fields
 * used here are checked, each problem one line naming the file.
 */
import { posix } from 'node:path';
import { MANIFEST_ID_HEX, type Manifest } from '../contracts/manifest.js';
import { UserError } from '../util/errors.js';
import { readTextBounded } from '../util/read-bounded.js';

/** A manifest lists a few hundred packages and files: a few hundred kilobytes. */
export const MANIFEST_MAX_BYTES = 16 * 1024 * 1024;
const MAX_CONFIG_FILES = 10_000;

/** The manifest at `file`; `id` and `config` are checked, the other fields are passed through as read. */
export async function readManifestFile(file: string): Promise<Manifest> {
  let text: string;
  try {
    text = await readTextBounded(file, MANIFEST_MAX_BYTES, { why: 'not a manifest.json', code: 'input-invalid' });
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${file}: cannot read the manifest: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { code: 'input-invalid', cause: err });
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch {
    throw new UserError(`${file}: not valid JSON`, { code: 'input-invalid' });
  }
  if (!data || typeof data !== 'object' || Array.isArray(data)) throw new UserError(`${file}: not a manifest (a JSON object with "id" and "config")`, { code: 'input-invalid' });
  const m = data as Record<string, unknown>;
  if (typeof m.id !== 'string' || !new RegExp(`^[0-9a-f]{${MANIFEST_ID_HEX}}$`).test(m.id)) throw new UserError(`${file}: "id" is not a manifest id (${MANIFEST_ID_HEX} hex digits)`, { code: 'input-invalid' });
  if (!Array.isArray(m.config) || m.config.length > MAX_CONFIG_FILES) throw new UserError(`${file}: "config" is not a list of files`, { code: 'input-invalid' });
  m.config.forEach((f: unknown, i: number) => {
    const e = f as Record<string, unknown> | null;
    const ok =
      !!e &&
      typeof e === 'object' &&
      typeof e.path === 'string' &&
      posix.isAbsolute(e.path) &&
      e.path.length <= 4096 &&
      !/[\x00-\x1f\x7f]/.test(e.path) &&
      (e.type === 'file' || e.type === 'dir' || e.type === 'symlink');
    if (!ok) throw new UserError(`${file}: config[${i}] is not a file entry (absolute "path", "type" file, dir or symlink)`, { code: 'input-invalid' });
  });
  return data as Manifest;
}
