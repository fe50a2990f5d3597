import { test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { planApply } from '../../src/daytwo/plan.js';
import { sha256Hex } from '../../src/util/hash.js';
import { APPLIED_RECORD_PATH, DEBCONF_SELECTIONS_PATH, KEEPALIVED_CONF_PATH, SHADOW_PATH, HOSTS_PATH } from '../../src/contracts/box-paths.js';
import { fileBytes } from '../../src/contracts/generated-file.js';
import type { Manifest } from '../../src/contracts/manifest.js';
import { MODULES_DEP_FRESH, runChecks } from '../../src/console/checks.js';
import { formatCheckLine } from '../../src/console/report.js';
import { appliedConfigId, desiredNode } from '../../src/daytwo/desired.js';
import { APPLIED_CHECK, DRIFT_CHECK, formatVerifyReport, verifyBox, type VerifyReport } from '../../src/daytwo/verify.js';
import { loadSite, type LoadedSite } from '../../src/site/load.js';
import { UserError } from '../../src/util/errors.js';
import { repoRoot } from '../helpers/cli.js';
import { BOX_SHADOW, FakeBox, goodAnswers, GOOD_IPADDR_SINGLE, GOOD_IPVSADM_SINGLE } from './fake-box.js';

const site = (name: string) => loadSite(join(repoRoot, 'test/fixtures/sites', `${name}.yaml`));

/** A box exactly as the site renders the node, with /etc/shadow holding the site's root hash. */
function installedFiles(loaded: LoadedSite, node?: 'master' | 'backup'): Map<string, Buffer> {
  const files = new Map<string, Buffer>([[SHADOW_PATH, Buffer.from(BOX_SHADOW)]]);
  for (const f of desiredNode(loaded, node, { shadow: BOX_SHADOW }).files) files.set(f.path, fileBytes(f));
  return files;
}

function singleBox(loaded: LoadedSite, manifestId?: string): FakeBox {
  return new FakeBox(installedFiles(loaded), goodAnswers({ hostname: 'obs600', ipAddr: GOOD_IPADDR_SINGLE, ipvsadm: GOOD_IPVSADM_SINGLE, manifestId }));
}

const status = (r: VerifyReport, name: string) => r.checks.find((c) => c.name === name)?.status;

function manifestListing(paths: string[], id = '0123456789abcdef'): Manifest {
  return { id, config: paths.map((path) => ({ path, type: 'file', mode: '0644', uid: 0, gid: 0, size: 1 })) } as unknown as Manifest;
}

test('a box as installed from the site passes every check, reads all files in one command and writes nothing', async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded, '0123456789abcdef');
  const r = await verifyBox(box, { loaded, manifest: manifestListing([KEEPALIVED_CONF_PATH]), target: 'ssh root@lb' });
  assert.equal(r.passed, true, formatVerifyReport(r));
  assert.deepEqual(r.node, { role: 'single', hostname: 'obs600' });
  assert.equal(status(r, 'manifest id matches the build'), 'pass');
  assert.equal(status(r, DRIFT_CHECK), 'pass');
  assert.match(r.checks.find((c) => c.name === APPLIED_CHECK)!.evidence, /^as installed/);
  assert.ok(r.drift.length >= 8 && r.drift.every((d) => d.state === 'same'));
  assert.ok(r.drift.some((d) => d.path === SHADOW_PATH), 'root password hash compared through /etc/shadow');
  assert.equal(r.desiredId, appliedConfigId(desiredNode(loaded, undefined, { shadow: BOX_SHADOW }), loaded.sha256));
  assert.equal(r.appliedId, null);
  assert.equal(box.runs.filter((c) => c.includes('@@obsbuild-files-begin')).length, 1, 'one round trip for the files');
  assert.equal(box.writes, 0);
  assert.ok(!box.runs.some((c) => /depmod -a|sync/.test(c)), 'no depmod -a or sync on a running box');
  assert.ok(box.runs.includes(MODULES_DEP_FRESH));
});

