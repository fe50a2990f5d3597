import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readManifestFile } from '../../src/daytwo/manifest-file.js';
import { UserError } from '../../src/util/errors.js';

let dir: string;
before(() => (dir = mkdtempSync(join(tmpdir(), 'obsbuild-manifest-'))));
after(() => rmSync(dir, { recursive: true, force: true }));

test('a manifest gives its id and generated file list; anything else is one line naming the file', async () => {
  const file = join(dir, 'manifest.json');
  writeFileSync(file, JSON.stringify({ id: '0123456789abcdef', config: [{ path: '/etc/hosts', type: 'file' }], packages: [] }));
  const m = await readManifestFile(file);
  assert.equal(m.id, '0123456789abcdef');
  assert.deepEqual(m.config.map((f) => f.path), ['/etc/hosts']);

  const cases: [string, RegExp][] = [
    ['{', /not valid JSON/],
    ['[]', /not a manifest/],
    ['{"id":"xyz","config":[]}', /"id" is not a manifest id/],
    ['{"id":"0123456789abcdef"}', /"config" is not a list of files/],
    ['{"id":"0123456789abcdef","config":[{"path":"etc/hosts","type":"file"}]}', /config\[0\] is not a file entry/],
    ['{"id":"0123456789abcdef","config":[{"path":"/etc/a\\nb","type":"file"}]}', /config\[0\] is not a file entry/],
  ];
  for (const [text, why] of cases) {
    writeFileSync(file, text);
    await assert.rejects(readManifestFile(file), (e: unknown) => e instanceof UserError && e.message.startsWith(`${file}: `) && why.test(e.message));
  }
  await assert.rejects(readManifestFile(join(dir, 'none.json')), /none\.json: cannot read the manifest: ENOENT/);
  await assert.rejects(readManifestFile('/dev/zero'), /larger than 16 MiB; not a manifest\.json/);
});
