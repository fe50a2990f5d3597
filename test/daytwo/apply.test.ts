import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileBytes } from '../../src/contracts/generated-file.js';
import { APPLIED_RECORD_PATH, AUTHORIZED_KEYS_PATH, INTERFACES_PATH, KEEPALIVED_CONF_PATH, PREVIOUS_FILES_DIR, SHADOW_PATH } from '../../src/contracts/box-paths.js';
import type { AppliedRecord } from '../../src/contracts/applied-record.js';
import { applyToBox, previousStamp, type ApplyOptions } from '../../src/daytwo/apply.js';
import type { VerifyReportLike } from '../../src/daytwo/apply-deps.js';
import { keepalivedProblems, keepalivedSettleMs, keepalivedVips } from '../../src/daytwo/activation.js';
import { appliedConfigId, desiredNode } from '../../src/daytwo/desired.js';
import { parseSite } from '../../src/site/load.js';
import { parseIpvsadm } from '../../src/console/box-output.js';
import { FakeBox, ipvsadmListing, VirtualClock } from './apply-fake-box.js';
import { repoRoot } from '../helpers/cli.js';
import { UserError } from '../../src/util/errors.js';

const NAT = readFileSync(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), 'utf8');
const SHADOW = 'root:$1$fixture$7sa4GtBomJXmarYg/KhNO/:14000:0:99999:7:::\ndaemon:*:14000:0:99999:7:::\n';
const NOW = new Date('2026-12-04T20:47:06.123Z');
const PREV = `${PREVIOUS_FILES_DIR}/20261204T204706Z`;
const PASS: VerifyReportLike = { checks: [{ name: 'IPVS table matches the site file', status: 'pass', evidence: 'ok' }], passed: true };
const FAIL: VerifyReportLike = { checks: [{ name: 'IPVS table matches the site file', status: 'fail', evidence: 'web uses scheduler wlc' }], passed: false };

const site = (text: string) => parseSite(text, 'obsbuild.yaml');
const CHANGED = NAT.replace('scheduler: wlc', 'scheduler: rr');

/** A box installed from `from` (files, a running keepalived with its table), keepalived knowing both configs. */
function boxFrom(from: string, ...others: string[]): FakeBox {
  const loaded = site(from);
  const d = desiredNode(loaded, undefined, { shadow: SHADOW });
  const box = new FakeBox(d);
  box.files.set(SHADOW_PATH, { bytes: Buffer.from(SHADOW), mode: 0o640 });
  const tables = new Map<string, string>();
  for (const text of [from, ...others]) {
    const s = site(text);
    const conf = desiredNode(s, undefined).files.find((f) => f.path === KEEPALIVED_CONF_PATH)!;
    tables.set(fileBytes(conf).toString(), ipvsadmListing(s.site));
  }
  box.tableFor = (conf) => tables.get(conf) ?? null;
  box.table = ipvsadmListing(loaded.site);
  return box;
}

function options(box: FakeBox, text: string, verify: VerifyReportLike[], extra: Partial<ApplyOptions> = {}): ApplyOptions {
  const answers = [...verify];
  return {
    loaded: site(text),
    transport: 'ssh',
    target: 'ssh root@192.168.253.254',
    yes: true,
    obsbuildVersion: '0.1.0-test',
    now: () => NOW,
    clock: new VirtualClock(),
    deps: {
      readFiles: box.readFiles,
      verify: async () => {
        box.ops.push('verify');
        const v = answers.shift();
        assert.ok(v, 'verify called more often than the test expected');
        return v;
      },
    },
    ...extra,
  };
}

test('previous files are kept under a UTC time stamp that sorts', () => {
  assert.equal(previousStamp(NOW), '20261204T204706Z');
});

