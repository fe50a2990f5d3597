import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileBytes } from '../../src/contracts/generated-file.js';
import {
  AUTHORIZED_KEYS_PATH,
  CHRONY_CONF_PATH,
  HOSTNAME_PATH,
  HOSTS_PATH,
  INTERFACES_PATH,
  IPVSADM_DEFAULT_PATH,
  IPVSADM_RULES_PATH,
  KEEPALIVED_CONF_PATH,
  LOCALTIME_PATH,
  NOTIFY_SCRIPT_PATH,
  NTPD_CONF_PATH,
  RESOLV_CONF_PATH,
  RSYSLOG_FORWARD_PATH,
  SHADOW_PATH,
  SYSCTL_CONF_PATH,
  SYSLOG_CONF_PATH,
  TIMEZONE_PATH,
} from '../../src/contracts/box-paths.js';
import { ACTIVATION_RULES, changedInterfaces, orderActivations } from '../../src/daytwo/activation.js';
import { desiredNode, type DesiredNode } from '../../src/daytwo/desired.js';
import { formatPlan, planApply, type BoxFileReading, type Session } from '../../src/daytwo/plan.js';
import { parseSite } from '../../src/site/load.js';
import { sha256Hex } from '../../src/util/hash.js';
import { repoRoot } from '../helpers/cli.js';

const NAT = readFileSync(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), 'utf8');
const PAIR = readFileSync(join(repoRoot, 'test/fixtures/sites/all-features.yaml'), 'utf8');
const SHADOW = 'root:$1$old$oldoldoldoldoldoldold.:14000:0:99999:7:::\ndaemon:*:14000:0:99999:7:::\n';

const SSH_ETH0: Session = { transport: 'ssh', address: '192.168.253.254', label: 'eth0' };

function site(text: string) {
  return parseSite(text, 'obsbuild.yaml');
}

/** The box as the desired node's files say, with `edits` (path -> content, null = absent). */
function boxOf(d: DesiredNode, edits: Record<string, string | null> = {}): Map<string, BoxFileReading | null> {
  const m = new Map<string, BoxFileReading | null>();
  const put = (path: string, bytes: Buffer) => m.set(path, { sha256: sha256Hex(bytes), size: bytes.length, bytes, truncated: false });
  for (const f of d.files) put(f.path, fileBytes(f));
  for (const [path, content] of Object.entries(edits)) {
    if (content === null) m.set(path, null);
    else put(path, Buffer.from(content));
  }
  return m;
}

test('activation table: every box path apply writes has its one rule', () => {
  const kinds = Object.fromEntries([...ACTIVATION_RULES].map(([p, r]) => [p, r.kind]));
  assert.deepEqual(kinds, {
    [KEEPALIVED_CONF_PATH]: 'keepalived-reload',
    [NOTIFY_SCRIPT_PATH]: 'keepalived-reload',
    [IPVSADM_RULES_PATH]: 'ipvsadm-restore',
    [IPVSADM_DEFAULT_PATH]: 'none',
    [SYSCTL_CONF_PATH]: 'sysctl',
    [HOSTNAME_PATH]: 'hostname',
    [HOSTS_PATH]: 'none',
    [RESOLV_CONF_PATH]: 'none',
    [SHADOW_PATH]: 'none',
    [AUTHORIZED_KEYS_PATH]: 'none',
    [TIMEZONE_PATH]: 'none',
    [LOCALTIME_PATH]: 'none',
    [INTERFACES_PATH]: 'interfaces',
    [RSYSLOG_FORWARD_PATH]: 'rsyslog-restart',
    [SYSLOG_CONF_PATH]: 'sysklogd-restart',
    [NTPD_CONF_PATH]: 'ntpd-restart',
    [CHRONY_CONF_PATH]: 'chrony-restart',
  });
});

test('plan: a box that already matches has no changes', () => {
  const d = desiredNode(site(NAT), undefined, { shadow: SHADOW });
  const plan = planApply(d, boxOf(d), SSH_ETH0);
  assert.deepEqual(plan.changes, []);
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.activations, []);
  assert.equal(plan.unchanged.length, d.files.length);
  assert.match(formatPlan(plan, 'ssh root@box'), /no changes/);
});

