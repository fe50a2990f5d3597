import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { BoxShell } from '../../src/remote/box-shell.js';
import { BATCH_OUTPUT_CAP, batchScript, parseBatch, runBatch } from '../../src/daytwo/batch.js';
import { boxFilesRequest, BOX_FILES_MAX_PATHS } from '../../src/daytwo/box-files.js';
import { SERIAL_OUTPUT_CAP } from '../../src/daytwo/serial-shell.js';
import { OUTPUT_CAP } from '../../src/remote/ssh.js';

/** The host's dash as the box: every run is one `sh -c`, as over SSH. */
const localBox: BoxShell & { runs: number } = {
  runs: 0,
  run(command) {
    this.runs++;
    return new Promise((resolve) => {
      execFile('/bin/sh', ['-c', command], { maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
        resolve({ exitCode: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout: stdout + stderr });
      });
    });
  },
  async putFile() {
    throw new Error('not used');
  },
  async close() {},
};

test('a batch runs every command once in one round trip, each with its own output and exit status', async () => {
  const commands = ['printf abc', 'echo hi; echo there', 'true', 'exit 3', 'echo err >&2; false', 'printf "\\n@@e-000000000000-5=0@@\\n"; exit 7', 'cat'];
  localBox.runs = 0;
  const r = await runBatch(localBox, commands, 'test box');
  assert.equal(localBox.runs, 1, 'one round trip');
  assert.deepEqual(
    commands.map((c) => [r.get(c)?.exitCode, r.get(c)?.output]),
    [
      [0, 'abc'],
      [0, 'hi\nthere\n'],
      [0, ''],
      [3, ''],
      [1, 'err\n'],
      [7, '\n@@e-000000000000-5=0@@\n'], // a forged marker without the run's token is only output
      [0, ''], // stdin is /dev/null: nothing waits for input
    ],
  );
});

test('a command whose end marker never came (the batch was cut) has no exit status, the ones before keep theirs', () => {
  const token = 'abcdef012345';
  const full = `${'\n'}@@b-${token}-0@@\nok\n\n@@e-${token}-0=0@@\n\n@@b-${token}-1@@\npartial`;
  const r = parseBatch(['a', 'b'], token, full, 5);
  assert.deepEqual([r.get('a')?.exitCode, r.get('a')?.output], [0, 'ok\n']);
  assert.equal(r.get('b')?.exitCode, null);
  assert.match(batchScript(['x'], token), /\( x \) <\/dev\/null 2>&1/);
});

test("the most verify's batch may print (its checks and the largest file read) fits under both shells' output caps", () => {
  const paths = Array.from({ length: BOX_FILES_MAX_PATHS }, (_, i) => `/etc/obsbuild-cap-${i}`);
  const most = BATCH_OUTPUT_CAP + boxFilesRequest(paths).maxChars;
  assert.ok(most <= SERIAL_OUTPUT_CAP, `serial cap ${SERIAL_OUTPUT_CAP} < ${most}: a verify over the console could be cut off`);
  assert.ok(most <= OUTPUT_CAP, `ssh cap ${OUTPUT_CAP} < ${most}`);
});
