/**
 * A hostile mirror, served by the test on 127.0.0.1: Filename fields that climb out of the cache, bodies
 * longer than they may be or endless, and an interrupt in the middle of a download. Every download must
 * stop one byte past its cap, write nothing outside the cache, and leave no temporary file behind.
 */
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { execa } from 'execa';
import { fetchDebs, fetchMirrorIndex, type MirrorOptions } from '../../src/debian/mirror.js';
import { createArchiveKey, type ArchiveKey } from '../../src/vobs/archive-key.js';
import { makeDeb } from '../fixtures/debs/make-deb.js';
import { cliPath } from '../helpers/cli.js';
import { makeWorkspace } from '../image/fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'obsbuild-hostile-mirror-'));
type Handler = (req: IncomingMessage, res: ServerResponse) => void;
/** path -> how to answer; anything else is a 404 */
let routes = new Map<string, Handler>();
const requests: string[] = [];
/** body bytes the server got out for each path (the client may have read fewer) */
const sent = new Map<string, number>();
let server: Server;
let base = '';
let key: ArchiveKey;

before(async () => {
  key = await createArchiveKey(join(work, 'key'), 'hostile test archive <hostile@obsbuild.invalid>');
  server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    requests.push(path);
    const handler = routes.get(path);
    if (!handler) return void res.writeHead(404).end();
    handler(req, res);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

after(async () => {
  await key?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
  rmSync(work, { recursive: true, force: true });
});

function file(content: Buffer | string): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-length': Buffer.byteLength(content) }).end(content);
  };
}

/**
 * `head`, then filler forever (no Content-Length), as fast as the client reads. `stopAfter` ends it, so an
 * unfixed client fails its assertion instead of filling the disk.
 */
function endless(path: string, head: Buffer, stopAfter: number, filler = Buffer.alloc(64 * 1024, 0x41)): Handler {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    let total = 0;
    const count = (n: number) => {
      total += n;
      sent.set(path, total);
    };
    res.write(head);
    count(head.length);
    const pump = () => {
      while (total < stopAfter) {
        count(filler.length);
        if (!res.write(filler)) return void res.once('drain', pump);
      }
      res.end();
    };
    res.on('close', () => res.removeAllListeners('drain'));
    pump();
  };
}

function options(cacheDir: string, extra: Partial<MirrorOptions> = {}): MirrorOptions {
  return { url: `${base}/debian`, suite: 'lenny', arch: 'powerpc', cacheDir, keyrings: [key.keyring], ...extra };
}

/** A signed Release for `files` (paths under dists/lenny/), served with its signature. */
async function serveSignedRelease(files: { path: string; bytes: Buffer }[]): Promise<void> {
  const dir = mkdtempSync(join(work, 'release-'));
  const release = join(dir, 'Release');
  const sums = files.map((f) => ` ${createHash('sha256').update(f.bytes).digest('hex')} ${f.bytes.length} ${f.path}\n`).join('');
  writeFileSync(release, `Origin: hostile\nSuite: lenny\nCodename: lenny\nSHA256:\n${sums}`);
  await key.sign(release);
  routes.set('/debian/dists/lenny/Release', file(readFileSync(release)));
  routes.set('/debian/dists/lenny/Release.gpg', file(readFileSync(`${release}.gpg`)));
}

/** Every file under dir, recursively (temporary files start with a dot). */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((d) => d.isFile())
    .map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name));
}

function stanza(fields: Record<string, string | number>): string {
  return Object.entries(fields).map(([k, v]) => `${k}: ${v}`).join('\n') + '\n';
}

const staging = join(work, 'staging');
let popt: { path: string; bytes: Buffer; md5: string };

before(() => {
  mkdirSync(staging);
  const path = makeDeb(staging, { name: 'libpopt0', version: '1:1.14-4', files: [{ path: '/usr/lib/libpopt.so.0', content: 'popt\n' }] });
  const bytes = readFileSync(path);
  popt = { path, bytes, md5: createHash('md5').update(bytes).digest('hex') };
});

