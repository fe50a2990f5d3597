/**
 * Parsers that misbehave on purpose, to prove the harness catches each kind of failure (a hang in
 * synchronous code, a promise that never settles, memory growth, a TypeError, a message over two lines, one that does not name the
 * file). Registered in the worker only when OBSBUILD_FUZZ_SELFTEST=1.
 */
import { UserError } from '../../src/util/errors.js';
import type { Target } from './targets.js';

function fake(name: string, run: (file: string) => Promise<void>): Target {
  return {
    name,
    describe: `self-test: ${name}`,
    load: () => [{ name: 'empty', bytes: Buffer.alloc(1) }],
    mutate: (_rng, fixtures) => ({ fixture: fixtures[0].name, fileName: 'input.bin', bytes: fixtures[0].bytes, ops: ['none'] }),
    run,
  };
}

export const SELFTEST_TARGETS: Record<string, Target> = {
  'selftest-ok': fake('selftest-ok', async (file) => {
    throw new UserError(`${file}: rejected properly`);
  }),
  'selftest-hang': fake('selftest-hang', async () => {
    for (;;) {
      // a synchronous loop: only killing the process stops it
    }
  }),
  'selftest-never': fake('selftest-never', () => new Promise<void>(() => {})),
  'selftest-memory': fake('selftest-memory', async () => {
    const hold: Buffer[] = [];
    for (let i = 0; i < 64; i++) hold.push(Buffer.alloc(16 << 20, 1));
    await new Promise((r) => setTimeout(r, 500));
    hold.length = 0;
  }),
  'selftest-typeerror': fake('selftest-typeerror', async () => {
    (undefined as unknown as { x: number }).x;
  }),
  'selftest-multiline': fake('selftest-multiline', async (file) => {
    // UserError escapes line breaks itself; the harness must still catch one that gets through
    const err = new UserError(`${file}: first line`);
    err.message = `${file}: first line\nsecond line`;
    throw err;
  }),
  'selftest-unnamed': fake('selftest-unnamed', async () => {
    throw new UserError('something is wrong somewhere');
  }),
};
