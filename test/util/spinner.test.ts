import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { canSpin } from '../../src/util/spinner.js';

const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

test('no spinner on a terminal without a width, nor on a pipe', () => {
  assert.equal(canSpin({ isTTY: true, columns: 0 } as NodeJS.WriteStream), false);
  assert.equal(canSpin({ isTTY: false, columns: 80 } as unknown as NodeJS.WriteStream), false);
  assert.equal(canSpin({ isTTY: true, columns: 80 } as NodeJS.WriteStream), true);
});

test('on a pseudo-terminal without a width (script run from a pipe) a command finishes instead of redrawing forever', (t) => {
  // util-linux `script` gives the command a pty of 0 columns. An ora spinner there clears "lines" without
  // end at full CPU: `obsbuild vm --check` never saw the board's console.
  const r = spawnSync('script', ['-qec', `${process.execPath} ${cli} inspect --inputs /nonexistent/obsbuild-inputs`, '/dev/null'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 20_000,
  });
  if (r.error && (r.error as NodeJS.ErrnoException).code === 'ENOENT') return t.skip('util-linux script is not installed');
  assert.equal(r.signal, null, 'the command hung and was killed');
  assert.equal(r.status, 1);
  assert.match(String(r.stdout), /lenny-powerpc-obs600-20100119-00\.tar\.gz/);
});
