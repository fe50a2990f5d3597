import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { writeFileAtomically } from '../util/atomic.js';
import { UserError } from '../util/errors.js';

/**
 * MD5SUMS in `md5sum -c` format (`<hex>  <path>`, text mode, paths relative to the folder): what the
 * generated msf_init.sh checks with busybox md5sum before it touches the CF card. MD5 because it is
 * the checksum every busybox has; it guards against corrupt copies, not against tampering.
 */
export const MD5SUMS_NAME = 'MD5SUMS';

export async function md5File(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

/** Every regular file under dir (relative POSIX paths, sorted), except MD5SUMS at the top. */
export async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(join(dir, prefix), { withFileTypes: true });
  for (const e of entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const rel = prefix ? posix.join(prefix, e.name) : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(dir, rel)));
    else if (e.isFile() && rel !== MD5SUMS_NAME) out.push(rel);
  }
  return out;
}

export function formatMd5sums(entries: { path: string; md5: string }[]): string {
  return entries.map((e) => {
    if (/[\n\\]/.test(e.path) || /\s/.test(e.path)) throw new UserError(`${e.path}: file names on the stick must not contain spaces or backslashes`, { code: 'input-invalid' });
    return `${e.md5}  ${e.path}\n`;
  }).join('');
}

export function parseMd5sums(text: string, file = MD5SUMS_NAME): { path: string; md5: string }[] {
  return text.split('\n').filter((l) => l.length > 0).map((line, i) => {
    const m = /^([0-9a-f]{32}) [ *](.+)$/.exec(line);
    if (!m) throw new UserError(`${file}:${i + 1}: not an md5sum line`, { code: 'verify-failed' });
    return { md5: m[1], path: m[2] };
  });
}

/** Writes msfDir/MD5SUMS over every file in msfDir (recursively) except MD5SUMS itself. */
export async function writeMd5sums(msfDir: string): Promise<{ path: string; md5: string }[]> {
  const entries: { path: string; md5: string }[] = [];
  for (const path of await listFiles(msfDir)) entries.push({ path, md5: await md5File(join(msfDir, path)) });
  await writeFileAtomically(join(msfDir, MD5SUMS_NAME), formatMd5sums(entries));
  return entries;
}

/** Checks every file MD5SUMS lists; returns the paths that are missing or differ. */
export async function verifyMd5sums(msfDir: string): Promise<string[]> {
  const listed = parseMd5sums(await readFile(join(msfDir, MD5SUMS_NAME), 'utf8'), join(msfDir, MD5SUMS_NAME));
  const bad: string[] = [];
  for (const e of listed) {
    let actual: string | undefined;
    try {
      actual = await md5File(join(msfDir, e.path));
    } catch {
      actual = undefined;
    }
    if (actual !== e.md5) bad.push(e.path);
  }
  return bad;
}
