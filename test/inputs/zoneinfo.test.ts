import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { inspectRootfs } from '../../src/inputs/rootfs.js';
import { isTzif, ZONE_FILE_MAX_BYTES, ZONEINFO_MAX_BYTES } from '../../src/inputs/zoneinfo.js';
import { UserError } from '../../src/util/errors.js';
import { standinDir } from '../fixtures/inputs/standin.js';
import { tzif, type ExtraEntry } from '../fixtures/inputs/make-standin-inputs.js';

const Z = './usr/share/zoneinfo';
let good: Awaited<ReturnType<typeof standinDir>>;
let odd: Awaited<ReturnType<typeof standinDir>>;

// zone names that come before their target in the tar, or lead somewhere that is not a zone file
const ODD_ENTRIES: ExtraEntry[] = [
  { name: `${Z}/Asia/Seoul`, type: 'symlink', linkname: '../ROK' },
  { name: `${Z}/ROK`, content: tzif('KST', 9 * 3600) },
  { name: `${Z}/Asia/Bogus`, content: 'Asia/Bogus is not compiled\n'.repeat(4) },
  { name: `${Z}/Asia/Short`, content: 'TZif2' },
  { name: `${Z}/Asia/Huge`, content: Buffer.concat([tzif('HUG', 0), Buffer.alloc(ZONE_FILE_MAX_BYTES)]) },
  { name: `${Z}/Loop`, type: 'symlink', linkname: 'Loop2' },
  { name: `${Z}/Loop2`, type: 'symlink', linkname: 'Loop' },
  { name: `${Z}/Escape`, type: 'symlink', linkname: '../../../etc/passwd' },
];

before(async () => {
  good = await standinDir();
  odd = await standinDir({ extraRootfsEntries: ODD_ENTRIES });
});
after(async () => {
  await good.cleanup();
  await odd.cleanup();
});

async function zoneOf(rootfs: string, zone: string) {
  const r = await inspectRootfs(rootfs, { zone });
  assert.ok(r.zoneinfo, 'a zone was asked for');
  return r.zoneinfo;
}

test('no zone asked: the rootfs pass keeps no zone file (obsbuild inspect, a site without timezone:)', async () => {
  assert.equal((await inspectRootfs(good.rootfs)).zoneinfo, undefined);
  assert.equal((await inspectRootfs(good.rootfs, { zone: null })).zoneinfo, undefined);
});

test('a zone that is a regular file in the rootfs: its bytes', async () => {
  const z = await zoneOf(good.rootfs, 'Asia/Tokyo');
  assert.ok(!('problem' in z), JSON.stringify(z));
  assert.deepEqual(z.bytes, tzif('JST', 9 * 3600));
  assert.deepEqual(z.chain, ['usr/share/zoneinfo/Asia/Tokyo']);
});

test('a zone that is a hard link (Japan, posix/Asia/Tokyo): the bytes of the file it links to, earlier in the tar', async () => {
  for (const zone of ['Japan', 'posix/Asia/Tokyo']) {
    const z = await zoneOf(good.rootfs, zone);
    assert.ok(!('problem' in z), `${zone}: ${JSON.stringify(z)}`);
    assert.deepEqual(z.bytes, tzif('JST', 9 * 3600), zone);
    assert.deepEqual(z.chain, [`usr/share/zoneinfo/${zone}`, 'usr/share/zoneinfo/Asia/Tokyo']);
  }
});

test('a zone that is a symlink, to a file before it (UTC) or after it (Asia/Seoul -> ../ROK) in the tar', async () => {
  const utc = await zoneOf(good.rootfs, 'UTC');
  assert.ok(!('problem' in utc), JSON.stringify(utc));
  assert.deepEqual(utc.bytes, tzif('UTC', 0));
  const seoul = await zoneOf(odd.rootfs, 'Asia/Seoul');
  assert.ok(!('problem' in seoul), JSON.stringify(seoul));
  assert.deepEqual(seoul.bytes, tzif('KST', 9 * 3600));
  assert.deepEqual(seoul.chain, ['usr/share/zoneinfo/Asia/Seoul', 'usr/share/zoneinfo/ROK']);
});

test('a right/ zone (with leap seconds) when the site names one', async () => {
  const right = await zoneOf(good.rootfs, 'right/Asia/Tokyo');
  assert.ok(!('problem' in right), JSON.stringify(right));
  assert.deepEqual(right.bytes, tzif('JST', 9 * 3600, 2));
});

test('a zone the rootfs lacks, or that is not a zone file, is a problem naming the path', async () => {
  const cases: Array<[string, RegExp]> = [
    ['Asia/Tokio', /^the rootfs's tzdata has no zone Asia\/Tokio \(no file \/usr\/share\/zoneinfo\/Asia\/Tokio\)$/],
    ['Asia', /no zone Asia \(no file \/usr\/share\/zoneinfo\/Asia\)/],
    ['Asia/Bogus', /^\/usr\/share\/zoneinfo\/Asia\/Bogus is not a TZif zone file$/],
    ['Asia/Short', /^\/usr\/share\/zoneinfo\/Asia\/Short is not a TZif zone file$/],
    ['zone.tab', /zone\.tab is not a TZif zone file/],
    ['Asia/Huge', /^\/usr\/share\/zoneinfo\/Asia\/Huge is \d+ bytes, not a zone file$/],
    ['Loop', /^\/usr\/share\/zoneinfo\/Loop is a symlink loop$/],
    ['Escape', /\/usr\/share\/zoneinfo\/Escape -> \/etc\/passwd leads out of \/usr\/share\/zoneinfo/],
    ['localtime', /\/usr\/share\/zoneinfo\/localtime -> \/etc\/localtime leads out of \/usr\/share\/zoneinfo/],
  ];
  for (const [zone, want] of cases) {
    const z = await zoneOf(odd.rootfs, zone);
    assert.ok('problem' in z, `${zone} should be refused`);
    assert.match(z.problem, want, zone);
  }
});

test('zone files beyond the bound are refused, naming the file, before the pass keeps them all', async () => {
  const per = 60 * 1024;
  const many = Math.ceil(ZONEINFO_MAX_BYTES / per) + 1;
  const entries: ExtraEntry[] = [{ name: `${Z}/Many/`, type: 'directory' }];
  for (let i = 0; i < many; i++) entries.push({ name: `${Z}/Many/Z${i}`, content: Buffer.concat([tzif(`Z${i}`, i), Buffer.alloc(per)]) });
  const big = await standinDir({ extraRootfsEntries: entries });
  try {
    await assert.rejects(inspectRootfs(big.rootfs, { zone: 'Asia/Tokyo' }), (err: unknown) => {
      assert.ok(err instanceof UserError);
      assert.match(err.message, /^lenny-powerpc-obs600-\S+\.tar\.gz: \/usr\/share\/zoneinfo\/Many\/Z\d+: the zone files under \/usr\/share\/zoneinfo come to more than \d+ bytes/);
      return true;
    });
    // the same tarball without a zone asked reads nothing of them
    assert.equal((await inspectRootfs(big.rootfs)).zoneinfo, undefined);
  } finally {
    await big.cleanup();
  }
});

test('isTzif wants the magic and a whole header', () => {
  assert.equal(isTzif(tzif('UTC', 0)), true);
  assert.equal(isTzif(Buffer.from('TZif')), false);
  assert.equal(isTzif(Buffer.alloc(64)), false);
});