test('a Filename with .. in a mirror index is refused: nothing outside the cache is deleted or written', async () => {
  const cache = join(work, 'cache-traversal');
  mkdirSync(cache);
  // The cache root is <cache>/mirrors/<slug>: two levels up from it is <cache> itself.
  const victim = join(cache, 'victim.txt');
  writeFileSync(victim, 'precious\n');
  routes = new Map([
    ['/debian/dists/lenny/main/binary-powerpc/Packages', file(stanza({ Package: 'evil', Version: '1', Architecture: 'powerpc', Filename: 'pool/../../../victim.txt', Size: 7, MD5sum: '0'.repeat(32) }))],
    ['/victim.txt', file('PWNED\n')],
    ['/debian/victim.txt', file('PWNED\n')],
  ]);
  const index = await fetchMirrorIndex(options(cache, { allowUnsigned: true }));
  const before = requests.length;
  await assert.rejects(() => fetchDebs(options(cache, { allowUnsigned: true }), index), /index entry evil 1: Filename 'pool\/\.\.\/\.\.\/\.\.\/victim\.txt' climbs out of the archive with '\.\.'$/);
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n', 'the file outside the cache is untouched');
  assert.deepEqual(requests.slice(before), [], 'nothing was downloaded for it');

  // Absolute, outside pool/, or URL-escaped: each refused the same way, before any request.
  for (const [filename, why] of [
    ['/etc/passwd', 'is an absolute path'],
    ['dists/lenny/Release', 'is not a file under pool/'],
    ['pool/%2e%2e/%2e%2e/victim.txt', 'is not a file under pool/'],
    ['pool/main/a\\b.deb', 'has characters a Debian archive path does not have'],
  ]) {
    routes.set('/debian/dists/lenny/main/binary-powerpc/Packages', file(stanza({ Package: 'evil', Version: '1', Architecture: 'powerpc', Filename: filename, Size: 7, MD5sum: '0'.repeat(32) })));
    const entries = await fetchMirrorIndex(options(cache, { allowUnsigned: true }));
    await assert.rejects(() => fetchDebs(options(cache, { allowUnsigned: true }), entries), new RegExp(`Filename '${filename.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}' ${why}`));
  }
  assert.equal(readFileSync(victim, 'utf8'), 'precious\n');
});

test('a package name that is not one (a path) is refused where the index is read', async () => {
  routes = new Map([['/debian/dists/lenny/main/binary-powerpc/Packages', file(stanza({ Package: '../../../etc/cron.d/x', Version: '1', Architecture: 'powerpc', Filename: 'pool/main/x.deb' }))]]);
  await assert.rejects(() => fetchMirrorIndex(options(join(work, 'cache-name'), { allowUnsigned: true })), /Packages: package name '\.\.\/\.\.\/\.\.\/etc\/cron\.d\/x' is not a Debian package name$/);
  routes.set('/debian/dists/lenny/main/binary-powerpc/Packages', file(stanza({ Package: 'x', Version: '1/../../y', Architecture: 'powerpc' })));
  await assert.rejects(() => fetchMirrorIndex(options(join(work, 'cache-name'), { allowUnsigned: true })), /package x: version '1\/\.\.\/\.\.\/y' has characters no Debian version has$/);
});

