import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, access } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LastLines, Transcript, TranscriptFile } from '../../src/console/report.js';

test('transcript lines carry the arrival time of their first byte; notes get their own line; bytes pass unchanged', () => {
  const out: string[] = [];
  const t = new Transcript({ write: (c: string | Buffer) => out.push(Buffer.isBuffer(c) ? c.toString('latin1') : c) }, 0);
  t.board(Buffer.from('root@obs600:~# \x1b[6n'), 1500);
  t.note('>>', 'depmod -a', 1600);
  t.board(Buffer.from('line1\r\nli'), 2000);
  t.board(Buffer.from('ne2\r\n'), 2500);
  t.gap({ from: new Date(3000), to: new Date(5300), ms: 2300 });
  const text = out.join('');
  const lines = text.split('\n');
  assert.equal(lines[0], '1970-01-01T00:00:01.500Z +   1.500 | root@obs600:~# \x1b[6n');
  assert.equal(lines[1], '1970-01-01T00:00:01.600Z +   1.600 >> depmod -a');
  assert.equal(lines[2], '1970-01-01T00:00:02.000Z +   2.000 | line1\r');
  assert.equal(lines[3], '1970-01-01T00:00:02.000Z +   2.000 | line2\r');
  assert.match(lines[4], /\+ {3}5\.300 -- \[disconnected 2\.3 s/);
});

test('a transcript file sits under .partial until finished', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-report-'));
  try {
    const f = await TranscriptFile.create(join(dir, 'sub', 'c.log'));
    f.transcript.board(Buffer.from('hello\n'));
    await assert.rejects(access(join(dir, 'sub', 'c.log')));
    await f.finish();
    assert.match(await readFile(join(dir, 'sub', 'c.log'), 'utf8'), /\| hello\n$/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('last lines are bounded', () => {
  const l = new LastLines(3);
  for (let i = 0; i < 10; i++) l.push(String(i));
  assert.deepEqual(l.get(), ['7', '8', '9']);
});

test('a transcript stops at its cap with a note, and ends with how much was left out and the last lines', () => {
  const out: Buffer[] = [];
  const t = new Transcript({ write: (c: string | Buffer) => out.push(Buffer.from(c)) }, 0, { maxBytes: 10_000 });
  const line = Buffer.from(`${'y'.repeat(97)}\r\n`);
  for (let i = 0; i < 1000; i++) t.board(line, 1000 + i); // 99 KB from the board
  t.note('--', 'phase boot', 3000);
  t.epilogue(['the last line', 'and its successor'], 4000);
  const text = Buffer.concat(out).toString('latin1');
  assert.ok(text.length < 12_000, `transcript ${text.length} bytes`);
  assert.equal(t.truncated, true);
  assert.match(text, /-- \[transcript cut at 10000 bytes: board output from here on is not written/);
  assert.match(text, /-- phase boot\n/);
  const dropped = Number(/-- \[(\d+) bytes from the board are not in this file \(the transcript was cut at 10000 bytes\)/.exec(text)?.[1]);
  assert.ok(dropped > 85_000 && dropped < 99_000, `dropped ${dropped}`);
  assert.match(text, /-- last \| the last line\n.*-- last \| and its successor\n$/);
});

test('board output is dropped, not queued in memory, while the disk is behind', () => {
  let queued = 0;
  const sink = { write: (c: string | Buffer) => (queued += Buffer.byteLength(c)), get writableLength() { return queued; } };
  const t = new Transcript(sink, 0);
  const chunk = Buffer.from(`${'z'.repeat(65_535)}\n`);
  for (let i = 0; i < 320; i++) t.board(chunk); // 20 MiB against a disk that never drains
  assert.ok(queued < 9 * 2 ** 20, `${queued} bytes queued`);
  assert.ok(t.droppedBytes > 11 * 2 ** 20);
});