test('apply: backup, write, SIGHUP reload proven by the table, verify, then the applied record', async () => {
  const box = boxFrom(NAT, CHANGED);
  const before = box.text(KEEPALIVED_CONF_PATH);
  const r = await applyToBox(box, options(box, CHANGED, [PASS]));
  assert.equal(r.outcome, 'applied', r.summary);
  assert.equal(r.exitCode, 0);
  const steps = box.steps();
  const at = (s: string) => steps.findIndex((x) => x.startsWith(s));
  // order: read, session, backup (cp -Pp), balancer snapshot, write, pid, HUP, verify, record
  assert.ok(at('read') < at('echo "ssh='));
  assert.ok(at(`mkdir -p '${PREV}'`) >= 0, steps.join('\n'));
  assert.ok(at(`mkdir -p '${PREV}'`) < at(`put ${KEEPALIVED_CONF_PATH}`));
  assert.ok(at(`put ${KEEPALIVED_CONF_PATH}`) < at('kill -HUP'));
  assert.ok(at('kill -HUP') < at('verify'));
  assert.ok(at('verify') < at(`put ${APPLIED_RECORD_PATH}`));
  assert.equal(steps.filter((s) => s.startsWith('put ')).length, 2, 'only the changed file and the record are written');
  assert.equal(box.text(`${PREV}${KEEPALIVED_CONF_PATH}`), before, 'the replaced file is kept on the box');
  assert.match(box.table, /192\.168\.253\.120:80 rr/);
  const record = JSON.parse(box.text(APPLIED_RECORD_PATH)!) as AppliedRecord;
  assert.equal(record.id, appliedConfigId(desiredNode(site(CHANGED), undefined, { shadow: SHADOW }), site(CHANGED).sha256));
  assert.equal(record.id, r.appliedId);
  assert.equal(record.appliedAt, NOW.toISOString());
  assert.ok(record.files.some((f) => f.path === KEEPALIVED_CONF_PATH));
  // not before the site's HTTP checks could have run once: 1 s + 3 x (3 + 2) s + 1 s
  assert.match(r.steps.find((s) => s.step === 'activate')!.detail, /new config in force after 17\.\d s \(same parent pid 4242\)/);
});

test('apply --dry-run and a declined question write nothing', async () => {
  for (const extra of [{ dryRun: true }, { yes: false, confirm: async () => false }] as Partial<ApplyOptions>[]) {
    const box = boxFrom(NAT, CHANGED);
    const r = await applyToBox(box, options(box, CHANGED, [], extra));
    assert.equal(r.plan.changes.length, 1);
    assert.ok(['dry-run', 'declined'].includes(r.outcome));
    assert.deepEqual(box.steps().filter((s) => !s.startsWith('read') && !s.startsWith('echo "ssh=')), [], 'nothing but reads');
  }
  const box = boxFrom(NAT, CHANGED);
  await assert.rejects(applyToBox(box, options(box, CHANGED, [], { yes: false })), /needs --yes/);
});

test('apply with no changes says so, writes nothing and still verifies', async () => {
  const box = boxFrom(NAT);
  const r = await applyToBox(box, options(box, NAT, [PASS]));
  assert.equal(r.outcome, 'no-changes');
  assert.equal(r.exitCode, 0);
  assert.match(r.summary, /no changes/);
  assert.deepEqual(box.steps(), ['read', box.steps()[1], 'verify']);
  const failing = boxFrom(NAT);
  assert.equal((await applyToBox(failing, options(failing, NAT, [FAIL]))).exitCode, 1);
});

test('apply with no file to change but an older applied record (a comment edited in the site file) records the config now live', async () => {
  // Applied once from NAT; then a comment is added to the site file: no file changes, the config id does.
  const commented = `# edited after the apply\n${NAT}`;
  const old = appliedConfigId(desiredNode(site(NAT), undefined, { shadow: SHADOW }), site(NAT).sha256);
  const fresh = appliedConfigId(desiredNode(site(commented), undefined, { shadow: SHADOW }), site(commented).sha256);
  assert.notEqual(old, fresh);
  const withRecord = () => {
    const box = boxFrom(NAT);
    box.files.set(APPLIED_RECORD_PATH, { bytes: Buffer.from(JSON.stringify({ format: 1, id: old, files: [] })), mode: 0o644 });
    return box;
  };
  const box = withRecord();
  const r = await applyToBox(box, options(box, commented, [PASS]));
  assert.equal(r.outcome, 'no-changes');
  assert.equal(r.exitCode, 0);
  assert.equal((JSON.parse(box.text(APPLIED_RECORD_PATH)!) as AppliedRecord).id, fresh);
  assert.ok(r.steps.some((s) => s.step === 'record' && s.ok && s.detail.includes(`was ${old}`)), JSON.stringify(r.steps));
  assert.deepEqual(box.ops.filter((op) => op.startsWith('put')), [`put ${APPLIED_RECORD_PATH}`], 'only the record is written');
  // --dry-run writes nothing; a box without a record stays "as installed".
  const dry = withRecord();
  await applyToBox(dry, options(dry, commented, [PASS], { dryRun: true }));
  assert.equal((JSON.parse(dry.text(APPLIED_RECORD_PATH)!) as AppliedRecord).id, old);
  const none = boxFrom(NAT);
  await applyToBox(none, options(none, commented, [PASS]));
  assert.equal(none.files.has(APPLIED_RECORD_PATH), false);
});

