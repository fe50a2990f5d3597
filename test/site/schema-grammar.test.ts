/**
 * The site schema checks auth_pass and check.path with the value grammars of src/site/grammar/, not rules of
 * its own: what it refuses at load time is exactly the grammar's set, and lint and the renderers refuse at
 * least as much.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { siteSchema } from '../../src/site/schema.js';
import { cutsKeepalivedWord, keepalivedTokenProblem } from '../../src/site/grammar/keepalived-token.js';
import { isWhitespace } from '../../src/site/grammar/value.js';

function site(authPass: string, checkPath: string): unknown {
  return {
    lvs: {
      vrrp: { virtual_router_id: 51, auth_pass: authPass, nodes: { master: { hostname: 'lb1', priority: 100 }, backup: { hostname: 'lb2', priority: 50 } } },
      virtual_servers: [{ address: '192.168.0.10', port: 80, check: { type: 'http', path: checkPath }, real_servers: [{ address: '10.0.0.1', port: 80 }] }],
    },
  };
}

/** Every ASCII character and the Unicode blanks a pasted password or URL may carry. */
const CHARACTERS = [...Array.from({ length: 128 }, (_, i) => String.fromCharCode(i)), '\u00a0', '\u2003', '\u2028', '\u3000', '\ufeff', 'ä'];

test('the schema refuses in auth_pass exactly the characters that cut a keepalived.conf word, and lint refuses them too', () => {
  assert.equal(siteSchema.safeParse(site('ab', '/')).success, true);
  for (const ch of CHARACTERS) {
    const refused = !siteSchema.safeParse(site(`a${ch}b`, '/')).success;
    assert.equal(refused, cutsKeepalivedWord(ch), `auth_pass with U+${ch.charCodeAt(0).toString(16)}`);
    if (refused) assert.ok(keepalivedTokenProblem(`a${ch}b`), `lint takes U+${ch.charCodeAt(0).toString(16)}`);
  }
});

test('the schema refuses in check.path exactly the whitespace of the grammar', () => {
  for (const ch of CHARACTERS) {
    const refused = !siteSchema.safeParse(site('ab', `/a${ch}b`)).success;
    assert.equal(refused, isWhitespace(ch), `check.path with U+${ch.charCodeAt(0).toString(16)}`);
  }
  assert.equal(siteSchema.safeParse(site('ab', 'index.html')).success, false);
});
