import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ControlSyntaxError, PACKAGES_LIMITS, RELEASE_LIMITS, StanzaStreamParser, formatStanzas, parseStanzas } from '../../src/debian/control.js';
import { parseProvides, parseRelations } from '../../src/debian/relations.js';
import { LENNY_BASE_STATUS } from '../fixtures/debs/make-deb.js';

test('a dpkg status file parses and writes back byte for byte (continuations, Conffiles, field order)', () => {
  const stanzas = parseStanzas(LENNY_BASE_STATUS);
  assert.equal(stanzas.length, 5);
  assert.equal(stanzas[1].get('conffiles'), '\n /etc/debian_version 4bb3d5e3b1a6a2f1b1ba4d1e9e4d7c33\n /etc/issue 9ea1ed3d1e6b5e5e7c8c5e5e6b5e5e5e');
  assert.match(stanzas[0].get('Description')!, /^GNU C Library: Shared libraries\n Contains/);
  assert.deepEqual(stanzas[0].entries().map(([n]) => n).slice(0, 3), ['Package', 'Status', 'Priority']);
  assert.equal(formatStanzas(stanzas), LENNY_BASE_STATUS);
});

test('the streaming parser gives the same stanzas whatever the chunk boundaries', () => {
  const whole = parseStanzas(LENNY_BASE_STATUS).map(String);
  for (const size of [1, 7, 64, 1000]) {
    const parser = new StanzaStreamParser();
    const got = [];
    for (let i = 0; i < LENNY_BASE_STATUS.length; i += size) got.push(...parser.push(LENNY_BASE_STATUS.slice(i, i + size)));
    got.push(...parser.end());
    assert.deepEqual(got.map(String), whole, `chunk size ${size}`);
  }
});

test('a malformed line is reported with its line number', () => {
  assert.throws(() => parseStanzas('Package: a\nVersion: 1\n\nPackage: b\nthis is not a field\n'), (err: Error & { line?: number }) => err.line === 5);
  assert.throws(() => parseStanzas(' leading continuation\n'), /continuation line without a field/);
});

test('Depends: alternatives, version constraints, obsolete operators, arch qualifiers and restrictions', () => {
  const groups = parseRelations('libc6 (>= 2.7-1), libssl0.9.8 (>= 0.9.8f-5)| libssl-dev, perl:any, foo (> 1), bar [!powerpc], baz [powerpc]', 'powerpc');
  assert.deepEqual(groups, [
    [{ name: 'libc6', op: '>=', version: '2.7-1' }],
    [{ name: 'libssl0.9.8', op: '>=', version: '0.9.8f-5' }, { name: 'libssl-dev' }],
    [{ name: 'perl' }],
    [{ name: 'foo', op: '>=', version: '1' }],
    [{ name: 'baz' }],
  ]);
  assert.deepEqual(parseProvides('mail-transport-agent, libfoo (= 1.2)'), [{ name: 'mail-transport-agent' }, { name: 'libfoo', op: '=', version: '1.2' }]);
  assert.throws(() => parseRelations('libc6 (>= )'), /cannot parse relation/);
});

test('the streaming parser finds a separator split across chunks at any point, CRLF and blank-with-spaces lines included', () => {
  const text = 'Package: a\r\nVersion: 1\r\n \t \r\nPackage: b\nVersion: 2\n\n\nPackage: c\nDescription: x\n y\n';
  const whole = parseStanzas(text).map(String);
  for (let cut = 1; cut < text.length; cut++) {
    for (let cut2 = cut; cut2 < text.length; cut2 += 5) {
      const parser = new StanzaStreamParser();
      const got = [...parser.push(text.slice(0, cut)), ...parser.push(text.slice(cut, cut2)), ...parser.push(text.slice(cut2)), ...parser.end()];
      assert.deepEqual(got.map(String), whole, `cuts at ${cut}, ${cut2}`);
    }
  }
});

test('the streaming parser is linear in a long stanza and refuses one over 16 MiB', () => {
  // 12 MiB of one stanza in 64 KiB chunks: rescanning it from its start on every chunk took minutes.
  const line = ` ${'x'.repeat(1022)}\n`;
  const chunk = line.repeat(64);
  const parser = new StanzaStreamParser();
  const t = Date.now();
  parser.push('Package: long\nDescription: d\n');
  for (let i = 0; i < 192; i++) parser.push(chunk);
  const got = [...parser.push('\n'), ...parser.end()];
  assert.equal(got.length, 1);
  assert.equal(got[0].get('Package'), 'long');
  const ms = Date.now() - t;
  assert.ok(ms < 3000, `took ${ms} ms`);
  const huge = new StanzaStreamParser();
  huge.push('Package: huge\nDescription: d\n');
  assert.throws(() => {
    for (let i = 0; i < 300; i++) huge.push(chunk);
  }, /a stanza longer than 16 MiB/);
});

test('one parser for every deb822 text: the Packages and Release caps apply to parseStanzas as to the streaming reader', () => {
  assert.throws(() => parseStanzas('Origin: x\n\nOrigin: y\n', RELEASE_LIMITS), (err: Error & { line?: number }) => err instanceof ControlSyntaxError && err.line === 3 && /more than 1 stanzas/.test(err.message));
  const wide = `Package: a\n${Array.from({ length: 300 }, (_, i) => `F${i}: v`).join('\n')}\n`;
  assert.equal(parseStanzas(wide)[0].entries().length, 301);
  assert.throws(() => parseStanzas(wide, PACKAGES_LIMITS), /stanza with more than 256 fields/);
  const reader = new StanzaStreamParser(PACKAGES_LIMITS);
  assert.throws(() => reader.push(wide), /stanza with more than 256 fields/);
});