test('a hand-edited file is drift: named, with a unified diff from the box to the site; verify fails', async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded);
  const conf = box.files.get(KEEPALIVED_CONF_PATH)!.toString();
  box.files.set(KEEPALIVED_CONF_PATH, Buffer.from(conf.replace('lb_algo wlc', 'lb_algo rr')));
  box.files.delete(HOSTS_PATH);
  const r = await verifyBox(box, { loaded });
  assert.equal(r.passed, false);
  const d = r.drift.find((x) => x.path === KEEPALIVED_CONF_PATH)!;
  assert.equal(d.state, 'drifted');
  assert.match(d.diff!, /^--- box\/etc\/keepalived\/keepalived\.conf$/m);
  assert.match(d.diff!, /^-\s*lb_algo rr$/m);
  assert.match(d.diff!, /^\+\s*lb_algo wlc$/m);
  assert.equal(r.drift.find((x) => x.path === HOSTS_PATH)!.state, 'missing');
  const drift = r.checks.find((c) => c.name === DRIFT_CHECK)!;
  assert.equal(drift.status, 'fail');
  assert.match(drift.evidence, /differ: \/etc\/keepalived\/keepalived\.conf; missing: \/etc\/hosts/);
  assert.equal(status(r, APPLIED_CHECK), 'fail');
  const text = formatVerifyReport(r);
  assert.match(text, /^-\s*lb_algo rr$/m);
  assert.match(text, /^\/etc\/hosts: missing on the box$/m);
  assert.match(text, /^obsbuild: verify: FAIL, 2 check\(s\) failed: files match the site file \(drift\), applied config is live$/m);
});

test("a changed root password hash is drift of /etc/shadow, but its content is never shown", async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded);
  const secret = 'root:$1$handset$SECRETSECRETSECRETSECRE:14000:0:99999:7:::\ndaemon:*:14000:0:99999:7:::\n';
  box.files.set(SHADOW_PATH, Buffer.from(secret));
  const r = await verifyBox(box, { loaded });
  const d = r.drift.find((x) => x.path === SHADOW_PATH)!;
  assert.equal(d.state, 'drifted');
  assert.equal(d.diff, '/etc/shadow: differs (diff not shown: secret)\n');
  const everything = formatVerifyReport(r) + JSON.stringify(r);
  assert.doesNotMatch(everything, /SECRET|fixture\$7sa4/);
  assert.equal(r.passed, false);
});

test('the right bytes with the wrong mode or owner are drift (a world-readable /etc/shadow); apply plans to put mode and owner back', async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded);
  const shadowFile = desiredNode(loaded, undefined, { shadow: BOX_SHADOW }).files.find((f) => f.path === SHADOW_PATH)!;
  box.files.set(SHADOW_PATH, Buffer.from(fileBytes(shadowFile)));
  box.meta.set(SHADOW_PATH, { mode: 0o640, uid: 0, gid: 42 });
  box.meta.set(KEEPALIVED_CONF_PATH, { mode: 0o644, uid: 0, gid: 0 });
  const clean = await verifyBox(box, { loaded });
  assert.equal(clean.drift.find((x) => x.path === SHADOW_PATH)?.state, 'same');
  assert.equal(clean.drift.find((x) => x.path === KEEPALIVED_CONF_PATH)?.state, 'same');

  box.meta.set(SHADOW_PATH, { mode: 0o644, uid: 0, gid: 0 });
  box.meta.set(KEEPALIVED_CONF_PATH, { mode: 0o666, uid: 1000, gid: 0 });
  const r = await verifyBox(box, { loaded });
  assert.equal(r.passed, false);
  const shadow = r.drift.find((x) => x.path === SHADOW_PATH)!;
  assert.equal(shadow.state, 'drifted');
  assert.equal(shadow.diff, '/etc/shadow: mode 0644 on the box, 0640 wanted; owner 0:0 on the box, 0:42 wanted\n');
  assert.equal(r.drift.find((x) => x.path === KEEPALIVED_CONF_PATH)?.diff, '/etc/keepalived/keepalived.conf: mode 0666 on the box, 0644 wanted; owner 1000:0 on the box, 0:0 wanted\n');

  const reading = new Map([...box.files].map(([p, b]) => [p, { sha256: sha256Hex(b), size: b.length, bytes: b, truncated: false, meta: box.meta.get(p) }]));
  const plan = planApply(desiredNode(loaded, undefined, { shadow: BOX_SHADOW }), reading, { transport: 'serial' });
  const change = plan.changes.find((c) => c.path === SHADOW_PATH)!;
  assert.deepEqual([change.kind, change.mode, change.owner, change.diff], ['modify', 0o640, { uid: 0, gid: 42 }, shadow.diff]);
});

