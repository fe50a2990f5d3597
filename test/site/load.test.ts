/** The site file loader: defaults, line numbers in messages, and the shapes others code against. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSite, parseSite } from '../../src/site/load.js';
import { siteNodes } from '../../src/site/nodes.js';
import { UserError } from '../../src/util/errors.js';

const minimal = `lvs:
  virtual_servers:
    - address: 192.168.253.120
      port: 80
      real_servers:
        - { address: 172.16.14.121, port: 80 }
network:
  interfaces:
    eth0: { address: 192.168.253.254/24 }
    eth1: { address: 172.16.14.120/24 }
`;

function loadError(text: string): string {
  try {
    parseSite(text, 'site.yaml');
  } catch (err) {
    assert.ok(err instanceof UserError, String(err));
    return err.message;
  }
  assert.fail('expected the site to be rejected');
}

test('a minimal site gets every default of the model filled in', () => {
  const { site } = parseSite(minimal, 'site.yaml');
  assert.deepEqual(site, {
    board: 'obs600',
    hostname: 'obs600',
    root: { password_hash: null, allow_default_password: false, authorized_keys: [] },
    network: {
      interfaces: { eth0: { address: '192.168.253.254/24' }, eth1: { address: '172.16.14.120/24' } },
      gateway: null,
      nameservers: [],
      ip_forward: true,
      sysctl: {},
    },
    lvs: {
      manager: 'keepalived',
      vrrp: null,
      virtual_servers: [
        {
          address: '192.168.253.120',
          port: 80,
          protocol: 'tcp',
          forwarding: 'nat',
          scheduler: 'wlc',
          persistence_timeout: 0,
          delay_loop: 6,
          check: { type: 'http', path: '/', status: 200, connect_timeout: 3, retries: 3, retry_delay: 2 },
          sorry_server: null,
          real_servers: [{ address: '172.16.14.121', port: 80, weight: 1 }],
          name: 'vs1',
        },
      ],
    },
    packages: { suite: 'lenny', arch: 'powerpc', mirror: null, extra: [] },
    install: { cf_device: '/dev/sda' },
    files: { folder: null, entries: [] },
    timezone: null,
    ntp: null,
    syslog: null,
  });
});

test('lineOf finds keys, list items and falls back to the closest ancestor', () => {
  const loaded = parseSite(minimal, 'site.yaml');
  assert.equal(loaded.lineOf(['lvs']), 1);
  assert.equal(loaded.lineOf(['lvs', 'virtual_servers', 0, 'port']), 4);
  assert.equal(loaded.lineOf(['lvs', 'virtual_servers', 0, 'real_servers', 0]), 6);
  assert.equal(loaded.lineOf(['network', 'interfaces', 'eth1', 'address']), 10);
  assert.equal(loaded.lineOf(['lvs', 'virtual_servers', 0, 'scheduler']), 3, 'a defaulted key points at its parent');
  assert.match(loaded.sha256, /^[0-9a-f]{64}$/);
});

test('errors name the file, the line and the key path', () => {
  assert.equal(
    loadError(minimal.replace('      port: 80\n      real', '      port: 80\n      sheduler: rr\n      real')),
    'site.yaml:5: lvs.virtual_servers[0]: unknown key "sheduler": did you mean "scheduler"?',
  );
  assert.equal(loadError(minimal + 'hostnme: lb\n'), 'site.yaml:11: unknown key "hostnme": did you mean "hostname"?');
  assert.match(loadError(minimal + 'colour: red\n'), /^site\.yaml:11: unknown key "colour"; known keys: board, hostname, root, network, lvs, packages, install, files, timezone, ntp, syslog$/);
  assert.equal(loadError(minimal.replace('port: 80\n      real', 'port: "80"\n      real')), 'site.yaml:4: lvs.virtual_servers[0].port must be a number (a TCP/UDP port), not "80"');
  assert.equal(
    loadError(minimal.replace('192.168.253.254/24', '192.168.253.254')),
    'site.yaml:9: network.interfaces.eth0.address: "192.168.253.254" has no prefix: write it as 192.168.253.254/24 (or the subnet\'s real prefix)',
  );
  assert.equal(loadError(minimal.replace('172.16.14.120/24', '172.16.14.0/24')), 'site.yaml:10: network.interfaces.eth1.address: "172.16.14.0/24" is the network or broadcast address of its subnet; use a host address');
  assert.equal(loadError(minimal.replace('    - address: 192.168.253.120', '    - address: 192.168.253.1200')).split(': ')[0], 'site.yaml:3');
  assert.equal(loadError(minimal.replace('      real_servers:\n        - { address: 172.16.14.121, port: 80 }\n', '      real_servers: []\n')), 'site.yaml:5: lvs.virtual_servers[0].real_servers: list at least one real server');
  assert.equal(loadError('network: {}\n'), 'site.yaml:1: lvs is required');
  assert.equal(loadError('- a\n- b\n'), 'site.yaml:1: the site file must be a YAML mapping (board:, hostname:, network:, lvs:, ...)');
  assert.match(loadError('lvs: [\n'), /^site\.yaml:\d+: not valid YAML: /);
  assert.match(loadError(minimal + 'lvs: {}\n'), /^site\.yaml:11: not valid YAML: Map keys must be unique/);
  assert.equal(loadError(minimal.replace('      port: 80\n      real', '      port: 80\n      check: { type: icmp }\n      real')), 'site.yaml:5: lvs.virtual_servers[0].check.type is "icmp": must be http, tcp or none');
});

test('root password hashes and ssh keys lenny cannot read are refused', () => {
  assert.match(loadError(minimal + 'root: { password_hash: "$y$j9T$abc$def" }\n'), /^site\.yaml:11: root\.password_hash is not a crypt hash lenny can read/);
  assert.doesNotThrow(() => parseSite(minimal + 'root: { password_hash: "$6$saltsalt$' + 'a'.repeat(86) + '" }\n', 'site.yaml'));
  assert.match(loadError(minimal + 'root: { authorized_keys: ["ssh-ed25519 AAAAC3Nza me@host"] }\n'), /authorized_keys\[0\]: must be an ssh-rsa or ssh-dss public key line/);
});

test('an HA pair: node states follow nopreempt, node interfaces override network.interfaces', () => {
  const text = minimal.replace('lvs:\n', `lvs:\n  vrrp:\n    virtual_router_id: 51\n    auth_pass: secret\n    nodes:\n      master: { hostname: lb1, priority: 100, interfaces: { eth0: { address: 192.168.253.251/24 } } }\n      backup: { hostname: lb2, priority: 50, interfaces: { eth0: { address: 192.168.253.252/24 } } }\n`);
  const { site } = parseSite(text, 'site.yaml');
  assert.equal(site.lvs.vrrp?.nodes.master.state, 'MASTER');
  assert.equal(site.lvs.vrrp?.nodes.backup.state, 'BACKUP');
  assert.deepEqual(
    siteNodes(site).map((n) => [n.role, n.hostname, n.interfaces.eth0.address, n.interfaces.eth1.address]),
    [
      ['master', 'lb1', '192.168.253.251/24', '172.16.14.120/24'],
      ['backup', 'lb2', '192.168.253.252/24', '172.16.14.120/24'],
    ],
  );
  const nopreempt = parseSite(text.replace('    auth_pass: secret\n', '    auth_pass: secret\n    nopreempt: true\n'), 'site.yaml').site;
  assert.equal(nopreempt.lvs.vrrp?.nodes.master.state, 'BACKUP');
  assert.match(loadError(text.replace('auth_pass: secret', 'auth_pass: "pa ss"')), /^site\.yaml:4: lvs\.vrrp\.auth_pass: must not contain spaces/);
});

test('a single director is one "single" node with the site hostname', () => {
  const { site } = parseSite(minimal, 'site.yaml');
  assert.deepEqual(siteNodes(site), [{ role: 'single', hostname: 'obs600', interfaces: site.network.interfaces }]);
});

test('loadSite reads a file and reports a missing one in one line', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-site-'));
  try {
    const file = join(dir, 'obsbuild.yaml');
    await assert.rejects(loadSite(file), (e: Error) => e instanceof UserError && e.message === `${file}: cannot read the site file: ENOENT (run \`obsbuild init\` to write a starter file)`);
    await writeFile(file, minimal);
    const loaded = await loadSite(file);
    assert.equal(loaded.file, file);
    assert.equal(loaded.site.hostname, 'obs600');
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a !!binary document or value is named as such, not as a mapping with a Buffer\'s methods for keys', () => {
  assert.equal(loadError('!!binary aGVsbG8=\n'), 'site.yaml:1: the site file must be a YAML mapping (board:, hostname:, network:, lvs:, ...)');
  assert.match(loadError('hostname: !!binary aGVsbG8=\n'), /binary data \(!!binary\)/);
});