test('a .deb is cached as <name>_<version, : as %3a>_<arch>.deb, whatever its Filename, and a damaged copy is replaced', async () => {
  const cache = join(work, 'cache-apt-names');
  const index = stanza({ Package: 'libpopt0', Version: '1:1.14-4', Architecture: 'powerpc', Filename: 'pool/main/p/popt/libpopt0_1.14-4_powerpc.deb', Size: popt.bytes.length, MD5sum: popt.md5 });
  const packages = Buffer.from(index);
  await serveSignedRelease([{ path: 'main/binary-powerpc/Packages', bytes: packages }]);
  routes.set('/debian/dists/lenny/main/binary-powerpc/Packages', file(packages));
  routes.set('/debian/pool/main/p/popt/libpopt0_1.14-4_powerpc.deb', file(popt.bytes));
  const entries = await fetchMirrorIndex(options(cache));
  await fetchDebs(options(cache), entries);
  const cached = join(cache, 'mirrors', base.replace(/^http:\/\//, '').replace(/[^A-Za-z0-9._-]+/g, '_') + '_debian', 'debs', 'libpopt0_1%3a1.14-4_powerpc.deb');
  assert.equal(entries[0].localPath, cached);
  assert.deepEqual(readFileSync(cached), popt.bytes);
  writeFileSync(cached, 'damaged');
  const again = await fetchMirrorIndex(options(cache));
  await fetchDebs(options(cache), again);
  assert.deepEqual(readFileSync(cached), popt.bytes);
});

test('a .deb longer than its Size is cut off at Size+1 bytes, and nothing is kept', async () => {
  const cache = join(work, 'cache-long-deb');
  const debPath = '/debian/pool/main/p/popt/libpopt0_1.14-4_powerpc.deb';
  routes = new Map([
    ['/debian/dists/lenny/main/binary-powerpc/Packages', file(stanza({ Package: 'libpopt0', Version: '1:1.14-4', Architecture: 'powerpc', Filename: debPath.slice('/debian/'.length), Size: popt.bytes.length, MD5sum: popt.md5 }))],
    [debPath, endless(debPath, popt.bytes, 64 << 20)],
  ]);
  const entries = await fetchMirrorIndex(options(cache, { allowUnsigned: true }));
  const started = process.hrtime.bigint();
  await assert.rejects(() => fetchDebs(options(cache, { allowUnsigned: true }), entries), new RegExp(`libpopt0_1\\.14-4_powerpc\\.deb: sent more than ${popt.bytes.length} bytes, over its Size in the index \\(${popt.bytes.length} bytes\\); download stopped and nothing kept$`));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await new Promise((r) => setTimeout(r, 100)); // let the server notice the closed connection
  const served = sent.get(debPath) ?? 0;
  process.stdout.write(`# .deb of ${popt.bytes.length} bytes + endless: cut off after ${ms.toFixed(0)} ms; the server got ${served} bytes out before the connection closed\n`);
  assert.ok(served < 16 << 20, `the download stopped early (${served} bytes sent)`);
  assert.deepEqual(filesUnder(join(cache, 'mirrors')).filter((f) => f.includes('/debs/')), [], 'no .deb and no temporary file in the cache');

  // A Content-Length above the Size is refused before a byte of the body is read.
  routes.set(debPath, (_req, res) => {
    res.writeHead(200, { 'content-length': 100 << 20 });
    res.write(Buffer.alloc(1024));
  });
  await assert.rejects(() => fetchDebs(options(cache, { allowUnsigned: true }), entries), new RegExp(`announces ${100 << 20} bytes, over its Size in the index`));
});

test('an endless Release file stops at the Release cap (16 MiB), before any signature check, and leaves no temporary file', async () => {
  const cache = join(work, 'cache-endless-release');
  const path = '/debian/dists/lenny/Release';
  routes = new Map([[path, endless(path, Buffer.from('Origin: x\nLabel: '), 64 << 20)]]);
  const before = requests.length;
  // Watch the temporary file grow, to see how much reached the disk before the cut-off.
  let largest = 0;
  const watch = setInterval(() => {
    for (const f of filesUnder(cache)) largest = Math.max(largest, statSync(f, { throwIfNoEntry: false })?.size ?? 0);
  }, 2);
  const started = process.hrtime.bigint();
  await assert.rejects(() => fetchMirrorIndex(options(cache)), /dists\/lenny\/Release: sent more than 16777216 bytes, over the cap for a Release file \(16777216 bytes\); download stopped and nothing kept$/);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  clearInterval(watch);
  await new Promise((r) => setTimeout(r, 100));
  const served = sent.get(path) ?? 0;
  process.stdout.write(`# endless Release: cut off after ${ms.toFixed(0)} ms; largest temporary file seen ${largest} bytes; the server got ${served} bytes out (cap 16777216)\n`);
  assert.ok(largest <= 16 << 20, `never more than the cap on disk (${largest})`);
  assert.ok(served < 24 << 20, `stopped near the cap (${served} bytes sent)`);
  assert.deepEqual(requests.slice(before), [path], 'no signature fetched, no index');
  assert.deepEqual(filesUnder(cache), [], 'no Release and no temporary file in the cache');
});

test('an index is capped at its size in the signed Release file; one the Release does not list, at 256 MiB', async () => {
  const cache = join(work, 'cache-endless-index');
  const gz = gzipSync(stanza({ Package: 'a', Version: '1' }));
  const path = '/debian/dists/lenny/main/binary-powerpc/Packages.gz';
  await serveSignedRelease([{ path: 'main/binary-powerpc/Packages.gz', bytes: gz }]);
  routes.set(path, endless(path, gz, 64 << 20));
  await assert.rejects(() => fetchMirrorIndex(options(cache)), new RegExp(`Packages\\.gz: sent more than ${gz.length} bytes, over its size in dists/lenny/Release \\(${gz.length} bytes\\)`));
  assert.ok((sent.get(path) ?? 0) < 16 << 20);
  assert.equal(filesUnder(join(cache, 'mirrors')).filter((f) => f.includes('binary-powerpc')).length, 0);

  // Unlisted (no Release, --allow-unsigned): the general cap.
  routes = new Map([[path, endless(path, Buffer.alloc(0), 300 << 20)]]);
  const started = process.hrtime.bigint();
  await assert.rejects(() => fetchMirrorIndex(options(cache, { allowUnsigned: true })), /Packages\.gz: sent more than 268435456 bytes, over the cap for a Packages index/);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  await new Promise((r) => setTimeout(r, 100));
  process.stdout.write(`# endless unlisted Packages.gz: cut off after ${ms.toFixed(0)} ms; the server got ${sent.get(path)} bytes out (cap 268435456)\n`);
  assert.ok((sent.get(path) ?? 0) < 280 << 20);
  assert.equal(filesUnder(join(cache, 'mirrors')).filter((f) => f.includes('binary-powerpc')).length, 0, 'no temporary file');
});

test('obsbuild image --mirror interrupted (SIGINT, SIGTERM) during a download removes the temporary file', { timeout: 120_000 }, async () => {
  const ws = await makeWorkspace();
  const path = '/debian/dists/lenny/Release';
  try {
    for (const signal of ['SIGINT', 'SIGTERM'] as const) {
      const cache = join(ws.root, `cache-${signal}`);
      // Slow enough to catch in the middle: 64 KiB every 20 ms.
      routes = new Map([
        [
          path,
          (_req, res) => {
            res.writeHead(200);
            const timer = setInterval(() => res.write(Buffer.alloc(64 * 1024, 0x41)), 20);
            res.on('close', () => clearInterval(timer));
          },
        ],
      ]);
      const child = execa(process.execPath, [cliPath, 'image', '--site', ws.site, '--inputs', ws.inputs, '--mirror', `${base}/debian`, '--cache', cache, '--out', ws.out], { reject: false });
      let tmp: string | undefined;
      for (let i = 0; i < 600 && !tmp; i++) {
        await new Promise((r) => setTimeout(r, 50));
        tmp = filesUnder(cache).find((f) => /\/\.Release\.tmp-/.test(f) && statSync(f, { throwIfNoEntry: false })?.size);
      }
      assert.ok(tmp, 'the download started');
      child.kill(signal);
      const result = await child;
      assert.equal(result.signal, signal, `${signal}: the process ends by the signal (${result.exitCode}: ${result.stderr})`);
      assert.deepEqual(filesUnder(cache), [], `${signal}: no temporary file left in the cache`);
      assert.equal(existsSync(ws.out), false);
    }
  } finally {
    await ws.cleanup();
  }
});

test('--mirror file://: a Release that is a FIFO or a device is refused without waiting; a .deb over its Size is refused unread', async () => {
  const root = join(work, 'local-mirror');
  mkdirSync(join(root, 'dists/lenny'), { recursive: true });
  await execa('mkfifo', [join(root, 'dists/lenny/Release')]);
  const url = pathToFileURL(root).href;
  const cache = join(work, 'cache-local');
  const timeout = (ms: number) => new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`still running after ${ms} ms`)), ms).unref());
  await assert.rejects(() => Promise.race([fetchMirrorIndex(options(cache, { url })), timeout(5000)]), /dists\/lenny\/Release: not a regular file$/);
  rmSync(join(root, 'dists/lenny/Release'));

  mkdirSync(join(root, 'dists/lenny/main/binary-powerpc'), { recursive: true });
  mkdirSync(join(root, 'pool/main'), { recursive: true });
  writeFileSync(join(root, 'pool/main/libpopt0.deb'), Buffer.concat([popt.bytes, Buffer.alloc(1 << 20)]));
  writeFileSync(
    join(root, 'dists/lenny/main/binary-powerpc/Packages'),
    stanza({ Package: 'libpopt0', Version: '1:1.14-4', Architecture: 'powerpc', Filename: 'pool/main/libpopt0.deb', Size: popt.bytes.length, MD5sum: popt.md5 }),
  );
  const entries = await fetchMirrorIndex(options(cache, { url, allowUnsigned: true }));
  await assert.rejects(() => fetchDebs(options(cache, { url, allowUnsigned: true }), entries), new RegExp(`libpopt0\\.deb: has ${popt.bytes.length + (1 << 20)} bytes, over its Size in the index`));
  assert.deepEqual(filesUnder(cache).filter((f) => f.includes('/debs/')), []);
});

