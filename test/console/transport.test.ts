import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rename, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SerialTransport, choosePort, type Gap } from '../../src/console/transport.js';
import { Board, PtyPair, sleep, waitFor } from './simulator.js';

test('a pty path is accepted as --port although serial listing never shows ptys', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-transport-'));
  const pair = new PtyPair(join(dir, 'A'), join(dir, 'B'));
  try {
    await pair.start();
    assert.equal(await choosePort(pair.consolePath), pair.consolePath);
    await assert.rejects(choosePort(join(dir, 'nope')), /nope: no such serial port/);
  } finally {
    await pair.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('watchdog: when the device node is replaced under an open port (re-enumeration, no close event), the port is reopened', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-transport-'));
  const first = new PtyPair(join(dir, 'A'), join(dir, 'B'));
  const second = new PtyPair(join(dir, 'A2'), join(dir, 'B2'));
  const t = new SerialTransport({ path: first.consolePath, baudRate: 115200, pollMs: 50 });
  const b2 = new Board(second.boardPath);
  try {
    await first.start();
    await second.start();
    const got: string[] = [];
    const events: string[] = [];
    t.on('data', (b: Buffer) => got.push(b.toString()));
    t.on('down', (r: string) => events.push(`down: ${r}`));
    t.on('up', (g: Gap) => events.push(`up after ${g.ms} ms`));
    await t.open(); // set/get of modem lines fail with ENOTTY on a pty; open must still work
    await b2.open();
    // the old pty stays alive and open; only the name now points at another device
    await rename(second.consolePath, first.consolePath);
    await waitFor(() => events.some((e) => e.startsWith('up')), 3000, 'reopen');
    assert.match(events[0], /down: device node replaced/);
    b2.write('hello from the new adapter\r\n');
    await waitFor(() => got.join('').includes('hello from the new adapter'), 3000, 'data on the new device');
    await t.write('ping\r');
    await waitFor(() => b2.received.includes('ping'), 3000, 'write to the new device');
  } finally {
    await t.close();
    await b2.shutdown();
    await first.stop();
    await second.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('writes while the adapter is away fail fast instead of hanging; close stops the watchdog', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-transport-'));
  const pair = new PtyPair(join(dir, 'A'), join(dir, 'B'));
  const t = new SerialTransport({ path: pair.consolePath, baudRate: 115200, pollMs: 50 });
  try {
    await pair.start();
    await t.open();
    await pair.stop();
    await waitFor(() => !t.connected, 3000, 'disconnect');
    await assert.rejects(t.write('x'), /disconnected/);
    await t.close();
    await sleep(150);
  } finally {
    await pair.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
