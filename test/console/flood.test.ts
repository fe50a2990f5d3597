import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { SerialTransport } from '../../src/console/transport.js';
import { runConsole } from '../../src/console/session.js';
import { TranscriptFile } from '../../src/console/report.js';
import { TEST_BUDGETS } from './harness.js';
import { Sim, sleep, waitFor } from './simulator.js';

test('a flood from the pty fills the transcript only up to its cap; the file ends with the last lines and the verdict', async () => {
  const sim = await Sim.start();
  try {
    await sim.board.close(); // the flood writes to the board end itself
    const log = join(sim.dir, 'console.log');
    const cap = 512 * 1024;
    const tfile = await TranscriptFile.create(log, Date.now(), { maxBytes: cap });
    const stop = new AbortController();
    const run = runConsole({
      transport: new SerialTransport({ path: sim.consolePath, baudRate: 115200, pollMs: 100 }),
      portLabel: sim.consolePath,
      baudRate: 115200,
      mode: 'follow',
      user: 'root',
      password: 'root',
      budgets: { ...TEST_BUDGETS, boot: 60_000 },
      site: null,
      manifestId: null,
      transcript: tfile.transcript,
      signal: stop.signal,
    });
    await sleep(300);
    // base64 lines are good text with line ends: no detector fires, only the volume is wrong
    const flood = spawn('sh', ['-c', `exec base64 /dev/urandom > '${sim.pair.boardPath}'`], { stdio: 'ignore' });
    const floodStart = Date.now();
    // twice the cap has arrived (or the transcript kept growing past it, as it did before it had a cap)
    await waitFor(() => tfile.transcript.droppedBytes > cap || tfile.stream.bytesWritten > 4 * cap, 20_000, 'the flood to pass the cap').finally(() =>
      flood.kill('SIGTERM'),
    );
    const flooded = Date.now() - floodStart;
    await sleep(200);
    stop.abort();
    const report = await run;
    await tfile.finish();
    assert.equal(report.failure?.class, 'aborted', JSON.stringify(report.failure));
    const size = (await stat(log)).size;
    assert.ok(size > cap && size < cap + 64 * 1024, `transcript ${size} bytes`);
    const text = await readFile(log, 'latin1');
    assert.match(text, /-- \[transcript cut at 512 KiB|-- \[transcript cut at 524288 bytes/);
    const dropped = Number(/-- \[(\d+) bytes from the board are not in this file/.exec(text)?.[1]);
    assert.ok(dropped > cap, `${dropped} bytes left out after ${flooded} ms of flood`);
    assert.match(text, /-- last \| [A-Za-z0-9+/]{76}\n[^]*-- FAILED \(aborted\): stopped by the user before the verdict\n$/);
  } finally {
    await sim.stop();
  }
});
