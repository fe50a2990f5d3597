import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LOCALTIME_PATH, SHADOW_PATH, TIMEZONE_PATH } from '../../src/contracts/box-paths.js';
import { fileBytes } from '../../src/contracts/generated-file.js';
import { timezoneCommand } from '../../src/console/checks.js';
import { applyToBox } from '../../src/daytwo/apply.js';
import { desiredNode } from '../../src/daytwo/desired.js';
import { DRIFT_CHECK, verifyBox } from '../../src/daytwo/verify.js';
import { parseSite } from '../../src/site/load.js';
import { repoRoot } from '../helpers/cli.js';
import { tzif } from '../fixtures/inputs/make-standin-inputs.js';
import { FakeBox as ApplyBox, VirtualClock } from './apply-fake-box.js';
import { BOX_SHADOW, FakeBox, goodAnswers, GOOD_IPADDR_SINGLE, GOOD_IPVSADM_SINGLE } from './fake-box.js';

const NAT = readFileSync(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), 'utf8');
const TOKYO = `${NAT.trimEnd()}\ntimezone: Asia/Tokyo\n`;
const JST = tzif('JST', 9 * 3600);
const UTC = tzif('UTC', 0);
const TZDATA: Array<[string, Buffer]> = [
  ['/usr/share/zoneinfo/Asia/Tokyo', JST],
  ['/usr/share/zoneinfo/Etc/UTC', UTC],
];

/** A box installed from `text`, with the stand-in tzdata and the zone `installedZone` in effect. */
function verifyBoxOf(text: string, installedZone: 'Asia/Tokyo' | 'Etc/UTC'): FakeBox {
  const files = new Map<string, Buffer>([[SHADOW_PATH, Buffer.from(BOX_SHADOW)], ...TZDATA]);
  for (const f of desiredNode(parseSite(text, 'obsbuild.yaml'), undefined, { shadow: BOX_SHADOW }).files) files.set(f.path, fileBytes(f));
  files.set(TIMEZONE_PATH, Buffer.from(`${installedZone}\n`));
  files.set(LOCALTIME_PATH, installedZone === 'Asia/Tokyo' ? JST : UTC);
  const answers = goodAnswers({ hostname: 'obs600', ipAddr: GOOD_IPADDR_SINGLE, ipvsadm: GOOD_IPVSADM_SINGLE });
  const same = installedZone === 'Asia/Tokyo';
  answers.set(timezoneCommand('Asia/Tokyo'), { exitCode: 0, stdout: `timezone=${installedZone}\nlocaltime=${same ? 'same' : 'differs'}\nabbrev=${same ? 'JST' : 'UTC'}\n` });
  return new FakeBox(files, answers);
}

test('verify: /etc/timezone and /etc/localtime are the site\'s; another zone on the box is drift of both and fails the time zone check', async () => {
  const loaded = parseSite(TOKYO, 'obsbuild.yaml');
  const ok = await verifyBox(verifyBoxOf(TOKYO, 'Asia/Tokyo'), { loaded });
  assert.equal(ok.passed, true, JSON.stringify(ok.checks.filter((c) => c.status === 'fail')));
  assert.deepEqual(
    ok.drift.filter((d) => d.path === TIMEZONE_PATH || d.path === LOCALTIME_PATH).map((d) => [d.path, d.state]),
    [[LOCALTIME_PATH, 'same'], [TIMEZONE_PATH, 'same']],
  );
  assert.equal(ok.checks.find((c) => c.name === 'time zone is Asia/Tokyo')?.status, 'pass');

  const r = await verifyBox(verifyBoxOf(TOKYO, 'Etc/UTC'), { loaded });
  assert.equal(r.passed, false);
  const tz = r.drift.find((d) => d.path === TIMEZONE_PATH)!;
  assert.equal(tz.state, 'drifted');
  assert.match(tz.diff!, /^-Etc\/UTC$/m);
  assert.match(tz.diff!, /^\+Asia\/Tokyo$/m);
  const lt = r.drift.find((d) => d.path === LOCALTIME_PATH)!;
  assert.equal(lt.state, 'drifted');
  assert.equal(lt.diff, '/etc/localtime: binary content, diff not shown\n');
  assert.match(r.checks.find((c) => c.name === DRIFT_CHECK)!.evidence, /^differ: \/etc\/localtime, \/etc\/timezone/);
  const check = r.checks.find((c) => c.name === 'time zone is Asia/Tokyo')!;
  assert.equal(check.status, 'fail');
  assert.match(check.evidence, /\/etc\/timezone says Etc\/UTC/);
});

