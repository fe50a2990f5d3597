/**
 * files: on day two: the site's own files are among the node's desired files, so verify reports drift on
 * them and apply writes them (with their mode, restarting nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileBytes } from '../../src/contracts/generated-file.js';
import { PREVIOUS_FILES_DIR, SHADOW_PATH } from '../../src/contracts/box-paths.js';
import { applyToBox } from '../../src/daytwo/apply.js';
import type { VerifyReportLike } from '../../src/daytwo/apply-deps.js';
import { desiredNode } from '../../src/daytwo/desired.js';
import { planApply } from '../../src/daytwo/plan.js';
import { DRIFT_CHECK, verifyBox } from '../../src/daytwo/verify.js';
import { parseSite, type LoadedSite } from '../../src/site/load.js';
import { sha256Hex } from '../../src/util/hash.js';
import { repoRoot } from '../helpers/cli.js';
import { FakeBox as ApplyBox, ipvsadmListing, VirtualClock } from './apply-fake-box.js';
import { BOX_SHADOW, FakeBox, goodAnswers, GOOD_IPADDR_SINGLE, GOOD_IPVSADM_SINGLE } from './fake-box.js';

const NAT = readFileSync(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), 'utf8');
const files = (motd: string) => `${NAT}\nfiles:\n  entries:\n    - { path: /etc/motd, content: "${motd}\\n", mode: "0640" }\n`;
const site = (text: string): LoadedSite => parseSite(text, join(repoRoot, 'obsbuild.yaml'));
const PASS: VerifyReportLike = { checks: [{ name: 'IPVS table matches the site file', status: 'pass', evidence: 'ok' }], passed: true };
/** apply of `loaded` to the fake box over a serial console, its verify passing. */
const applyOver = (box: ApplyBox, loaded: LoadedSite) =>
  applyToBox(box, { loaded, transport: 'serial', target: 'serial /dev/ttyUSB0', yes: true, obsbuildVersion: '0.1.0-test', clock: new VirtualClock(), deps: { readFiles: box.readFiles, readLinks: box.readLinks, verify: async () => PASS } });

test('verify: a changed files: file on the box is drift, named, with a diff', async () => {
  const loaded = site(files('managed by obsbuild'));
  const installed = new Map<string, Buffer>([[SHADOW_PATH, Buffer.from(BOX_SHADOW)]]);
  for (const f of desiredNode(loaded, undefined, { shadow: BOX_SHADOW }).files) installed.set(f.path, fileBytes(f));
  assert.equal(installed.get('/etc/motd')?.toString(), 'managed by obsbuild\n', 'the desired files include the site\'s own');
  const box = new FakeBox(installed, goodAnswers({ hostname: 'obs600', ipAddr: GOOD_IPADDR_SINGLE, ipvsadm: GOOD_IPVSADM_SINGLE }));
  assert.equal((await verifyBox(box, { loaded })).checks.find((c) => c.name === DRIFT_CHECK)?.status, 'pass');

  box.files.set('/etc/motd', Buffer.from('edited by hand\n'));
  const r = await verifyBox(box, { loaded });
  assert.equal(r.passed, false);
  const d = r.drift.find((x) => x.path === '/etc/motd');
  assert.equal(d?.state, 'drifted');
  assert.match(d!.diff!, /^-edited by hand$/m);
  assert.match(d!.diff!, /^\+managed by obsbuild$/m);
  assert.match(r.checks.find((c) => c.name === DRIFT_CHECK)!.evidence, /differ: \/etc\/motd/);
});

test("apply: the plan writes a changed files: file with its mode and restarts nothing; the write happens", async () => {
  const before = site(files('old text'));
  const after = site(files('new text'));
  const desired = desiredNode(before, undefined, { shadow: BOX_SHADOW });
  const box = new ApplyBox(desired);
  box.table = ipvsadmListing(before.site);

  const wanted = desiredNode(after, undefined, { shadow: BOX_SHADOW });
  const reading = new Map([...box.files].map(([p, f]) => [p, { sha256: sha256Hex(f.bytes), size: f.bytes.length, bytes: f.bytes, truncated: false }]));
  const plan = planApply(wanted, reading, { transport: 'serial' });
  assert.deepEqual(plan.refusals, []);
  assert.deepEqual(plan.changes.map((c) => [c.path, c.kind, c.activation.kind, c.mode]), [['/etc/motd', 'modify', 'none', 0o640]]);
  assert.deepEqual(plan.activations, []);

  const r = await applyOver(box, after);
  assert.equal(r.outcome, 'applied', r.summary);
  assert.equal(box.text('/etc/motd'), 'new text\n');
  assert.equal(box.files.get('/etc/motd')?.mode, 0o640);
  assert.ok(!box.steps().some((s) => /kill -HUP|ifup|sysctl -p|hostname -F/.test(s)), box.steps().join('\n'));
});