test('apply refuses an address change on the SSH session\'s interface: nothing written, exit 1', async () => {
  const moved = NAT.replace('192.168.253.254/24', '192.168.253.250/24');
  const box = boxFrom(NAT);
  const r = await applyToBox(box, options(box, moved, []));
  assert.equal(r.outcome, 'refused');
  assert.equal(r.exitCode, 1);
  assert.match(r.summary, /refused, nothing changed/);
  assert.ok(!box.steps().some((s) => s.startsWith('put ') || s.startsWith('mkdir') || s.startsWith('ifdown')));

  // Over the serial console the same change is applied: ifdown/ifup of eth0 and its alias.
  const serialBox = boxFrom(NAT);
  const ok = await applyToBox(serialBox, options(serialBox, moved, [PASS], { transport: 'serial' }));
  assert.equal(ok.outcome, 'applied', ok.summary);
  assert.ok(serialBox.steps().includes(`ifdown 'eth0:120' 2>&1; ifdown 'eth0' 2>&1; ifup 'eth0' && ifup 'eth0:120'`), serialBox.steps().join('\n'));
  assert.ok(!serialBox.steps().some((s) => s.startsWith('echo "ssh=')), 'no SSH session to look for');
});

test('apply rolls back on a failed verify: restore from the previous dir, reload again, verify again; no record', async () => {
  const box = boxFrom(NAT, CHANGED);
  const before = box.text(KEEPALIVED_CONF_PATH);
  const r = await applyToBox(box, options(box, CHANGED, [FAIL, FAIL]));
  assert.equal(r.outcome, 'rolled-back', r.summary);
  assert.equal(r.exitCode, 1);
  assert.match(r.summary, /verify failed after the change: IPVS table matches the site file: web uses scheduler wlc; rolled back: previous files restored from/);
  const steps = box.steps();
  const hups = steps.map((s, i) => (s.startsWith('kill -HUP') ? i : -1)).filter((i) => i >= 0);
  const verifies = steps.map((s, i) => (s === 'verify' ? i : -1)).filter((i) => i >= 0);
  const restore = steps.findIndex((s) => s.startsWith(`cp -Pp '${PREV}${KEEPALIVED_CONF_PATH}'`));
  assert.equal(hups.length, 2);
  assert.equal(verifies.length, 2);
  assert.ok(hups[0] < verifies[0] && verifies[0] < restore && restore < hups[1] && hups[1] < verifies[1], steps.join('\n'));
  assert.equal(box.text(KEEPALIVED_CONF_PATH), before, 'the previous file is back');
  assert.equal(box.text(`${PREV}${KEEPALIVED_CONF_PATH}`), before, 'and still kept');
  assert.equal(box.files.has(APPLIED_RECORD_PATH), false);
  assert.match(box.table, /192\.168\.253\.120:80 wlc/, 'the balancer runs the previous table again');
  assert.deepEqual(
    r.steps.map((s) => `${s.step} ${s.ok}`),
    ['backup true', 'write true', 'activate true', 'verify false', 'restore true', 'reactivate true', 'reverify false'],
  );
});

