import { test } from 'node:test';
import assert from 'node:assert/strict';
import { BootCounter, LineQuality, PANIC_RE } from '../../src/console/faults.js';
import { parseMarker } from '../../src/contracts/markers.js';

test('installer and first-boot markers parse per the shared contract', () => {
  assert.deepEqual(parseMarker('obsbuild-install: [3/8] extracting rootfs'), { kind: 'install-step', n: 3, total: 8, name: 'extracting rootfs' });
  assert.deepEqual(parseMarker('obsbuild-install: done'), { kind: 'install-done' });
  assert.deepEqual(parseMarker('obsbuild-install: FAILED [3/8] extracting rootfs: tar: short read'), {
    kind: 'install-failed', n: 3, total: 8, name: 'extracting rootfs', reason: 'tar: short read',
  });
  assert.deepEqual(parseMarker('[   3.2] obsbuild-firstboot: [2/7] depmod -a'), { kind: 'firstboot-step', n: 2, total: 7, name: 'depmod -a' });
  assert.deepEqual(parseMarker('obsbuild-firstboot: [2/7] ok'), { kind: 'firstboot-ok', n: 2, total: 7 });
  assert.deepEqual(parseMarker('obsbuild-firstboot: [2/7] FAILED: exit 1'), { kind: 'firstboot-failed', n: 2, total: 7, reason: 'exit 1' });
  assert.deepEqual(parseMarker('obsbuild-firstboot: done manifest=abc123'), { kind: 'firstboot-done', manifestId: 'abc123' });
  assert.equal(parseMarker('echo obsbuild-install is great'), null);
});

test('panic and Oops lines are recognised, ordinary lines are not', () => {
  assert.match('Kernel panic - not syncing: Attempted to kill init!', PANIC_RE);
  assert.match('Oops: kernel access of bad area, sig: 11 [#1]', PANIC_RE);
  assert.match('BUG: unable to handle kernel NULL pointer dereference at 00000000', PANIC_RE);
  assert.doesNotMatch('Starting panic button daemon: ok', PANIC_RE);
  assert.doesNotMatch('Oopsie.txt copied', PANIC_RE);
});

test('U-Boot banner and the following Linux banner count as one boot', () => {
  const c = new BootCounter();
  assert.equal(c.line('U-Boot 1.3.4 (Nov 10 2009)'), true);
  assert.equal(c.line('Linux version 2.6.29 (root@x)'), false);
  assert.equal(c.line('Linux version 2.6.29 (root@x)'), true); // no firmware banner: a new boot
  assert.equal(c.boots, 2);
});

test('line quality: kernel text with UTF-8 is fine, framing junk is a wrong baud rate', () => {
  const good = new LineQuality();
  good.push(Buffer.from('[    0.5] serial8250: ttyS0 — 16550A\r\n'.repeat(30)));
  assert.equal(good.verdict().wrongBaud, false);
  const bad = new LineQuality();
  const junk = Buffer.from(Array.from({ length: 400 }, (_, i) => [0x00, 0xf8, 0x80, 0x66, 0xfe][i % 5]));
  bad.push(junk);
  const v = bad.verdict();
  assert.equal(v.wrongBaud, true);
  assert.ok(v.textRatio < 0.5);
  const tiny = new LineQuality();
  tiny.push(Buffer.from([0xff, 0x00, 0xfe])); // power-on glitch: too few bytes to judge
  assert.equal(tiny.verdict().wrongBaud, false);
});

test('a marker printed twice (stdout and /dev/console) counts once', async () => {
  const { Expecter } = await import('../../src/console/expect.js');
  const { PhaseMachine, DEFAULT_BUDGETS } = await import('../../src/console/phases.js');
  const ex = new Expecter();
  const m = new PhaseMachine(ex, DEFAULT_BUDGETS, 'start');
  for (const l of ['obsbuild-install: [1/2] a', 'obsbuild-install: [1/2] a', 'obsbuild-install: [2/2] b', 'obsbuild-install: [2/2] b', 'obsbuild-install: done', 'obsbuild-install: done']) {
    m.onBytes(Buffer.from(l));
    ex.feed(Buffer.from(`${l}\r\n`));
  }
  assert.deepEqual(m.steps.map((s) => `${s.n}:${s.name}`), ['1:a', '2:b', '0:done']);
  assert.deepEqual(m.phases.map((p) => p.name), ['waiting', 'boot', 'installer', 'install-done']);
  m.finish(true);
});

test('line quality: good text without a line end is not a wrong baud rate; its run is counted across pushes', () => {
  const q = new LineQuality();
  const text = Buffer.from('ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.repeat(10));
  q.push(text);
  q.push(text);
  const v = q.verdict();
  assert.equal(v.textRatio, 1);
  assert.equal(v.wrongBaud, false);
  assert.equal(q.lineRun, 2 * text.length);
  q.push(Buffer.from('end\r\nnext'));
  assert.equal(q.lineRun, 4);
});