test("apply writes each file with its owner: a files: entry's owner and group by the box's own account files, /etc/shadow as root:shadow", async () => {
  const owned = (motd: string) => `${NAT}\nfiles:\n  entries:\n    - { path: /etc/motd, content: "${motd}\\n", mode: "0640", owner: daemon, group: adm }\n`;
  const before = site(owned('old text'));
  const after = site(owned('new text'));
  const box = new ApplyBox(desiredNode(before, undefined, { shadow: BOX_SHADOW }));
  box.table = ipvsadmListing(before.site);
  // the box's own ids, not the build host's (adm is 4 on Debian; the box could say otherwise)
  box.files.set('/etc/passwd', { bytes: Buffer.from('root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n'), mode: 0o644 });
  box.files.set('/etc/group', { bytes: Buffer.from('root:x:0:\ndaemon:x:1:\nadm:x:44:\nshadow:x:42:\n'), mode: 0o644 });
  box.files.set(SHADOW_PATH, { bytes: Buffer.from(BOX_SHADOW.replace(/^root:[^:]*:/, 'root:$1$other$xxxxxxxxxxxxxxxxxxxxxx:')), mode: 0o640 });
  const r = await applyOver(box, after);
  assert.equal(r.outcome, 'applied', r.summary);
  assert.deepEqual(box.owners.get('/etc/motd'), { uid: 1, gid: 44 });
  assert.deepEqual(box.owners.get(SHADOW_PATH), { uid: 0, gid: 42 });
});

test("verify compares a files: entry's owner by the box's own account files; a name the box lacks is one line naming the site line", async () => {
  const text = `${NAT}\nfiles:\n  entries:\n    - { path: /etc/motd, content: "hi\\n", mode: "0640", owner: daemon, group: adm }\n`;
  const loaded = site(text);
  const installed = new Map<string, Buffer>([[SHADOW_PATH, Buffer.from(BOX_SHADOW)]]);
  for (const f of desiredNode(loaded, undefined, { shadow: BOX_SHADOW }).files) installed.set(f.path, fileBytes(f));
  installed.set('/etc/passwd', Buffer.from('root:x:0:0:root:/root:/bin/sh\ndaemon:x:1:1:daemon:/usr/sbin:/bin/sh\n'));
  installed.set('/etc/group', Buffer.from('root:x:0:\ndaemon:x:1:\nadm:x:44:\n'));
  const box = new FakeBox(installed, goodAnswers({ hostname: 'obs600', ipAddr: GOOD_IPADDR_SINGLE, ipvsadm: GOOD_IPVSADM_SINGLE }));
  box.meta.set('/etc/motd', { mode: 0o640, uid: 1, gid: 44 });
  assert.equal((await verifyBox(box, { loaded })).drift.find((d) => d.path === '/etc/motd')?.state, 'same');
  box.meta.set('/etc/motd', { mode: 0o640, uid: 0, gid: 0 });
  const r = await verifyBox(box, { loaded });
  assert.equal(r.drift.find((d) => d.path === '/etc/motd')?.diff, '/etc/motd: owner 0:0 on the box, 1:44 wanted\n');

  box.files.set('/etc/group', Buffer.from('root:x:0:\ndaemon:x:1:\n'));
  await assert.rejects(verifyBox(box, { loaded }), (e: Error) => /obsbuild\.yaml:\d+: .*group adm is not in the box's \/etc\/group/.test(e.message) && !e.message.includes('\n'));
});

/** A site whose files: folder holds an init script and the rc2.d symlink that starts it. */
function withLinkSite(fn: (loaded: LoadedSite) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'obsbuild-links-'));
  mkdirSync(join(dir, 'root/etc/init.d'), { recursive: true });
  mkdirSync(join(dir, 'root/etc/rc2.d'), { recursive: true });
  writeFileSync(join(dir, 'root/etc/init.d/hello'), '#!/bin/sh\necho hello\n', { mode: 0o755 });
  symlinkSync('../init.d/hello', join(dir, 'root/etc/rc2.d/S99hello'));
  return fn(parseSite(`${NAT}\nfiles:\n  folder: root\n`, join(dir, 'obsbuild.yaml'))).finally(() => rmSync(dir, { recursive: true, force: true }));
}