test('apply rolls back when keepalived dies on the new config: restore, start it again, the old table back, verify once', async () => {
  const bad = NAT.replace('scheduler: wlc', 'scheduler: sh');
  const box = boxFrom(NAT); // keepalived knows only the installed config: it exits on the new one
  const r = await applyToBox(box, options(box, bad, [FAIL]));
  assert.equal(r.outcome, 'rolled-back', r.summary);
  assert.match(r.summary, /activation keepalived-reload failed: after \d+\.\d s the new config is not in force: keepalived is no longer running/);
  const steps = box.steps();
  const hup = steps.findIndex((s) => s.startsWith('kill -HUP'));
  const restore = steps.findIndex((s) => s.startsWith(`cp -Pp '${PREV}`));
  const start = steps.indexOf(`'/etc/init.d/keepalived' start`);
  assert.ok(hup < restore && restore < start && start < steps.indexOf('verify'), steps.join('\n'));
  assert.equal(steps.filter((s) => s === 'verify').length, 1, 'no verify of a config that never came up');
  assert.equal(box.keepalivedPid, 5151);
  assert.match(box.table, /192\.168\.253\.120:80 wlc/);
  assert.equal(box.files.has(APPLIED_RECORD_PATH), false);
  assert.deepEqual(r.steps.map((s) => `${s.step} ${s.ok}`), ['backup true', 'write true', 'activate false', 'restore true', 'reactivate true', 'reverify false']);
});

test('apply rolls back a failed write: the written file restored, the new one removed, no activation before the restore', async () => {
  const withKey = NAT.replace('root:\n', 'root:\n  authorized_keys: ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDBChrhO8/rQMDd8SS+TMjhxbOR+Nd+JRaQPgas5EAc7OxCp96JD4y6n+J/SJOW+bmpQL0XeSi9eC6CIk+bhKcclsdQFjtFDKSzyHPVwPVeM7xfSHxNNYfGlN7TuInQSWdjrDL7GuV3FnOVGWOPqIwylLImu8id/8mT7m6WB+8I0w== me@host"]\n').replace('scheduler: wlc', 'scheduler: rr');
  const box = boxFrom(NAT, withKey);
  const before = box.text(KEEPALIVED_CONF_PATH);
  // keepalived.conf sorts first and is written; authorized_keys (new) fails half-way (putFile may have renamed it)
  box.failPut = (p) => {
    if (p === AUTHORIZED_KEYS_PATH) box.files.set(p, { bytes: Buffer.from('partial\n'), mode: 0o600 });
    return p === AUTHORIZED_KEYS_PATH;
  };
  const r = await applyToBox(box, options(box, withKey, [FAIL]));
  assert.equal(r.outcome, 'rolled-back', r.summary);
  assert.match(r.summary, /^writing \/root\/\.ssh\/authorized_keys failed/);
  const steps = box.steps();
  assert.ok(steps.some((s) => s.includes(`mkdir -p -m 700 '/root/.ssh'`)), 'a new file\'s directory is made, private for .ssh');
  const restore = steps.findIndex((s) => s.includes(`rm -f '${AUTHORIZED_KEYS_PATH}'`));
  assert.ok(restore > 0);
  assert.ok(steps[restore].startsWith(`cp -Pp '${PREV}${KEEPALIVED_CONF_PATH}'`), steps[restore]);
  assert.equal(box.files.has(AUTHORIZED_KEYS_PATH), false, 'the new file is removed again');
  assert.equal(box.text(KEEPALIVED_CONF_PATH), before);
  assert.ok(steps.findIndex((s) => s.startsWith('kill -HUP')) > restore, 'the only reload is the rollback\'s, after the restore');
  assert.deepEqual(r.steps.map((s) => `${s.step} ${s.ok}`), ['backup true', 'write true', 'write false', 'restore true', 'reactivate true', 'reverify false']);
});

test('apply: a verify that cannot run (the link dropped) is a failed verify and rolls back', async () => {
  const box = boxFrom(NAT, CHANGED);
  const o = options(box, CHANGED, []);
  let calls = 0;
  o.deps!.verify = async () => {
    calls++;
    if (calls === 1) throw new UserError('ssh root@192.168.253.254: the connection closed');
    return FAIL;
  };
  const r = await applyToBox(box, o);
  assert.equal(r.outcome, 'rolled-back', r.summary);
  assert.match(r.summary, /verify failed after the change: verify could run: ssh root@192\.168\.253\.254: the connection closed; rolled back/);
  assert.match(box.table, /192\.168\.253\.120:80 wlc/);
});

test('apply: a restore that fails is reported as an incomplete rollback naming the previous dir', async () => {
  const box = boxFrom(NAT, CHANGED);
  box.failCommand = (cmd) => cmd.startsWith(`cp -Pp '${PREV}`);
  const r = await applyToBox(box, options(box, CHANGED, [FAIL, FAIL]));
  assert.equal(r.outcome, 'rollback-failed');
  assert.equal(r.exitCode, 1);
  assert.match(r.summary, /ROLLBACK INCOMPLETE: restoring the previous files failed; the previous files are in \/var\/lib\/obsbuild\/previous\/20261204T204706Z on the box/);
});