test('a file the site no longer renders (keepalived.conf after switching to manager ipvsadm) is information, not a failure', async () => {
  const loaded = await site('ipvsadm-nat');
  const files = installedFiles(loaded);
  files.set(KEEPALIVED_CONF_PATH, Buffer.from('global_defs {\n}\n'));
  files.set(DEBCONF_SELECTIONS_PATH, Buffer.from('x\n'));
  const ipAddr = '2: eth0    inet 203.0.113.2/24 scope global eth0\n2: eth0    inet 203.0.113.100/24 scope global secondary eth0:100\n3: eth1    inet 192.168.100.1/24 scope global eth1\n';
  const answers = goodAnswers({ hostname: 'lvs', ipAddr, ipvsadm: GOOD_IPVSADM_SINGLE });
  const box = new FakeBox(files, answers);
  const manifest = manifestListing([KEEPALIVED_CONF_PATH, DEBCONF_SELECTIONS_PATH, HOSTS_PATH]);
  const r = await verifyBox(box, { loaded, manifest });
  assert.deepEqual(r.leftovers.map((l) => [l.path, l.from]), [[KEEPALIVED_CONF_PATH, 'manifest']]);
  const drift = r.checks.find((c) => c.name === DRIFT_CHECK)!;
  assert.equal(drift.status, 'pass');
  assert.match(drift.evidence, /info: left over, the site no longer renders \/etc\/keepalived\/keepalived\.conf$/);
  assert.match(formatVerifyReport(r), /^ {2}\/etc\/keepalived\/keepalived\.conf \(listed in the manifest\)$/m);
});

test('the applied record: the id the site gives is live; another id, or garbage, fails', async () => {
  const loaded = await site('nat-single');
  const desiredId = appliedConfigId(desiredNode(loaded, undefined, { shadow: BOX_SHADOW }), loaded.sha256);
  const record = (id: string) => Buffer.from(JSON.stringify({ format: 1, id, node: { role: 'single', hostname: 'obs600' }, site: { file: 'x', sha256: 'y' }, appliedAt: '2026-12-04T20:00:00Z', obsbuild: '0.1.0', files: [] }));

  let box = singleBox(loaded);
  box.files.set(APPLIED_RECORD_PATH, record(desiredId));
  let r = await verifyBox(box, { loaded });
  assert.equal(r.appliedId, desiredId);
  assert.equal(status(r, APPLIED_CHECK), 'pass', formatVerifyReport(r));

  box = singleBox(loaded);
  box.files.set(APPLIED_RECORD_PATH, record('ffffffffffffffff'));
  r = await verifyBox(box, { loaded });
  assert.equal(status(r, APPLIED_CHECK), 'fail');
  assert.match(r.checks.find((c) => c.name === APPLIED_CHECK)!.evidence, new RegExp(`last applied config ffffffffffffffff, the site file gives ${desiredId}`));
  assert.equal(r.passed, false);

  // apply verifies its new files before it records them: the old record is not held against it
  r = await verifyBox(box, { loaded, beforeRecord: true });
  assert.equal(status(r, APPLIED_CHECK), 'skip');
  assert.equal(r.appliedId, 'ffffffffffffffff');
  assert.equal(r.passed, true);

  for (const bad of ['{not json', '{"id": 5}', JSON.stringify({ id: desiredId, files: [{ path: 'relative', sha256: 'x' }] })]) {
    box = singleBox(loaded);
    box.files.set(APPLIED_RECORD_PATH, Buffer.from(bad));
    r = await verifyBox(box, { loaded });
    assert.equal(status(r, APPLIED_CHECK), 'fail', bad);
    assert.equal(r.appliedId, null);
  }
  box = singleBox(loaded);
  box.files.set(APPLIED_RECORD_PATH, Buffer.alloc(300 * 1024, 0x20));
  r = await verifyBox(box, { loaded });
  assert.match(r.checks.find((c) => c.name === APPLIED_CHECK)!.evidence, /is 307200 bytes, not a record apply writes/);
});

