import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BoxShell, RunResult } from '../../src/remote/box-shell.js';
import { parseBoxLinks, readBoxLinks, readLinksScript } from '../../src/daytwo/box-links.js';
import { UserError } from '../../src/util/errors.js';

/** The real /bin/sh, readlink and base64 of this machine standing in for the box's. */
function localShell(): BoxShell & { runs: number } {
  return {
    runs: 0,
    async run(command: string): Promise<RunResult> {
      this.runs++;
      const r = spawnSync('/bin/sh', ['-c', `exec 2>&1\n${command}`], { maxBuffer: 16 * 1024 * 1024 });
      return { exitCode: r.status ?? -1, stdout: r.stdout.toString('utf8') };
    },
    async putFile() {
      throw new Error('no');
    },
    async close() {},
  };
}

test('links are read in one run: a symlink with its target (odd characters kept), a directory, a file, nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'obsbuild-box-links-'));
  try {
    mkdirSync(join(dir, 'd'));
    writeFileSync(join(dir, 'f'), 'x');
    symlinkSync('../init.d/hello', join(dir, 'rel'));
    symlinkSync(join(dir, 'd'), join(dir, 'to-dir'));
    symlinkSync('nowhere/at all', join(dir, 'dangling'));
    symlinkSync("it's\nodd\n", join(dir, 'odd'));
    symlinkSync('-rf', join(dir, 'dash'));
    const shell = localShell();
    const names = ['rel', 'to-dir', 'dangling', 'odd', 'dash', 'd', 'f', 'missing'];
    const got = await readBoxLinks(shell, names.map((n) => join(dir, n)));
    assert.equal(shell.runs, 1);
    assert.deepEqual(
      names.map((n) => got.get(join(dir, n))),
      [
        { kind: 'symlink', target: '../init.d/hello' },
        // a link to a directory is a link, not the directory it leads to
        { kind: 'symlink', target: join(dir, 'd') },
        { kind: 'symlink', target: 'nowhere/at all' },
        { kind: 'symlink', target: "it's\nodd\n" },
        { kind: 'symlink', target: '-rf' },
        { kind: 'dir' },
        { kind: 'other' },
        { kind: 'missing' },
      ],
    );
    assert.deepEqual(await readBoxLinks(shell, []), new Map(), 'no paths: nothing runs');
    assert.equal(shell.runs, 1);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the box's answer is parsed strictly: wrong order, a forged header, an endless target and a missing end are one-line errors", () => {
  const paths = ['/etc/a', '/etc/b'];
  const good = '@@obsbuild-links-begin\n@@obsbuild-link 0 L\nLi4vaGVsbG8K\n@@obsbuild-link 1 M\n@@obsbuild-links-end\n';
  assert.deepEqual(parseBoxLinks(`motd printed first\n${good}`, paths), [{ kind: 'symlink', target: '../hello' }, { kind: 'missing' }]);
  const refused = (output: string, pattern: RegExp) =>
    assert.throws(() => parseBoxLinks(output, paths, 'box1'), (e: unknown) => e instanceof UserError && pattern.test(e.message) && !e.message.includes('\n'));
  refused(good.replace('link 0 L', 'link 1 L'), /^box1: unexpected output while reading links: link #1 where #0/);
  refused(good.replace('@@obsbuild-links-end\n', ''), /no end marker/);
  refused(good.replace('Li4vaGVsbG8K', '@@obsbuild-link 0 M'), /unexpected output/);
  refused(good.replace('Li4vaGVsbG8K', ''), /\/etc\/a: no link target/);
  refused(good.replace('Li4vaGVsbG8K', 'QUFB\n'.repeat(2000)), /a link target longer than 4096 bytes/);
  refused('no markers at all\n', /no start marker/);
  refused(`${good}${'x'.repeat(20_000_000)}`, /more than the links can account for/);
});

test('the script quotes every path for the shell', () => {
  const script = readLinksScript(["/etc/it's here"]);
  assert.match(script, /^l 0 '\/etc\/it'\\''s here'$/m);
});
