/**
 * The test side's one ar writer (the .deb container): crafted and fuzzed packages are built from it, so
 * their member headers are laid out the same way as the reader in src/debian/ar.ts expects.
 */

/** One ar member header (60 bytes): each field space-padded to its width and cut to it, the size written as given. */
export function arHeader(name: string, size: number | string, mtime = '0'): Buffer {
  const field = (v: string, n: number) => v.padEnd(n, ' ').slice(0, n);
  return Buffer.from(
    field(name, 16) + field(mtime, 12) + field('0', 6) + field('0', 6) + field('100644', 8) + field(String(size), 10) + '`\n',
    'latin1',
  );
}

/** An ar archive of `members` in order, each padded to an even offset as ar does; `mtime` in every header. */
export function arArchive(members: [string, Buffer][], mtime = '0'): Buffer {
  const parts: Buffer[] = [Buffer.from('!<arch>\n', 'latin1')];
  for (const [name, data] of members) {
    parts.push(arHeader(name, data.length, mtime), data);
    if (data.length % 2) parts.push(Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}