test('a mirror that stops sending (before its headers, or in the middle of a body) is given up after the idle timeout, nothing kept', { timeout: 30_000 }, async () => {
  const cache = join(work, 'cache-stalled');
  const release = '/debian/dists/lenny/Release';
  const held: ServerResponse[] = [];
  // Accepts the request and never answers.
  routes = new Map([[release, (_req, res) => void held.push(res)]]);
  let started = Date.now();
  await assert.rejects(() => fetchMirrorIndex(options(cache, { idleTimeoutMs: 300 })), /dists\/lenny\/Release: the mirror sent nothing for 0\.3 s; download stopped and nothing kept$/);
  const beforeHeaders = Date.now() - started;
  // Headers and a first part of the body, then silence.
  routes = new Map([[release, (_req, res) => {
    held.push(res);
    res.writeHead(200, { 'content-length': 1000 });
    res.write('Origin: stalled\n');
  }]]);
  started = Date.now();
  await assert.rejects(() => fetchMirrorIndex(options(cache, { idleTimeoutMs: 300 })), /dists\/lenny\/Release: the mirror sent nothing for 0\.3 s; download stopped and nothing kept$/);
  const midBody = Date.now() - started;
  process.stdout.write(`# stalled mirror: given up after ${beforeHeaders} ms (no headers) and ${midBody} ms (mid-body), idle timeout 300 ms\n`);
  assert.ok(beforeHeaders < 5000 && midBody < 5000, 'given up near the timeout');
  assert.deepEqual(filesUnder(cache), [], 'no Release and no temporary file in the cache');
  for (const res of held) res.destroy();
});

test('a slow mirror that keeps sending is not given up: the idle timeout counts silence, not the whole download', async () => {
  const cache = join(work, 'cache-slow');
  const release = '/debian/dists/lenny/Release';
  const body = Buffer.from('Origin: slow\nSuite: lenny\n');
  // One byte every 50 ms: the whole file takes longer than the idle timeout, no gap does.
  routes = new Map([[release, (_req, res) => {
    res.writeHead(200, { 'content-length': body.length });
    let i = 0;
    const tick = setInterval(() => {
      if (res.destroyed) return clearInterval(tick);
      res.write(body.subarray(i, i + 1));
      if (++i === body.length) {
        clearInterval(tick);
        res.end();
      }
    }, 50);
  }]]);
  const started = Date.now();
  // The Release arrives whole; what fails next is the missing signature, not the download.
  await assert.rejects(() => fetchMirrorIndex(options(cache, { idleTimeoutMs: 400 })), (err: Error) => !/sent nothing/.test(err.message));
  assert.ok(Date.now() - started > 400 * 2, 'the download took longer than the idle timeout');
});
