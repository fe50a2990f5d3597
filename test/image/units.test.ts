import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseSite } from '../../src/site/load.js';
import { UserError } from '../../src/util/errors.js';
import { chooseRootHash, replaceRootHash, shadowFile, STOCK_ROOT_HASH, authorizedKeysFiles } from '../../src/image/shadow.js';
import type { ManifestIdentity } from '../../src/contracts/manifest.js';
import { buildManifest, describeFiles, manifestId } from '../../src/image/manifest.js';
import { chooseEpoch } from '../../src/image/steps/epoch.js';
import { mergeFiles } from '../../src/contracts/generated-file.js';

const BASE_SHADOW = 'root:$1$afC9J.v6$Dkq.k8sVRq7n0Py5eWWAp1:14628:0:99999:7:::\ndaemon:*:14628:0:99999:7:::\nsshd:!:14628:0:99999:7:::\n';

function site(root: string): string {
  return `board: obs600
hostname: obs600
${root}
network:
  interfaces:
    eth0: { address: 192.168.253.254/24 }
lvs:
  manager: ipvsadm
  virtual_servers:
    - { address: 192.168.253.120, port: 80, real_servers: [ { address: 192.168.253.121, port: 80 } ] }
`;
}

test('the site hash replaces only root\'s field in the base /etc/shadow', () => {
  const out = replaceRootHash(BASE_SHADOW, '$6$salt$hash');
  assert.equal(out, BASE_SHADOW.replace('$1$afC9J.v6$Dkq.k8sVRq7n0Py5eWWAp1', '$6$salt$hash'));
  assert.throws(() => replaceRootHash('daemon:*:1:0:::::\n', 'x'), UserError);
});

test('root/root and a missing hash are refused, naming the site file and line', () => {
  const stock = parseSite(site(`root:\n  password_hash: "${STOCK_ROOT_HASH}"`), 'sites/lb.yaml');
  assert.throws(() => chooseRootHash(stock), (e: Error) => e instanceof UserError && /^sites\/lb\.yaml:4: .*stock root\/root/.test(e.message));
  const none = parseSite(site('root: {}'), 'sites/lb.yaml');
  assert.throws(() => chooseRootHash(none), (e: Error) => e instanceof UserError && /^sites\/lb\.yaml:\d+: root\.password_hash is not set/.test(e.message));
  const allowed = parseSite(site('root:\n  allow_default_password: true'), 'sites/lb.yaml');
  assert.equal(chooseRootHash(allowed), null);
  assert.deepEqual(shadowFile(allowed, BASE_SHADOW, 'rootfs.tar.gz'), [], 'the base shadow is kept as it is');
  const good = parseSite(site('root:\n  password_hash: "$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG."\n  authorized_keys: ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAAAgQDBChrhO8/rQMDd8SS+TMjhxbOR+Nd+JRaQPgas5EAc7OxCp96JD4y6n+J/SJOW+bmpQL0XeSi9eC6CIk+bhKcclsdQFjtFDKSzyHPVwPVeM7xfSHxNNYfGlN7TuInQSWdjrDL7GuV3FnOVGWOPqIwylLImu8id/8mT7m6WB+8I0w== me@host"]'), 'lb.yaml');
  const [shadow] = shadowFile(good, BASE_SHADOW, 'rootfs.tar.gz');
  assert.equal(shadow.path, '/etc/shadow');
  assert.equal(shadow.mode, 0o640);
  assert.equal(shadow.gid, 42);
  assert.ok(String(shadow.content).startsWith('root:$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/cZ/1GM/O6IND4WQhG.:14628:'));
  const keys = authorizedKeysFiles(good.site.root.authorized_keys);
  assert.deepEqual(keys.map((k) => [k.path, k.mode]), [['/root/.ssh', 0o700], ['/root/.ssh/authorized_keys', 0o600]]);
});

function identity(config = [{ path: '/etc/hostname', content: 'obs600\n', mode: 0o644 }]): ManifestIdentity {
  return {
    obsbuild: '0.1.0',
    profile: 'lb',
    sourceDateEpoch: 1263859200,
    epochSource: 'SOURCE_DATE_EPOCH',
    node: { role: 'single', hostname: 'obs600' },
    site: { file: 'obsbuild.yaml', sha256: 'a'.repeat(64) },
    inputs: [
      { role: 'rootfs', name: 'r.tar.gz', size: 1, sha256: 'b'.repeat(64) },
      { role: 'kernel', name: 'uImage.initrd-cfboot', size: 2, sha256: 'c'.repeat(64) },
    ],
    packages: [
      { name: 'keepalived', version: '1.1.15-1', architecture: 'powerpc', filename: 'k.deb', size: 3, sha256: 'd'.repeat(64) },
      { name: 'ipvsadm', version: '1:1.24-2.1', architecture: 'powerpc', filename: 'i.deb', size: 4, sha256: 'e'.repeat(64) },
    ],
    config: describeFiles(config),
  };
}

test('the manifest id depends on content, not on list order, and not on the files that carry it', () => {
  const a = identity();
  const shuffled = { ...a, inputs: [...a.inputs].reverse(), packages: [...a.packages].reverse() };
  assert.match(manifestId(a), /^[0-9a-f]{16}$/);
  assert.equal(manifestId(shuffled), manifestId(a));
  assert.notEqual(manifestId(identity([{ path: '/etc/hostname', content: 'lb1\n', mode: 0o644 }])), manifestId(a));
  assert.notEqual(manifestId({ ...a, packages: [{ ...a.packages[0], sha256: 'f'.repeat(64) }, a.packages[1]] }), manifestId(a));
  const withIdFiles = buildManifest(a, [{ path: '/etc/obsbuild/manifest-id', content: `${manifestId(a)}\n`, mode: 0o644 }], []);
  assert.equal(withIdFiles.id, manifestId(a));
  assert.equal(withIdFiles.generated[0].sha256?.length, 64);
});

test('later file lists win and the result is sorted', () => {
  const merged = mergeFiles(
    [{ path: '/etc/shadow', content: 'base', mode: 0o640 }, { path: '/etc/a', content: '', mode: 0o644 }],
    [{ path: '/etc/shadow', content: 'site', mode: 0o640 }],
  );
  assert.deepEqual(merged.map((f) => [f.path, f.content]), [['/etc/a', ''], ['/etc/shadow', 'site']]);
});

test('build time: SOURCE_DATE_EPOCH, else the gzip header, else the date in the rootfs name', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-epoch-'));
  try {
    const named = join(dir, 'lenny-powerpc-obs600-20100119-00.tar.gz');
    await writeFile(named, gzipSync(Buffer.alloc(1024))); // node writes MTIME 0
    assert.deepEqual(await chooseEpoch({ SOURCE_DATE_EPOCH: '1700000000' }, named), { value: 1700000000, source: 'SOURCE_DATE_EPOCH' });
    await assert.rejects(chooseEpoch({ SOURCE_DATE_EPOCH: 'yesterday' }, named), UserError);
    assert.equal((await chooseEpoch({}, named)).value, Date.UTC(2010, 0, 19) / 1000);
    const stamped = Buffer.from(gzipSync(Buffer.alloc(16)));
    stamped.writeUInt32LE(1262304000, 4);
    const other = join(dir, 'rootfs.tar.gz');
    await writeFile(other, stamped);
    assert.deepEqual(await chooseEpoch({}, other), { value: 1262304000, source: 'gzip header of rootfs.tar.gz' });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
