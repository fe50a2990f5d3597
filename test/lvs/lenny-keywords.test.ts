/**
 * keepalived 1.1.15 silently drops what it does not know, so the `lenny` rendering must stay inside the
 * 1.1.15 keyword tree (src/lvs/keepalived-keywords.ts) and inside its line rules.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadSite } from '../../src/site/load.js';
import { siteNodes } from '../../src/site/nodes.js';
import type { NodeRole } from '../../src/site/model.js';
import { renderConfigTree } from '../../src/lvs/render.js';
import { checkLennyKeywords, KEEPALIVED_1_1_15, type KeywordTree } from '../../src/lvs/keepalived-keywords.js';
import { sitesDir } from './tree.js';

async function renderings(scenario: string, dialect: 'lenny' | 'modern'): Promise<string[]> {
  const { site } = await loadSite(join(sitesDir, `${scenario}.yaml`));
  return siteNodes(site).map((n) => {
    const files = renderConfigTree(site, { node: n.role === 'single' ? undefined : (n.role as NodeRole), dialect });
    return String(files.find((f) => f.path === '/etc/keepalived/keepalived.conf')!.content);
  });
}

for (const scenario of ['nat-single', 'dr-tcp-pair', 'dr-http-pair', 'all-features']) {
  test(`the lenny rendering of ${scenario} uses only keepalived 1.1.15 keywords and blocks`, async () => {
    for (const conf of await renderings(scenario, 'lenny')) {
      assert.deepEqual(checkLennyKeywords(conf), []);
      assert.doesNotMatch(conf, /^\s*(retry|script_user|enable_script_security|unicast_peer)\b/m);
    }
  });
}

test('the modern rendering is caught by the lenny check (retry, script security keywords)', async () => {
  const [conf] = await renderings('dr-http-pair', 'modern');
  const problems = checkLennyKeywords(conf).map((p) => p.message);
  assert.ok(problems.some((m) => m.includes('"retry"')), problems.join('\n'));
  assert.ok(problems.some((m) => m.includes('"enable_script_security"')), problems.join('\n'));
});

test('an unknown block inside a block is reported with its line (1.1.15 would drop the rest of the block)', () => {
  const conf = ['vrrp_instance VI_1 {', '    state BACKUP', '    unicast_peer {', '        10.0.0.2', '    }', '    priority 50', '}', ''].join('\n');
  assert.deepEqual(checkLennyKeywords(conf), [
    { line: 3, message: 'block "unicast_peer" is not a keepalived 1.1.15 keyword in vrrp_instance (its "}" would close the enclosing block)' },
  ]);
});

test('statements sharing a line with braces, leaf keywords used as blocks and unclosed blocks are reported', () => {
  const conf = [
    'virtual_server 10.0.0.1 80 {',
    '    real_server 10.0.1.1 80 {',
    '        HTTP_GET {',
    '            url { path / }',
    '            connect_timeout {',
    '            }',
    '        }',
    '    }',
    '',
  ].join('\n');
  const messages = checkLennyKeywords(conf).map((p) => `${p.line}: ${p.message}`);
  // 1.1.15 enters `url` at line 4 and never sees its "}", so everything after shifts one level down:
  // that cascade is exactly the silent breakage the check exists to catch.
  assert.deepEqual(messages, [
    '4: "}" must be alone on its line for 1.1.15',
    '4: statements after "{" on the same line are lost on 1.1.15',
    '5: block "connect_timeout" is not a keepalived 1.1.15 keyword in url (its "}" would close the enclosing block)',
    '1: block "virtual_server" is never closed',
    '2: block "real_server" is never closed',
  ]);
  const leafAsBlock = checkLennyKeywords(['global_defs {', '    router_id {', '    }', '    smtp_server 10.0.0.1', '}', ''].join('\n'));
  assert.deepEqual(leafAsBlock.map((p) => `${p.line}: ${p.message}`), [
    '2: "router_id" is a one-line statement in 1.1.15, not a block',
    '4: keyword "smtp_server" is not a keepalived 1.1.15 keyword in top level (silently ignored)',
    '5: unbalanced "}"',
  ]);
});

test('keywords added after 1.1.15 are not in the tree (reference §4)', () => {
  const all = new Set<string>();
  const walk = (t: KeywordTree) => {
    for (const [k, v] of Object.entries(t)) {
      all.add(k);
      if (typeof v === 'object') walk(v);
    }
  };
  walk(KEEPALIVED_1_1_15);
  for (const later of ['quorum', 'hysteresis', 'rise', 'fall', 'timeout', 'unicast_peer', 'unicast_src_ip', 'warmup', 'vrrp_strict', 'lvs_sync_daemon', 'enable_script_security', 'script_user']) {
    assert.ok(!all.has(later), `${later} must not be a 1.1.15 keyword`);
  }
  // retry exists only inside SMTP_CHECK in 1.1.15.
  const rs = (KEEPALIVED_1_1_15.virtual_server as KeywordTree).real_server as KeywordTree;
  assert.equal((rs.HTTP_GET as KeywordTree).retry, undefined);
  assert.equal((rs.TCP_CHECK as KeywordTree).retry, undefined);
  assert.equal((rs.SMTP_CHECK as KeywordTree).retry, 'leaf');
});
