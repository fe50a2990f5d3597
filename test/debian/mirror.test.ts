import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { formatStanzas } from '../../src/debian/control.js';
import { defaultCacheDir, fetchDebs, fetchMirrorIndex, type DownloadProgress, type MirrorOptions } from '../../src/debian/mirror.js';
import { buildIndexFromDebs } from '../../src/debian/packages-index.js';
import { resolvePackages, installedFromStatus } from '../../src/debian/resolver.js';
import { UserError } from '../../src/util/errors.js';
import { parseGpgvStatus } from '../../src/debian/release-signature.js';
import { createArchiveKey, type ArchiveKey } from '../../src/vobs/archive-key.js';
import { execa } from 'execa';
import { LENNY_BASE_STATUS, makeDeb } from '../fixtures/debs/make-deb.js';

const work = mkdtempSync(join(tmpdir(), 'obsbuild-mirror-test-'));
const archive = join(work, 'archive');
let server: Server;
let baseUrl = '';
const requests: string[] = [];
let key: ArchiveKey;
const releaseFile = () => join(archive, 'dists/lenny/Release');

after(async () => {
  await key?.close();
  await new Promise<void>((r) => (server?.listening ? server.close(() => r()) : r()));
  rmSync(work, { recursive: true, force: true });
});

/** A lenny-shaped archive: pool/ with .debs, an index carrying only MD5sum (as lenny's did), a Release. */
before(async () => {
  const staging = join(work, 'staging');
  mkdirSync(staging, { recursive: true });
  makeDeb(staging, { name: 'libpopt0', version: '1.14-4', files: [{ path: '/usr/lib/libpopt.so.0', content: 'popt\n' }] });
  makeDeb(staging, { name: 'ipvsadm', version: '1:1.24-2.1', depends: 'libpopt0', files: [{ path: '/sbin/ipvsadm', content: randomBytes(600_000).toString('base64'), mode: 0o755 }] });
  makeDeb(staging, { name: 'keepalived', version: '1:1.1.15-1', depends: 'ipvsadm, libc6 (>= 2.7-1)', files: [{ path: '/usr/sbin/keepalived', content: 'k\n', mode: 0o755 }] });
  const entries = await buildIndexFromDebs(staging);
  for (const e of entries) {
    const pool = `pool/main/${e.name[0]}/${e.name}/${e.stanza.get('Filename')}`;
    mkdirSync(join(archive, pool, '..'), { recursive: true });
    writeFileSync(join(archive, pool), readFileSync(join(staging, e.stanza.get('Filename')!)));
    e.stanza.set('Filename', pool).delete('SHA256');
  }
  const indexRel = 'main/binary-powerpc/Packages.gz';
  const gz = gzipSync(formatStanzas(entries.map((e) => e.stanza)));
  mkdirSync(join(archive, 'dists/lenny/main/binary-powerpc'), { recursive: true });
  writeFileSync(join(archive, 'dists/lenny', indexRel), gz);
  const md5 = createHash('md5').update(gz).digest('hex');
  writeFileSync(releaseFile(), `Origin: Debian\nSuite: oldstable\nCodename: lenny\nMD5Sum:\n ${md5} ${gz.length} ${indexRel}\n`);
  key = await createArchiveKey(join(work, 'key'), 'obsbuild test archive <test@obsbuild.invalid>');
  await key.sign(releaseFile());

  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const file = join(archive, decodeURIComponent((req.url ?? '/').split('?')[0]));
    if (!file.startsWith(archive) || !existsSync(file) || statSync(file).isDirectory()) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': statSync(file).size });
    createReadStream(file).pipe(res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address() as { port: number };
  baseUrl = `http://127.0.0.1:${addr.port}/debian/`.replace('/debian/', '');
});

function options(cacheDir: string, progress: DownloadProgress[] = [], notes: string[] = [], warnings: string[] = []): MirrorOptions {
  return {
    url: baseUrl,
    suite: 'lenny',
    arch: 'powerpc',
    cacheDir,
    keyrings: [key.keyring],
    onProgress: (p) => progress.push(p),
    onNote: (n) => notes.push(n),
    onWarning: (w) => warnings.push(w),
  };
}

test('--mirror: the index downloads into the cache, checks against Release, and resolved .debs verify by MD5Sum', async () => {
  const cache = join(work, 'cache1');
  const progress: DownloadProgress[] = [];
  const index = await fetchMirrorIndex(options(cache, progress));
  assert.deepEqual(index.map((e) => e.name).sort(), ['ipvsadm', 'keepalived', 'libpopt0']);
  assert.ok(index.every((e) => e.md5 && !e.sha256), 'lenny-style index: MD5sum only');
  const wanted = resolvePackages({ wanted: ['keepalived'], index, installed: installedFromStatus(LENNY_BASE_STATUS), arch: 'powerpc' }).packages.map((p) => p.entry);
  await fetchDebs(options(cache, progress), wanted);
  for (const e of wanted) {
    assert.ok(e.localPath && existsSync(e.localPath), `${e.name} cached`);
    assert.equal(createHash('md5').update(readFileSync(e.localPath)).digest('hex'), e.md5);
  }
  assert.ok(progress.some((p) => p.url.endsWith('Packages.gz') && p.done));
  assert.ok(progress.some((p) => p.url.includes('ipvsadm') && !p.done && p.received > 0), 'byte progress during a big download');

  // Offline rebuild: the server is gone, the cache still serves the index and the verified .debs.
  const notes: string[] = [];
  const offline = { ...options(cache, [], notes), url: 'http://127.0.0.1:9/' };
  await assert.rejects(() => fetchMirrorIndex(offline), UserError); // another URL has its own cache
  const again = index.map((e) => ({ ...e, localPath: undefined }));
  const before = requests.length;
  await fetchDebs(options(cache, [], notes), again.filter((e) => e.name !== 'libpopt0'));
  assert.equal(requests.length, before, 'no download when the cache verifies');
  assert.ok(notes.some((n) => /keepalived .*from the cache/.test(n)));
});

test('--mirror: a .deb that does not match the index is refused and not kept in the cache', async () => {
  const cache = join(work, 'cache2');
  const index = await fetchMirrorIndex(options(cache));
  const victim = index.find((e) => e.name === 'libpopt0')!;
  const served = join(archive, victim.filename!);
  const original = readFileSync(served);
  try {
    const tampered = Buffer.from(original);
    tampered[tampered.length - 50] ^= 0xff;
    writeFileSync(served, tampered);
    // cached by package, version and architecture, as apt names its archives
    const dest = join(cache, 'mirrors', baseUrl.replace(/^http:\/\//, '').replace(/[^A-Za-z0-9._-]+/g, '_'), 'debs', 'libpopt0_1.14-4_powerpc.deb');
    await assert.rejects(() => fetchDebs(options(cache), [victim]), new RegExp(`^UserError: ${dest.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: checksum mismatch: index says MD5Sum`));
    assert.equal(existsSync(dest), false);
  } finally {
    writeFileSync(served, original);
  }
});

test('--mirror: an index that does not match Release, and a suite the mirror lacks, are clear errors', async () => {
  await assert.rejects(() => fetchMirrorIndex({ ...options(join(work, 'cache3')), suite: 'squeeze' }), /dists\/squeeze\/Release: HTTP 404: the mirror has no Release file for suite "squeeze"/);
  await assert.rejects(() => fetchMirrorIndex({ ...options(join(work, 'cache3')), suite: 'squeeze', allowUnsigned: true }), /no package index for squeeze\/main\/powerpc/);
  const release = releaseFile();
  const text = readFileSync(release, 'utf8');
  try {
    // signed by the archive, but the index does not match what it says
    writeFileSync(release, text.replace(/MD5Sum:\n ([0-9a-f]{32})/, `MD5Sum:\n ${'0'.repeat(32)}`));
    await key.sign(release);
    await assert.rejects(() => fetchMirrorIndex(options(join(work, 'cache4'))), /Packages\.gz: checksum does not match dists\/lenny\/Release/);
  } finally {
    writeFileSync(release, text);
    await key.sign(release);
  }
});

test('--mirror file:///path: a mirror copy on a local disk works the same way, without a server', async () => {
  const url = pathToFileURL(archive).href;
  const opts = { ...options(join(work, 'cache5')), url };
  const index = await fetchMirrorIndex(opts);
  const keepalived = index.filter((e) => e.name === 'keepalived');
  await fetchDebs(opts, keepalived);
  assert.ok(keepalived[0].localPath && existsSync(keepalived[0].localPath));
  await assert.rejects(() => fetchMirrorIndex({ ...opts, arch: 'i386' }), /no package index for lenny\/main\/i386/);
});

test('--mirror: the Release file must carry the archive\'s signature; --allow-unsigned warns and goes on', async () => {
  const notes: string[] = [];
  await fetchMirrorIndex(options(join(work, 'cache6'), [], notes));
  assert.ok(notes.some((n) => /Release: signed by "obsbuild test archive <test@obsbuild\.invalid>" \([0-9A-F]{40}\)$/.test(n)), notes.join('\n'));

  const release = releaseFile();
  const text = readFileSync(release, 'utf8');
  const signature = readFileSync(`${release}.gpg`);
  try {
    // changed after signing (one more index line, as a tampering mirror would add)
    writeFileSync(release, `${text} 00000000000000000000000000000000 1 main/binary-powerpc/Packages\n`);
    await assert.rejects(() => fetchMirrorIndex(options(join(work, 'cache7'))), /dists\/lenny\/Release: BAD signature from "obsbuild test archive <test@obsbuild\.invalid>": the file was changed after it was signed/);
    const warned: string[] = [];
    await fetchMirrorIndex({ ...options(join(work, 'cache8'), [], [], warned), allowUnsigned: true });
    assert.ok(warned.some((n) => /BAD signature.*\(used anyway: --allow-unsigned\)$/.test(n)), warned.join('\n'));
    writeFileSync(release, text);

    // signed by a key the keyrings do not hold (Debian's own keyrings here)
    await assert.rejects(
      () => fetchMirrorIndex({ ...options(join(work, 'cache9')), keyrings: ['/usr/share/keyrings/debian-archive-keyring.gpg'] }),
      /Release: signed by key [0-9A-F]{16}, which is not in \/usr\/share\/keyrings\/debian-archive-keyring\.gpg: pass --keyring FILE/,
    );

    // not signed at all
    rmSync(`${release}.gpg`);
    await assert.rejects(() => fetchMirrorIndex(options(join(work, 'cache10'))), /Release\.gpg: HTTP 404: the Release file is not signed.*--allow-unsigned/);
    const unsignedWarnings: string[] = [];
    await fetchMirrorIndex({ ...options(join(work, 'cache11'), [], [], unsignedWarnings), allowUnsigned: true });
    assert.ok(unsignedWarnings.some((w) => /Release\.gpg: HTTP 404: the Release file is not signed.*\(used anyway: --allow-unsigned\)$/.test(w)), unsignedWarnings.join('\n'));
  } finally {
    writeFileSync(release, text);
    writeFileSync(`${release}.gpg`, signature);
  }
});

test('gpgv: a signature by a key that has expired since is good (archived releases), a bad one is not', async () => {
  // A real gpgv run: the key was made and used five days ago, valid for one day.
  const home = join(work, 'expired-gnupg');
  mkdirSync(home, { recursive: true, mode: 0o700 });
  const then = `${Math.floor(Date.now() / 1000) - 5 * 86400}!`;
  const gpg = (...args: string[]) => execa('gpg', ['--batch', '--homedir', home, '--faked-system-time', then, ...args]);
  try {
    await gpg('--passphrase', '', '--quick-gen-key', 'Old Archive Key <old@obsbuild.invalid>', 'ed25519', 'sign', '1d');
    const file = join(work, 'old-Release');
    writeFileSync(file, 'Origin: old\n');
    await gpg('--detach-sign', '--output', `${file}.gpg`, file);
    await execa('sh', ['-c', 'gpg --batch --homedir "$1" --export > "$2"', 'sh', home, join(work, 'old-key.gpg')]);
    const { verifyDetachedSignature } = await import('../../src/debian/release-signature.js');
    const verdict = await verifyDetachedSignature(file, `${file}.gpg`, [join(work, 'old-key.gpg')], 'old-Release');
    assert.equal(verdict.keyExpired, true);
    assert.equal(verdict.signer, 'Old Archive Key <old@obsbuild.invalid>');
  } finally {
    await execa('gpgconf', ['--homedir', home, '--kill', 'gpg-agent'], { reject: false });
  }
  assert.deepEqual(parseGpgvStatus('[GNUPG:] NEWSIG\n[GNUPG:] BADSIG 7962DF3741ADAA14 test <t@x>\n'), { kind: 'bad', signer: 'test <t@x>' });
  assert.deepEqual(parseGpgvStatus('[GNUPG:] NEWSIG\n'), { kind: 'none' });
});

test('the cache lives in $XDG_CACHE_HOME/obsbuild, else ~/.cache/obsbuild', () => {
  assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache' }), '/x/cache/obsbuild');
  assert.match(defaultCacheDir({}), /\/\.cache\/obsbuild$/);
});