test('verify: a box without the zone file has no /etc/localtime to compare; the time zone check says why', async () => {
  const loaded = parseSite(TOKYO, 'obsbuild.yaml');
  const box = verifyBoxOf(TOKYO, 'Asia/Tokyo');
  box.files.delete('/usr/share/zoneinfo/Asia/Tokyo');
  box.answers.set(timezoneCommand('Asia/Tokyo'), { exitCode: 0, stdout: 'timezone=Asia/Tokyo\nlocaltime=nozone\nabbrev=UTC\n' });
  const r = await verifyBox(box, { loaded });
  assert.equal(r.drift.some((d) => d.path === LOCALTIME_PATH), false);
  assert.equal(r.drift.find((d) => d.path === TIMEZONE_PATH)?.state, 'same');
  const check = r.checks.find((c) => c.name === 'time zone is Asia/Tokyo')!;
  assert.equal(check.status, 'fail');
  assert.match(check.evidence, /the box has no \/usr\/share\/zoneinfo\/Asia\/Tokyo/);
});

test('apply: a new timezone: writes /etc/timezone and copies the box\'s own zone file to /etc/localtime (a regular file, 0644); nothing to reload', async () => {
  // root's hash as the site file has it: only the time zone changes
  const shadow = 'root:$1$fixture$7sa4GtBomJXmarYg/KhNO/:14000:0:99999:7:::\ndaemon:*:14000:0:99999:7:::\n';
  const before = desiredNode(parseSite(NAT, 'obsbuild.yaml'), undefined, { shadow });
  const box = new ApplyBox(before);
  box.files.set(SHADOW_PATH, { bytes: Buffer.from(shadow), mode: 0o640 });
  box.files.set(TIMEZONE_PATH, { bytes: Buffer.from('Etc/UTC\n'), mode: 0o644 });
  box.files.set(LOCALTIME_PATH, { bytes: UTC, mode: 0o644 });
  // the box's tzdata is newer than the build's: /etc/localtime follows the box, as its tzdata would copy it
  const newer = tzif('JST', 9 * 3600, 1);
  box.files.set('/usr/share/zoneinfo/Asia/Tokyo', { bytes: newer, mode: 0o644 });
  const r = await applyToBox(box, {
    loaded: parseSite(TOKYO, 'obsbuild.yaml'),
    transport: 'ssh',
    target: 'ssh root@lb',
    yes: true,
    obsbuildVersion: '0.1.0-test',
    now: () => new Date('2026-12-04T20:47:06Z'),
    clock: new VirtualClock(),
    deps: { readFiles: box.readFiles, verify: async () => ({ checks: [], passed: true }) },
  });
  assert.equal(r.outcome, 'applied', r.summary);
  assert.deepEqual(r.plan.changes.map((c) => [c.path, c.kind, c.activation.kind]), [
    [LOCALTIME_PATH, 'modify', 'none'],
    [TIMEZONE_PATH, 'modify', 'none'],
  ]);
  assert.deepEqual(r.plan.activations, []);
  assert.equal(box.text(TIMEZONE_PATH), 'Asia/Tokyo\n');
  assert.deepEqual(box.files.get(LOCALTIME_PATH), { bytes: newer, mode: 0o644 });
});