test('plan: a scheduler change modifies keepalived.conf with a unified diff and a keepalived reload', () => {
  const before = desiredNode(site(NAT), undefined, { shadow: SHADOW });
  const after = desiredNode(site(NAT.replace('scheduler: wlc', 'scheduler: rr')), undefined, { shadow: SHADOW });
  const plan = planApply(after, boxOf(before), SSH_ETH0);
  assert.deepEqual(plan.changes.map((c) => [c.path, c.kind, c.activation.kind]), [[KEEPALIVED_CONF_PATH, 'modify', 'keepalived-reload']]);
  assert.match(plan.changes[0].diff!, /^--- box\/etc\/keepalived\/keepalived\.conf$/m);
  assert.match(plan.changes[0].diff!, /^-\s*lb_algo wlc$/m);
  assert.match(plan.changes[0].diff!, /^\+\s*lb_algo rr$/m);
  assert.deepEqual(plan.activations, [{ kind: 'keepalived-reload' }]);
  assert.match(formatPlan(plan, 'ssh root@box'), /keepalived-reload: kill -HUP/);
});

test('plan: /etc/shadow changes without a diff (secret) and need no activation; a new authorized_keys is a create', () => {
  const base = site(NAT);
  const withKey = NAT.replace('root:\n', 'root:\n  authorized_keys: ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDBChrhO8/rQMDd8SS+TMjhxbOR+Nd+JRaQPgas5EAc7OxCp96JD4y6n+J/SJOW+bmpQL0XeSi9eC6CIk+bhKcclsdQFjtFDKSzyHPVwPVeM7xfSHxNNYfGlN7TuInQSWdjrDL7GuV3FnOVGWOPqIwylLImu8id/8mT7m6WB+8I0w== me@host"]\n');
  const d = desiredNode(site(withKey), undefined, { shadow: SHADOW });
  const plan = planApply(d, boxOf(desiredNode(base, undefined, { shadow: SHADOW }), { [SHADOW_PATH]: SHADOW.replace('$1$fixture', '$1$other') }), SSH_ETH0);
  const byPath = new Map(plan.changes.map((c) => [c.path, c]));
  assert.equal(byPath.get(SHADOW_PATH)?.kind, 'modify');
  assert.equal(byPath.get(SHADOW_PATH)?.diff, null);
  assert.equal(byPath.get(AUTHORIZED_KEYS_PATH)?.kind, 'create');
  assert.deepEqual(plan.activations, []);
  const text = formatPlan(plan, 'ssh root@box');
  assert.match(text, /secret: root's password hash changes, diff not shown/);
  assert.doesNotMatch(text, /\$1\$/, 'no hash in the printed plan');
});

test('plan: activations run interfaces, sysctl, hostname, then one keepalived reload for keepalived.conf and notify.sh together', () => {
  const d = desiredNode(site(PAIR), 'master', { shadow: SHADOW });
  const box = boxOf(d, {
    [NOTIFY_SCRIPT_PATH]: '#!/bin/sh\nexit 0\n',
    [KEEPALIVED_CONF_PATH]: 'global_defs {\n}\n',
    [SYSCTL_CONF_PATH]: 'net.ipv4.ip_forward = 0\n',
    [HOSTNAME_PATH]: 'old\n',
    [HOSTS_PATH]: '127.0.0.1 localhost\n',
    [INTERFACES_PATH]: d.files.find((f) => f.path === INTERFACES_PATH)!.content.toString().replace('172.16.14.251', '172.16.14.9'),
  });
  const plan = planApply(d, box, { transport: 'serial' });
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.activations, [{ kind: 'interfaces', interfaces: ['eth1'] }, { kind: 'sysctl' }, { kind: 'hostname' }, { kind: 'keepalived-reload' }]);
  assert.equal(plan.changes.find((c) => c.path === HOSTS_PATH)?.activation.kind, 'none');
});

