import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDirs, removeDirs } from '../../src/util/dirs.js';

test('makeDirs under /proc fails once with a UserError (Node\'s recursive mkdir loops there for ever)', async () => {
  await assert.rejects(makeDirs('/proc/obsbuild-x/y'), { name: 'UserError', message: /^\/proc\/obsbuild-x: cannot create the directory: ENOENT$/ });
});

test('makeDirs creates the missing levels and removeDirs takes back only the empty ones it made', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-dirs-'));
  try {
    const created = await makeDirs(join(dir, 'a', 'b', 'c'));
    assert.deepEqual(created, [join(dir, 'a'), join(dir, 'a', 'b'), join(dir, 'a', 'b', 'c')]);
    await writeFile(join(dir, 'a', 'keep'), '');
    await removeDirs(created);
    assert.deepEqual(await readdir(join(dir, 'a')), ['keep']);
    await assert.rejects(makeDirs(join(dir, 'a', 'keep', 'x')), { name: 'UserError', message: /keep: is not a directory/ });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
