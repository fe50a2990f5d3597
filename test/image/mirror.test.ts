/**
 * `obsbuild image --mirror URL` against a Debian archive layout served on 127.0.0.1 by the test itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, normalize } from 'node:path';
import { gzipSync } from 'node:zlib';
import { runCli } from '../helpers/cli.js';
import { makeWorkspace, writeLennyIndex } from './fixtures.js';
import type { Manifest } from '../../src/contracts/manifest.js';
import { formatRelease } from '../../src/debian/mirror.js';
import { digestFile } from '../../src/debian/deb.js';
import { createArchiveKey, type ArchiveKey } from '../../src/vobs/archive-key.js';

/** dists/lenny/main/binary-powerpc/Packages.gz, a Release file signed by `key`, and pool/main/*.deb from the workspace's packages. */
async function makeMirror(packagesDir: string, mirror: string, key: ArchiveKey): Promise<void> {
  const pool = join(mirror, 'pool/main');
  await mkdir(pool, { recursive: true });
  const debs: string[] = [];
  for (const name of (await readdir(packagesDir)).filter((n) => n.endsWith('.deb'))) {
    await copyFile(join(packagesDir, name), join(pool, name));
    debs.push(join(pool, name));
  }
  const index = join(mirror, 'dists/lenny/main/binary-powerpc');
  await mkdir(index, { recursive: true });
  await writeLennyIndex(index, debs);
  await writeFile(join(index, 'Packages.gz'), gzipSync(await readFile(join(index, 'Packages'))));
  const digest = await digestFile(join(index, 'Packages.gz'));
  const release = join(mirror, 'dists/lenny/Release');
  await writeFile(release, formatRelease({ origin: 'test', suite: 'lenny', architectures: ['powerpc'], files: [{ path: 'main/binary-powerpc/Packages.gz', size: digest.size, sha256: digest.sha256 }] }));
  await key.sign(release);
}

async function serve(root: string): Promise<{ server: Server; url: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    const path = normalize(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    requests.push(path);
    const file = join(root, path);
    stat(file).then(
      (st) => {
        if (!st.isFile()) throw new Error('not a file');
        res.writeHead(200, { 'content-length': st.size });
        createReadStream(file).pipe(res);
      },
      () => {
        res.writeHead(404);
        res.end();
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { server, url: `http://127.0.0.1:${port}/debian`, requests };
}

test('--mirror: the index and the .debs come from the archive, the build matches --packages', async () => {
  const ws = await makeWorkspace();
  const mirrorRoot = join(ws.root, 'www');
  const key = await createArchiveKey(join(ws.root, 'key'), 'obsbuild image test <image-test@obsbuild.invalid>');
  await makeMirror(ws.packages, join(mirrorRoot, 'debian'), key);
  const { server, url, requests } = await serve(mirrorRoot);
  try {
    const common = ['image', '--site', ws.site, '--inputs', ws.inputs, '--keyring', key.keyring];
    const viaMirror = await runCli([...common, '--mirror', url, '--cache', join(ws.root, 'cache'), '--out', join(ws.root, 'm')]);
    assert.equal(viaMirror.exitCode, 0, String(viaMirror.stderr));
    assert.match(String(viaMirror.stdout), /^resolve packages: .*keepalived .*\(index signed by obsbuild image test <image-test@obsbuild\.invalid>\)$/m);
    assert.ok(requests.includes('/debian/dists/lenny/main/binary-powerpc/Packages.gz'), requests.join(' '));
    assert.ok(requests.some((r) => r.startsWith('/debian/pool/main/keepalived_')));
    const viaDir = await runCli([...common, '--packages', ws.packages, '--out', join(ws.root, 'd')]);
    assert.equal(viaDir.exitCode, 0, String(viaDir.stderr));
    const m = JSON.parse(await readFile(join(ws.root, 'm/obs600/manifest.json'), 'utf8')) as Manifest;
    const d = JSON.parse(await readFile(join(ws.root, 'd/obs600/manifest.json'), 'utf8')) as Manifest;
    assert.deepEqual(m.packages.map((p) => [p.name, p.version, p.sha256]), d.packages.map((p) => [p.name, p.version, p.sha256]));
    assert.deepEqual(
      await readFile(join(ws.root, 'm/obs600/stick/msf/obsbuild-overlay.tgz')),
      await readFile(join(ws.root, 'd/obs600/stick/msf/obsbuild-overlay.tgz')),
      'same packages, same overlay bytes',
    );

    // A .deb on the mirror that does not match the index: exit 1, one line, nothing in out/.
    const deb = (await readdir(join(mirrorRoot, 'debian/pool/main'))).find((n) => n.startsWith('ipvsadm_'))!;
    const bytes = await readFile(join(mirrorRoot, 'debian/pool/main', deb));
    const original = Buffer.from(bytes);
    bytes[bytes.length - 1] ^= 0xff;
    await writeFile(join(mirrorRoot, 'debian/pool/main', deb), bytes);
    const bad = await runCli([...common, '--mirror', url, '--cache', join(ws.root, 'cache2'), '--out', join(ws.root, 'bad')]);
    assert.equal(bad.exitCode, 1);
    const lines = String(bad.stderr).trimEnd().split('\n');
    assert.equal(lines.length, 1, String(bad.stderr));
    assert.match(lines[0], /ipvsadm.*(checksum|MD5)/i);
    assert.deepEqual(await readdir(join(ws.root, 'bad')).catch(() => []), []);

    // Without the archive's key (Debian's keyrings only), the signed Release is refused before any .deb is fetched.
    const before = requests.length;
    const unknownKey = await runCli(['image', '--site', ws.site, '--inputs', ws.inputs, '--mirror', url, '--cache', join(ws.root, 'cache3'), '--out', join(ws.root, 'nokey')]);
    assert.equal(unknownKey.exitCode, 1, String(unknownKey.stderr));
    assert.equal(String(unknownKey.stderr).trimEnd().split('\n').length, 1, String(unknownKey.stderr));
    assert.match(String(unknownKey.stderr), /dists\/lenny\/Release: signed by key [0-9A-F]{16}, which is not in .*debian-archive-keyring\.gpg.*pass --keyring FILE/);
    assert.ok(!requests.slice(before).some((r) => r.endsWith('.deb')), 'no .deb fetched from an unverified mirror');
    assert.deepEqual(await readdir(join(ws.root, 'nokey')).catch(() => []), []);

    // --allow-unsigned goes on, and says so where the build's progress is read.
    await writeFile(join(mirrorRoot, 'debian/pool/main', deb), original);
    const allowed = await runCli(['image', '--site', ws.site, '--inputs', ws.inputs, '--mirror', url, '--allow-unsigned', '--cache', join(ws.root, 'cache4'), '--out', join(ws.root, 'allowed')]);
    assert.equal(allowed.exitCode, 0, String(allowed.stderr));
    assert.match(String(allowed.stdout), /^warning: .*Release: signed by key [0-9A-F]{16}, which is not in .*\(used anyway: --allow-unsigned\)$/m);
  } finally {
    server.close();
    await key.close();
    await ws.cleanup();
  }
});
