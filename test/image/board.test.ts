import assert from 'node:assert/strict';
import { test } from 'node:test';
import { boardFacts } from '../../src/site/board.js';

test('each board reads its own facts; vobs keeps the OBS600 stick and CF layout', () => {
  const real = boardFacts('obs600');
  const virtual = boardFacts('vobs');
  assert.equal(real.dpkgArchitecture, 'powerpc');
  assert.equal(virtual.dpkgArchitecture, 'amd64');
  assert.deepEqual(Object.keys(virtual).sort(), Object.keys(real).sort());
  for (const key of ['cfDevice', 'cfRootLabel', 'stickLabel', 'stickFolder', 'kernelImage', 'modulesArchive', 'stockRootHash'] as const) {
    assert.equal(virtual[key], real[key], key);
  }
  assert.match('lenny-powerpc-obs600-vobs.tar.gz', new RegExp(virtual.rootfsPattern));
});