test('plan: an address change on the interface carrying the SSH session is refused with what to do instead', () => {
  const before = desiredNode(site(NAT), undefined, { shadow: SHADOW });
  const after = desiredNode(site(NAT.replace('192.168.253.254/24', '192.168.253.250/24')), undefined, { shadow: SHADOW });
  const plan = planApply(after, boxOf(before), SSH_ETH0);
  assert.equal(plan.refusals.length, 1);
  assert.equal(plan.refusals[0].path, INTERFACES_PATH);
  assert.match(plan.refusals[0].reason, /eth0 carries this SSH session/);
  assert.match(plan.refusals[0].instead, /serial console \(--port\) or reinstall/);
  assert.match(formatPlan(plan, 'ssh root@box'), /REFUSED/);

  // The same change over the serial console: ifdown/ifup of eth0 (and the alias on it) only.
  const serial = planApply(after, boxOf(before), { transport: 'serial' });
  assert.deepEqual(serial.refusals, []);
  assert.deepEqual(serial.activations, [{ kind: 'interfaces', interfaces: ['eth0:120', 'eth0'] }]);

  // Over SSH through eth0, a change on eth1 alone is cycled and allowed.
  const eth1 = desiredNode(site(NAT.replace('172.16.14.120/24', '172.16.14.126/24')), undefined, { shadow: SHADOW });
  const ok = planApply(eth1, boxOf(before), SSH_ETH0);
  assert.deepEqual(ok.refusals, []);
  assert.deepEqual(ok.activations, [{ kind: 'interfaces', interfaces: ['eth1'] }]);

  // Over SSH with no way to tell which interface carries the session: refused.
  const unknown = planApply(eth1, boxOf(before), { transport: 'ssh', address: null, label: null });
  assert.match(unknown.refusals[0]?.reason ?? '', /could not be found/);
});

test('plan: switching lvs.manager on a live box is refused (reinstall)', () => {
  const keepalivedBox = desiredNode(site(NAT), undefined, { shadow: SHADOW });
  const ipvsadmSite = NAT.replace('manager: keepalived', 'manager: ipvsadm');
  const plan = planApply(desiredNode(site(ipvsadmSite), undefined, { shadow: SHADOW }), boxOf(keepalivedBox), { transport: 'serial' });
  assert.deepEqual(plan.refusals.map((r) => r.path), [IPVSADM_RULES_PATH]);
  assert.match(plan.refusals[0].instead, /reinstall/);
});

test('changedInterfaces: only changed stanzas; a changed device brings its aliases; aliases go down first', () => {
  const have = 'auto lo\niface lo inet loopback\nauto eth0\niface eth0 inet static\naddress 10.0.0.1\nnetmask 255.255.255.0\nauto eth0:1\niface eth0:1 inet static\naddress 10.0.0.9\nnetmask 255.255.255.0\nauto eth1\niface eth1 inet static\naddress 10.1.0.1\nnetmask 255.255.255.0\n';
  assert.deepEqual(changedInterfaces(have, have.replace('# x', '')), []);
  assert.deepEqual(changedInterfaces(have, have.replace('10.1.0.1', '10.1.0.2')), ['eth1']);
  assert.deepEqual(changedInterfaces(have, have.replace('10.0.0.9', '10.0.0.8')), ['eth0:1']);
  assert.deepEqual(changedInterfaces(have, have.replace('10.0.0.1\n', '10.0.0.2\n')), ['eth0:1', 'eth0']);
  assert.deepEqual(changedInterfaces(have, have.replace('auto eth1\n', '')), ['eth1'], 'auto is part of the stanza');
  assert.deepEqual(orderActivations([{ kind: 'keepalived-reload' }, { kind: 'interfaces', interfaces: ['eth1'] }, { kind: 'keepalived-reload' }, { kind: 'sysctl' }]), [
    { kind: 'interfaces', interfaces: ['eth1'] },
    { kind: 'sysctl' },
    { kind: 'keepalived-reload' },
  ]);
});
