import { createTwoFilesPatch } from 'diff';

/** Files bigger than this are compared by hash only: a config file is a few kilobytes. */
export const DIFF_MAX_BYTES = 256 * 1024;
/** Lines of a patch shown before the rest is summarised. */
export const DIFF_MAX_LINES = 200;

/**
 * A unified diff (`diff -u` format) from what is there to what should be, for showing a person which lines
 * differ. Binary or oversized content gets one line saying so instead, never a wall of bytes.
 */
export function unifiedDiff(path: string, have: Buffer | string, want: Buffer | string, labels = { have: 'box', want: 'site' }): string {
  const a = typeof have === 'string' ? Buffer.from(have) : have;
  const b = typeof want === 'string' ? Buffer.from(want) : want;
  if (a.length > DIFF_MAX_BYTES || b.length > DIFF_MAX_BYTES) return `${path}: larger than ${DIFF_MAX_BYTES} bytes, diff not shown\n`;
  if (a.includes(0) || b.includes(0)) return `${path}: binary content, diff not shown\n`;
  const patch = createTwoFilesPatch(`${labels.have}${path}`, `${labels.want}${path}`, a.toString('utf8'), b.toString('utf8'), '', '', { context: 3 });
  // createTwoFilesPatch starts with an Index/==== header that `diff -u` does not print
  const lines = patch
    .split('\n')
    .filter((l, i) => !(i < 2 && (l.startsWith('Index:') || l.startsWith('===='))))
    .map((l) => (l.startsWith('--- ') || l.startsWith('+++ ') ? l.replace(/\t$/, '') : l));
  while (lines.length && lines[lines.length - 1] === '') lines.pop();
  if (lines.length > DIFF_MAX_LINES) {
    const more = lines.length - DIFF_MAX_LINES;
    return `${lines.slice(0, DIFF_MAX_LINES).join('\n')}\n... ${more} more line(s)\n`;
  }
  return `${lines.join('\n')}\n`;
}