test('keepalived wait: a down real server may be absent; a stale service, a dropped server or a lost up server is not in force', () => {
  const s = site(NAT).site;
  const before = { table: parseIpvsadm(ipvsadmListing(s)), addresses: [] };
  const reading = (listing: string) => ({ alive: true, table: parseIpvsadm(listing), addresses: [] as string[] });
  // the new config adds .124, which is down: absent, accepted
  const added = site(NAT.replace('        - { address: 172.16.14.123, port: 80, weight: 1 }', '        - { address: 172.16.14.123, port: 80, weight: 1 }\n        - { address: 172.16.14.124, port: 80, weight: 1 }')).site;
  assert.deepEqual(keepalivedProblems(added, 'single', before, reading(ipvsadmListing(added, new Set(['172.16.14.124:80']))), []), []);
  // a server that was up before and is kept must be listed
  assert.match(keepalivedProblems(added, 'single', before, reading(ipvsadmListing(added, new Set(['172.16.14.121:80']))), []).join(), /172\.16\.14\.121:80 .*missing/);
  // the old table (the reload not done yet): the dropped server is still there
  const dropped = site(NAT.replace('        - { address: 172.16.14.123, port: 80, weight: 1 }\n', '')).site;
  assert.match(keepalivedProblems(dropped, 'single', before, reading(ipvsadmListing(s)), []).join(), /still has real server 172\.16\.14\.123:80/);
  // a changed scheduler not yet live; a service the site no longer lists
  const rr = site(CHANGED).site;
  assert.match(keepalivedProblems(rr, 'single', before, reading(ipvsadmListing(s)), []).join(), /uses scheduler wlc, the site file says rr/);
  const other = site(NAT.replace('port: 80\n      protocol', 'port: 8080\n      protocol')).site;
  assert.match(keepalivedProblems(other, 'single', before, reading(ipvsadmListing(s)), []).join(), /still has TCP 192\.168\.253\.120:80/);
  assert.deepEqual(keepalivedProblems(s, 'single', before, { ...reading(''), alive: false }, []), ['keepalived is no longer running']);
  // the settle covers the HTTP check's retries: 1 s + 3 x (3 + 2) s + 1 s
  assert.equal(keepalivedSettleMs(s), 17_000);
});

test('keepalived wait, VRRP: a dropped VIP must be released; a MASTER node must hold the new VIPs, a BACKUP need not', () => {
  const pair = readFileSync(join(repoRoot, 'test/fixtures/sites/dr-http-pair.yaml'), 'utf8');
  const s = site(pair).site;
  const table = parseIpvsadm(ipvsadmListing(s));
  const before = { table, addresses: [] };
  const now = (addresses: string[]) => ({ alive: true, table, addresses });
  assert.match(keepalivedProblems(s, 'master', before, now(['172.16.80.81', '172.16.80.99']), ['172.16.80.99']).join(), /172\.16\.80\.99 is still on the box/);
  assert.match(keepalivedProblems(s, 'master', before, now(['172.16.80.81']), []).join(), /172\.16\.80\.100 is not on this MASTER node yet/);
  assert.deepEqual(keepalivedProblems(s, 'master', before, now(['172.16.80.81', '172.16.80.100']), []), []);
  assert.deepEqual(keepalivedProblems(s, 'backup', before, now(['172.16.80.82']), []), []);
  // the VIPs a box's config floats, read from what the renderer writes (the dropped ones come from this)
  const conf = desiredNode(site(pair), 'master').files.find((f) => f.path === KEEPALIVED_CONF_PATH)!;
  assert.deepEqual(keepalivedVips(fileBytes(conf).toString()), ['172.16.80.100']);
});

test('keepalived wait is bounded: a reload that never shows the new table fails after the bound and rolls back', async () => {
  const box = boxFrom(NAT, CHANGED);
  const old = ipvsadmListing(site(NAT).site);
  box.tableFor = () => old; // keepalived takes the signal but its table never changes
  const clock = new VirtualClock();
  const r = await applyToBox(box, options(box, CHANGED, [FAIL], { clock }));
  assert.equal(r.outcome, 'rolled-back', r.summary);
  assert.match(r.summary, /after 32\.\d s the new config is not in force: web \(TCP 192\.168\.253\.120:80\) uses scheduler wlc, the site file says rr/);
});