test("verify compares the site's symlinks: where each points, or what is there instead", async () => {
  await withLinkSite(async (loaded) => {
    const installed = new Map<string, Buffer>([[SHADOW_PATH, Buffer.from(BOX_SHADOW)]]);
    const desired = desiredNode(loaded, undefined, { shadow: BOX_SHADOW });
    for (const f of desired.files) installed.set(f.path, fileBytes(f));
    assert.deepEqual(desired.links?.map((l) => [l.path, l.linkTarget]), [['/etc/rc2.d/S99hello', '../init.d/hello']]);
    const box = new FakeBox(installed, goodAnswers({ hostname: 'obs600', ipAddr: GOOD_IPADDR_SINGLE, ipvsadm: GOOD_IPVSADM_SINGLE }));
    box.links.set('/etc/rc2.d/S99hello', '../init.d/hello');
    let r = await verifyBox(box, { loaded });
    assert.equal(r.checks.find((c) => c.name === DRIFT_CHECK)?.status, 'pass', JSON.stringify(r.drift));
    assert.equal(r.drift.find((d) => d.path === '/etc/rc2.d/S99hello')?.state, 'same');
    assert.equal(box.sessions.length, 1, 'the links are read in the same round trip as everything else');

    box.links.set('/etc/rc2.d/S99hello', '../init.d/other');
    r = await verifyBox(box, { loaded });
    assert.equal(r.passed, false);
    assert.equal(r.drift.find((d) => d.path === '/etc/rc2.d/S99hello')?.diff, '/etc/rc2.d/S99hello: a symlink to "../init.d/other" on the box, to "../init.d/hello" wanted\n');

    box.links.delete('/etc/rc2.d/S99hello');
    r = await verifyBox(box, { loaded });
    assert.equal(r.drift.find((d) => d.path === '/etc/rc2.d/S99hello')?.state, 'missing');
    assert.match(r.checks.find((c) => c.name === DRIFT_CHECK)!.evidence, /missing: \/etc\/rc2\.d\/S99hello/);
  });
});

test("apply makes the site's symlinks: a missing one created, a wrong one repointed in one rename, a directory in the way refused", async () => {
  await withLinkSite(async (loaded) => {
    const box = new ApplyBox(desiredNode(loaded, undefined, { shadow: BOX_SHADOW }));
    box.table = ipvsadmListing(loaded.site);
    let r = await applyOver(box, loaded);
    assert.equal(r.outcome, 'applied', r.summary);
    assert.deepEqual(r.plan.changes.map((c) => [c.path, c.kind, c.type]), [['/etc/rc2.d/S99hello', 'create', 'symlink']]);
    assert.equal(box.links.get('/etc/rc2.d/S99hello'), '../init.d/hello');

    box.links.set('/etc/rc2.d/S99hello', '../init.d/old');
    r = await applyOver(box, loaded);
    assert.equal(r.outcome, 'applied', r.summary);
    assert.deepEqual(r.plan.changes.map((c) => [c.path, c.kind]), [['/etc/rc2.d/S99hello', 'modify']]);
    assert.equal(box.links.get('/etc/rc2.d/S99hello'), '../init.d/hello');
    // the old link is kept as a link (cp -P), and the new one replaces the path in one rename (mv -T)
    assert.ok([...box.links].some(([p, t]) => p.startsWith(PREVIOUS_FILES_DIR) && p.endsWith('/etc/rc2.d/S99hello') && t === '../init.d/old'));
    assert.ok(box.steps().some((s) => /^rm -f '\/etc\/rc2\.d\/S99hello\.obsbuild-link' && ln -s -- '\.\.\/init\.d\/hello' .* && mv -Tf /.test(s)), box.steps().join('\n'));

    box.links.delete('/etc/rc2.d/S99hello');
    box.dirs.add('/etc/rc2.d/S99hello');
    r = await applyOver(box, loaded);
    assert.equal(r.outcome, 'refused');
    assert.match(r.summary, /\/etc\/rc2\.d\/S99hello: a directory is where the site wants a symlink/);
  });
});
