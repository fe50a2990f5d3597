import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CaptureOverflow, Expecter, TIMEOUT } from '../../src/console/expect.js';
import { EscapeStripper, stripEscapes, visible } from '../../src/console/ansi.js';

test('escape sequences are stripped for matching, even when split across reads', () => {
  const s = new EscapeStripper();
  const parts = ['\x1b[?20', '04hroot@obs600:~# \x1b', '[6n', '\x1b]0;title\x07ok\x1b[1;32mgreen\x1b[0m\r\n'];
  assert.equal(parts.map((p) => s.push(p)).join(''), 'root@obs600:~# okgreen\n');
  assert.equal(stripEscapes('a\x1b(Bb\x00c'), 'abc');
  assert.equal(visible('\x1b[6n\r'), '\\e[6n\\r');
});

test('a prompt without a newline matches on the raw stream, after busybox ESC[6n', async () => {
  const ex = new Expecter();
  const p = ex.expect([/Password: ?$/, /[#$] ?$/], 1000);
  ex.feed(Buffer.from('Linux obs600\r\nroot@obs600:~# '));
  ex.feed(Buffer.from('\x1b[6n'));
  const r = await p;
  assert.equal(r.index, 1);
  assert.equal(r.before, 'Linux obs600\nroot@obs600:~');
});

test('the earliest match in the stream wins, later text stays for the next expect', async () => {
  const ex = new Expecter();
  ex.feed(Buffer.from('one two three'));
  const r = await ex.expect(['three', 'two'], 100);
  assert.equal(r.index, 1);
  assert.equal(ex.pending, ' three');
  const again = await ex.expect(['three'], 100);
  assert.equal(again.index, 0);
});

test('a timeout comes back as TIMEOUT with what was seen', async () => {
  const ex = new Expecter();
  ex.feed(Buffer.from('no prompt here'));
  const t0 = Date.now();
  const r = await ex.expect(['login:'], 100);
  assert.equal(r.index, TIMEOUT);
  assert.equal(r.before, 'no prompt here');
  assert.ok(Date.now() - t0 >= 90);
});

test('a fault rejects the waiting expect and every later one', async () => {
  const ex = new Expecter();
  const p = ex.expect(['login:'], 5000);
  ex.fail(new Error('panic'));
  await assert.rejects(p, /panic/);
  await assert.rejects(ex.expect(['x'], 10), /panic/);
});

test('lines are emitted whole across chunks; the match window stays bounded', () => {
  const ex = new Expecter({ windowChars: 100, maxLineChars: 50 });
  const lines: string[] = [];
  ex.on('line', (l: string) => lines.push(l));
  ex.feed(Buffer.from('obsbuild-install: [1/'));
  ex.feed(Buffer.from('8] checking files\r\n'));
  ex.feed(Buffer.from('x'.repeat(120)));
  assert.equal(lines[0], 'obsbuild-install: [1/8] checking files');
  assert.equal(lines.length, 3); // two 50-char pieces of the long run
  assert.ok(ex.pending.length <= 100);
  assert.equal(ex.currentLine, 'x'.repeat(20));
});

test('UTF-8 split across reads is decoded, not mangled', () => {
  const ex = new Expecter();
  const lines: string[] = [];
  ex.on('line', (l: string) => lines.push(l));
  const b = Buffer.from('設定 ok\n');
  ex.feed(b.subarray(0, 2));
  ex.feed(b.subarray(2));
  assert.deepEqual(lines, ['設定 ok']);
});

test('a login expect over a flood without spaces or line ends stays linear, and still matches the prompt after it', async () => {
  const { LOGIN_PROMPT_RE } = await import('../../src/console/shell.js');
  const ex = new Expecter();
  const p = ex.expect([LOGIN_PROMPT_RE, /[Pp]assword: ?$/, /Login incorrect/, /[#$] ?$/], 30_000);
  const chunk = Buffer.from('A'.repeat(4096));
  const t0 = Date.now();
  for (let i = 0; i < 64; i++) ex.feed(chunk); // 256 KiB; the 16 KiB window stays full
  const took = Date.now() - t0;
  assert.ok(took < 1500, `feeding 256 KiB took ${took} ms`);
  for (const b of Buffer.from('\r\nobs600 login: ')) ex.feed(Buffer.from([b]));
  const r = await p;
  assert.equal(r.index, 0);
  assert.ok(ex.pending.length <= 16384);
});

test('a command whose output is longer than the match window still gives its exit status', async () => {
  const { Shell } = await import('../../src/console/shell.js');
  const ex = new Expecter({ windowChars: 4096 });
  let prompt = '';
  // a scripted board: takes the new prompt, then answers every command with its markers around the output
  const answer = (text: string) => {
    const ps1 = /PS1='obs-''(\w+)# '/.exec(text);
    if (ps1) prompt = `obs-${ps1[1]}# `;
    const m = /echo "(@@\w+)""(\w+@@)"; \{ (.*); \}/.exec(text);
    const body = m?.[3] === 'big' ? `${'x'.repeat(79)}\n`.repeat(200) : ''; // 16000 characters
    ex.feed(Buffer.from(m ? `${m[1]}${m[2]}\n${body}${m[1]}${m[2]}=3\n${prompt}` : prompt));
  };
  const shell = new Shell({ expecter: ex, send: async (text) => void setImmediate(() => answer(text)) });
  await shell.setup(2000);
  const r = await shell.run('big', 1000);
  assert.equal(r.exitCode, 3);
  assert.ok(r.output.endsWith(`${'x'.repeat(79)}\n`));
  assert.ok(r.output.length <= 4096);
});

test('captureChars: a text between two matches far longer than the window comes back whole, in linear time; past the cap every expect fails', async () => {
  const ex = new Expecter({ windowChars: 1024, captureChars: 64 * 1024 });
  const head = ex.expect(['<start>'], 1000);
  ex.feed(Buffer.from('noise <start>'));
  await head;
  const body = Array.from({ length: 2000 }, (_, i) => `line ${i}\n`).join(''); // about 17 KB
  const tail = ex.expect([/<end=(\d+)>/], 1000);
  for (let i = 0; i < body.length; i += 7) ex.feed(Buffer.from(body.slice(i, i + 7)));
  ex.feed(Buffer.from('<end=0>rest'));
  const r = await tail;
  assert.equal(r.before, body);
  assert.equal(ex.pending, 'rest');
  // a second round starts empty: nothing of the first one is kept
  const again = ex.expect(['<x>'], 1000);
  ex.feed(Buffer.from('short<x>'));
  assert.equal((await again).before, 'rest' + 'short');

  // 2 MB in small chunks stays fast: the pieces are joined once, not once per chunk
  const big = new Expecter({ windowChars: 16384, captureChars: 4 * 1024 * 1024 });
  const heapBefore = process.memoryUsage().heapUsed;
  const started = Date.now();
  const done = big.expect(['<done>'], 30_000);
  const chunk = Buffer.from('x'.repeat(63) + '\n');
  for (let i = 0; i < 32768; i++) big.feed(chunk);
  // each kept piece must not hold on to the whole window it was cut from (32768 windows would be 512 MB)
  const grown = process.memoryUsage().heapUsed - heapBefore;
  assert.ok(grown < 200e6, `heap grew ${Math.round(grown / 1e6)} MB for 2 MB of text`);
  big.feed(Buffer.from('<done>'));
  assert.equal((await done).before.length, 32768 * 64);
  assert.ok(Date.now() - started < 5000, `${Date.now() - started} ms`);

  const small = new Expecter({ windowChars: 1024, captureChars: 4096 });
  const p = small.expect(['never'], 1000);
  small.feed(Buffer.from('y'.repeat(5000)));
  await assert.rejects(p, (e: Error) => e instanceof CaptureOverflow && e.limitChars === 4096);
  await assert.rejects(small.expect(['y'], 100), CaptureOverflow);
});
