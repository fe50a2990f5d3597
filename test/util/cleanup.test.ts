import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pendingCleanups, registerCleanup, runCleanups } from '../../src/util/cleanup.js';

test('registered cleanups run once, the most recent first, and are then forgotten', () => {
  const ran: string[] = [];
  registerCleanup(() => ran.push('first'));
  registerCleanup(() => ran.push('second'));
  assert.equal(pendingCleanups(), 2);
  assert.deepEqual(runCleanups(), []);
  assert.deepEqual(ran, ['second', 'first']);
  assert.equal(pendingCleanups(), 0);
  runCleanups();
  assert.deepEqual(ran, ['second', 'first'], 'a second run has nothing left to do');
});

test('an unregistered cleanup does not run; unregistering twice is harmless', () => {
  const ran: string[] = [];
  const unregister = registerCleanup(() => ran.push('gone'));
  registerCleanup(() => ran.push('kept'));
  unregister();
  unregister();
  runCleanups();
  assert.deepEqual(ran, ['kept']);
});

test('the same function registered twice runs twice until each registration is removed', () => {
  let n = 0;
  const bump = () => n++;
  const first = registerCleanup(bump);
  registerCleanup(bump);
  first();
  runCleanups();
  assert.equal(n, 1);
});

test('a failing cleanup does not stop the others; its error is returned', () => {
  const dir = mkdtempSync(join(tmpdir(), 'obsbuild-cleanup-'));
  try {
    const temp = join(dir, '.download.tmp');
    writeFileSync(temp, 'half a file');
    registerCleanup(() => rmSync(temp, { force: true }));
    registerCleanup(() => {
      throw new Error('cannot remove');
    });
    const errors = runCleanups();
    assert.equal(errors.length, 1);
    assert.match(String((errors[0] as Error).message), /cannot remove/);
    assert.equal(existsSync(temp), false, 'the earlier cleanup still ran');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