test('files an applied record lists that the site no longer renders are read and reported too', async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded);
  box.files.set('/etc/ipvsadm.rules', Buffer.from('-A -t 1.2.3.4:80\n'));
  box.files.set(APPLIED_RECORD_PATH, Buffer.from(JSON.stringify({ id: 'ffffffffffffffff', files: [{ path: '/etc/ipvsadm.rules', sha256: 'a' }] })));
  const r = await verifyBox(box, { loaded });
  assert.deepEqual(r.leftovers.map((l) => [l.path, l.from]), [['/etc/ipvsadm.rules', 'applied']]);
});

test('an HA pair member reports the floating addresses it holds; a part of them fails', async () => {
  const loaded = await site('dr-http-pair');
  const ipvsadm = 'TCP  172.16.80.100:80 rr persistent 50\n  -> 172.16.80.79:80 Route 1 0 0\n  -> 172.16.80.78:80 Route 1 0 0\n';
  const base = '2: eth0    inet 172.16.80.81/18 brd 172.16.127.255 scope global eth0\n';
  const master = (ip: string) => new FakeBox(installedFiles(loaded, 'master'), goodAnswers({ hostname: 'lvs-master', ipAddr: ip, ipvsadm }));
  let r = await verifyBox(master(base + '2: eth0    inet 172.16.80.100/32 scope global eth0\n'), { loaded, node: 'master' });
  assert.equal(r.passed, true, formatVerifyReport(r));
  assert.deepEqual(r.ha, { role: 'master', hostname: 'lvs-master', holds: ['172.16.80.100'], lacks: [] });
  assert.match(formatVerifyReport(r), /PASS {2}floating addresses held all or not at all: lvs-master \(master\) holds 172\.16\.80\.100: it is the active director/);
  r = await verifyBox(master(base), { loaded, node: 'master' });
  assert.equal(r.passed, true);
  assert.match(r.checks.at(-3)!.evidence, /holds none of 172\.16\.80\.100: standby/);

  // with an inside address floating too, holding one of the two is a split
  loaded.site.lvs.vrrp!.inside_address = '172.16.80.250';
  r = await verifyBox(master(base + '2: eth0    inet 172.16.80.100/32 scope global eth0\n'), { loaded, node: 'master' });
  const ha = r.checks.find((c) => c.name === 'floating addresses held all or not at all')!;
  assert.equal(ha.status, 'fail');
  assert.match(ha.evidence, /holds 172\.16\.80\.100 but not 172\.16\.80\.250/);
});

test('a pair without --node is refused before anything runs on the box', async () => {
  const loaded = await site('dr-http-pair');
  const box = new FakeBox(new Map(), new Map());
  await assert.rejects(verifyBox(box, { loaded }), /choose --node master or --node backup/);
  assert.deepEqual(box.runs, []);
});

test('the console checks in read-only mode check modules.dep instead of running depmod -a; the console keeps depmod -a', async () => {
  const loaded = await site('nat-single');
  const ran: string[] = [];
  const stale = async (command: string) => {
    ran.push(command);
    return { command, exitCode: 0, output: command === MODULES_DEP_FRESH ? '/lib/modules/2.6.29/kernel/net/ipv4/ipvs/ip_vs.ko\n' : '', durationMs: 1 };
  };
  const ro = await runChecks(stale, { site: loaded.site, manifestId: null, readOnly: true });
  assert.equal(ro[0].name, 'modules.dep is up to date');
  assert.equal(ro[0].status, 'fail');
  assert.match(ro[0].evidence, /1 module\(s\) newer than modules\.dep \(run depmod -a\), e\.g\. .*ip_vs\.ko/);
  assert.ok(!ran.some((c) => c.includes('depmod -a')));
  ran.length = 0;
  const console = await runChecks(stale, { site: loaded.site, manifestId: null });
  assert.equal(console[0].name, 'depmod -a succeeds');
  assert.equal(ran[0], 'depmod -a && sync');
});

