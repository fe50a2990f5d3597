import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DO, DONT, IAC, OPT_BINARY, OPT_COM_PORT, SB, SE, TelnetDecoder, WILL, WONT, comPortCommand, encodeData, lineSettings } from '../../src/console/telnet.js';

function decoder() {
  const data: Buffer[] = [];
  const replies: Buffer[] = [];
  const subs: [number, Buffer][] = [];
  const d = new TelnetDecoder({ data: (b) => data.push(Buffer.from(b)), reply: (b) => replies.push(b), subnegotiation: (o, p) => subs.push([o, p]) });
  return { d, data: () => Buffer.concat(data), replies, subs };
}

test('data passes through; IAC IAC is one 0xFF; commands split across chunks are still commands', () => {
  const t = decoder();
  const bytes = Buffer.from([0x41, IAC, IAC, 0x42, IAC, DO, OPT_BINARY, 0x43, IAC, SB, OPT_COM_PORT, 101, 0, 1, 0xc2, 0, IAC, SE, 0x44]);
  for (const b of bytes) t.d.feed(Buffer.from([b])); // one byte at a time: the worst split
  assert.deepEqual([...t.data()], [0x41, 0xff, 0x42, 0x43, 0x44]);
  assert.deepEqual(t.replies.map((r) => [...r]), [[IAC, WILL, OPT_BINARY]]);
  assert.equal(t.subs.length, 1);
  assert.equal(t.subs[0][0], OPT_COM_PORT);
  assert.equal(t.subs[0][1].readUInt32BE(1), 115200);
});

test('negotiation is answered once per state (no loop), unknown options are refused', () => {
  const t = decoder();
  t.d.feed(Buffer.from([IAC, DO, OPT_BINARY, IAC, DO, OPT_BINARY, IAC, DO, 24, IAC, WILL, 5, IAC, DONT, OPT_BINARY]));
  assert.deepEqual(t.replies.map((r) => [...r]), [[IAC, WILL, OPT_BINARY], [IAC, WONT, 24], [IAC, DONT, 5], [IAC, WONT, OPT_BINARY]]);
  assert.equal(t.d.clientBinary, false);
});

test('a hostile endless subnegotiation stays bounded and the stream recovers after IAC SE', () => {
  const t = decoder();
  t.d.feed(Buffer.concat([Buffer.from([IAC, SB, OPT_COM_PORT]), Buffer.alloc(1_000_000, 7), Buffer.from([IAC, SE, 0x5a])]));
  assert.equal(t.subs.length, 1);
  assert.ok(t.subs[0][1].length <= 256);
  assert.deepEqual([...t.data()], [0x5a]);
});

test('outgoing data doubles 0xFF, and a bare CR becomes CR NUL until binary is agreed', () => {
  assert.deepEqual([...encodeData(Buffer.from([1, 0xff, 2]), true)], [1, 0xff, 0xff, 2]);
  assert.deepEqual([...encodeData(Buffer.from('a\rb\r\n'), false)], [0x61, 13, 0, 0x62, 13, 10]);
  assert.deepEqual([...encodeData(Buffer.from('a\rb'), true)], [0x61, 13, 0x62]);
  const plain = Buffer.from('plain');
  assert.equal(encodeData(plain, false), plain);
});

test('RFC 2217 line settings: baud as 4 bytes big-endian with 0xFF doubled, then 8, N, 1, no flow control', () => {
  const [baud, size, parity, stop, control] = lineSettings(115200);
  assert.deepEqual([...baud], [IAC, SB, OPT_COM_PORT, 1, 0, 1, 0xc2, 0, IAC, SE]);
  assert.deepEqual([...size], [IAC, SB, OPT_COM_PORT, 2, 8, IAC, SE]);
  assert.deepEqual([...parity], [IAC, SB, OPT_COM_PORT, 3, 1, IAC, SE]);
  assert.deepEqual([...stop], [IAC, SB, OPT_COM_PORT, 4, 1, IAC, SE]);
  assert.deepEqual([...control], [IAC, SB, OPT_COM_PORT, 5, 1, IAC, SE]);
  assert.deepEqual([...comPortCommand(1, Buffer.from([0, 0, 0xff, 0xff]))], [IAC, SB, OPT_COM_PORT, 1, 0, 0, 0xff, 0xff, 0xff, 0xff, IAC, SE]);
});
