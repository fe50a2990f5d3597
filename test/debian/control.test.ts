import assert from 'node:assert/strict';
import { test } from 'node:test';
import { StanzaStreamParser, formatStanzas, parseStanzas } from '../../src/debian/control.js';
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