test('the apply interpreter edits only the fake: an interfaces change reached over SSH elsewhere is allowed', async () => {
  const eth1 = NAT.replace('172.16.14.120/24', '172.16.14.126/24');
  const box = boxFrom(NAT);
  const r = await applyToBox(box, options(box, eth1, [PASS]));
  assert.equal(r.outcome, 'applied', r.summary);
  assert.ok(box.steps().includes(`ifdown 'eth1' 2>&1; ifup 'eth1'`));
  assert.match(box.text(INTERFACES_PATH)!, /address 172\.16\.14\.126/);
});

test('apply with the ipvsadm manager: the rules are restored and the table must equal the site; a sysctl failure rolls back before the restore', async () => {
  const IPV = readFileSync(join(repoRoot, 'test/fixtures/sites/ipvsadm-nat.yaml'), 'utf8');
  const rr = IPV.replace('scheduler: wlc', 'scheduler: rr');
  const make = (): FakeBox => {
    const box = new FakeBox(desiredNode(site(IPV), undefined, { shadow: SHADOW }));
    box.files.set(SHADOW_PATH, { bytes: Buffer.from(SHADOW), mode: 0o640 });
    box.sshConnection = '203.0.113.9 50022 203.0.113.2 22';
    box.ipAddr = '2: eth0    inet 203.0.113.2/24 scope global eth0\n3: eth1    inet 192.168.100.1/24 scope global eth1\n';
    box.table = ipvsadmListing(site(IPV).site);
    box.tableFor = (rules) => (rules.includes('-s rr') ? ipvsadmListing(site(rr).site) : ipvsadmListing(site(IPV).site));
    return box;
  };
  const box = make();
  const r = await applyToBox(box, options(box, rr, [PASS]));
  assert.equal(r.outcome, 'applied', r.summary);
  assert.ok(box.steps().includes(`ipvsadm -C && ipvsadm -R < '/etc/ipvsadm.rules' && echo @@obsbuild-sep && ipvsadm -L -n`));
  assert.match(box.table, /203\.0\.113\.100:80 rr/);

  // sysctl.conf and the rules change; sysctl -p fails: no restore of the table is attempted before the files go back
  const both = rr.replace('nameservers: [203.0.113.53]', 'nameservers: [203.0.113.53]\n  ip_forward: false');
  const failing = make();
  failing.failCommand = (cmd) => cmd.startsWith('sysctl -p');
  const f = await applyToBox(failing, options(failing, both, [FAIL]));
  assert.equal(f.outcome, 'rollback-failed', f.summary); // sysctl -p keeps failing in the rollback too
  assert.match(f.summary, /activation sysctl failed: sysctl -p failed/);
  const steps = failing.steps();
  const restore = steps.findIndex((s) => s.startsWith(`cp -Pp '${PREV}`));
  const restores = steps.map((s, i) => (s.startsWith('ipvsadm -C') ? i : -1)).filter((i) => i >= 0);
  assert.deepEqual(restores.length, 1);
  assert.ok(restores[0] > restore, 'the table is restored only in the rollback, from the previous rules');
  assert.match(failing.table, /203\.0\.113\.100:80 wlc/);
});

test('every command apply sends is valid POSIX sh (dash -n), rollback and keepalived start included', async () => {
  const { spawnSync } = await import('node:child_process');
  const commands = new Set<string>();
  const collect = (box: FakeBox) => box.ops.filter((o) => o.startsWith('run ')).forEach((o) => commands.add(o.slice(4)));
  const moved = NAT.replace('192.168.253.254/24', '192.168.253.250/24').replace('scheduler: wlc', 'scheduler: sh');
  const a = boxFrom(NAT);
  await applyToBox(a, options(a, moved, [FAIL], { transport: 'serial' }));
  collect(a);
  const b = boxFrom(NAT, CHANGED);
  await applyToBox(b, options(b, CHANGED, [PASS]));
  collect(b);
  assert.ok(commands.size >= 8, [...commands].join('\n'));
  for (const cmd of commands) {
    const r = spawnSync('sh', ['-n', '-c', cmd], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${cmd}\n${r.stderr}`);
  }
});