test('the report prints each check as the console does, and escapes control characters from the box', async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded);
  box.files.set(HOSTS_PATH, Buffer.from('127.0.0.1 localhost\x1b[2J\n'));
  const r = await verifyBox(box, { loaded, target: 'ssh root@lb' });
  const text = formatVerifyReport(r);
  assert.ok(text.startsWith('obsbuild: verify ssh root@lb: obs600\n'));
  for (const c of r.checks) assert.ok(text.includes(`${formatCheckLine(c)}\n`), c.name);
  assert.match(text, /^-127\.0\.0\.1 localhost\\x1b\[2J$/m);
  assert.ok(!text.includes('\x1b'));
});

test('verify asks the box once: the checks and every file in one round trip (one SSH session, one serial prompt)', async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded, '0123456789abcdef');
  const r = await verifyBox(box, { loaded, manifest: manifestListing([KEEPALIVED_CONF_PATH]) });
  assert.equal(r.passed, true, formatVerifyReport(r));
  assert.equal(box.sessions.length, 1, `one run, not ${box.sessions.length}`);
  assert.ok(box.sessions[0].includes('echo @@obsbuild-files-begin'), 'the files are read in the same run as the checks');
  assert.ok(box.runs.includes(MODULES_DEP_FRESH) && box.runs.includes('ipvsadm -L -n'));

  // an HA pair member too: its floating-address check reads the batch's `ip` output
  const pair = await site('dr-http-pair');
  const ipvsadm = 'TCP  172.16.80.100:80 rr persistent 50\n  -> 172.16.80.79:80 Route 1 0 0\n  -> 172.16.80.78:80 Route 1 0 0\n';
  const master = new FakeBox(installedFiles(pair, 'master'), goodAnswers({ hostname: 'lvs-master', ipAddr: '2: eth0    inet 172.16.80.81/18 brd 172.16.127.255 scope global eth0\n', ipvsadm }));
  const m = await verifyBox(master, { loaded: pair, node: 'master' });
  assert.equal(m.passed, true, formatVerifyReport(m));
  assert.equal(master.sessions.length, 1);
});

test('a batch cut before the file reading ends: the checks keep their answers, the files are read again on their own', async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded);
  const run = box.run.bind(box);
  let first = true;
  box.run = async (command) => {
    const r = await run(command);
    if (!first) return r;
    first = false;
    // the line dropped the batch's tail: the file reading's end marker never came
    return { exitCode: r.exitCode, stdout: r.stdout.slice(0, r.stdout.indexOf('@@obsbuild-file 3 ')) };
  };
  const lines: string[] = [];
  const r = await verifyBox(box, { loaded, log: (l) => lines.push(l) });
  assert.equal(r.passed, true, formatVerifyReport(r));
  assert.equal(box.sessions.length, 2);
  assert.ok(box.sessions[0].includes('echo @@obsbuild-files-begin') && box.sessions[0].includes('ipvsadm -L -n'), 'the first run carried checks and files');
  assert.ok(box.sessions[1].startsWith('left='), 'the second run reads the files alone');
  assert.equal(box.runs.filter((c) => c === 'ipvsadm -L -n').length, 1, 'no check ran twice');
});

test("the file reading's output inside the batch is parsed as strictly as alone: a broken answer is a one-line error", async () => {
  const loaded = await site('nat-single');
  const box = singleBox(loaded);
  const run = box.run.bind(box);
  box.run = async (command) => {
    const r = await run(command);
    return { exitCode: r.exitCode, stdout: r.stdout.replace(/^@@obsbuild-file 2 F .*$/m, '@@obsbuild-file 2 F lots') };
  };
  await assert.rejects(verifyBox(box, { loaded, target: 'box1' }), (e: unknown) => e instanceof UserError && /^box1: unexpected output while reading files: @@obsbuild-file 2 F lots$/.test(e.message));
  assert.equal(box.sessions.length, 1, 'not retried: the box answered, wrongly');
});
