import { createReadStream } from 'node:fs';
import { mkdir, rename, stat, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { copyFile } from 'node:fs/promises';
import { basename, join, normalize, sep } from 'node:path';
import { digestFile } from '../debian/deb.js';
import { formatRelease } from '../debian/mirror.js';
import { readPackagesIndex } from '../debian/packages-index.js';
import { resolvePackages } from '../debian/resolver.js';
import { UserError } from '../util/errors.js';
import { dependencyClosure, downloadDebs } from './apt.js';
import { createArchiveKey } from './archive-key.js';
import { runTool } from '../util/run-tool.js';

/**
 * A local Debian archive for `obsbuild image --mirror`: the load balancer's packages and everything they
 * depend on, downloaded with this machine's apt, indexed with dpkg-scanpackages, its Release file signed
 * with a key of its own (in `keyDir`), served on 127.0.0.1.
 *
 *   <dir>/pool/main/*.deb
 *   <dir>/dists/<suite>/main/binary-<arch>/Packages.gz
 *   <dir>/dists/<suite>/Release, Release.gpg
 */
export async function buildMirror(opts: {
  dir: string;
  keyDir: string;
  suite: string;
  arch: string;
  packages: string[];
  /** .deb files of our own that join the pool as they are (their dependencies belong in `packages`). */
  extraDebs?: string[];
}): Promise<string[]> {
  const pool = join(opts.dir, 'pool/main');
  const names = await dependencyClosure(opts.packages);
  // apt-get download keeps the epoch in the name (foo_1%3a2.0_amd64.deb); a pool omits it, as Debian's does.
  for (const f of await downloadDebs(names, pool)) {
    const plain = f.replace(/_\d+%3a/, '_');
    if (plain !== f) await rename(join(pool, f), join(pool, plain));
  }
  for (const deb of opts.extraDebs ?? []) await copyFile(deb, join(pool, basename(deb)));
  const index = join(opts.dir, 'dists', opts.suite, 'main', `binary-${opts.arch}`);
  await mkdir(index, { recursive: true });
  await runTool('sh', ['-c', 'dpkg-scanpackages -m pool/main /dev/null 2>/dev/null | gzip -n -9 > "$1"', 'sh', join(index, 'Packages.gz')], {
    cwd: opts.dir,
    what: 'indexing the local mirror',
  });
  const indexRel = `main/binary-${opts.arch}/Packages.gz`;
  const digest = await digestFile(join(index, 'Packages.gz'));
  const release = join(opts.dir, 'dists', opts.suite, 'Release');
  await writeFile(
    release,
    formatRelease({ origin: 'obsbuild vobs', suite: opts.suite, architectures: [opts.arch], files: [{ path: indexRel, size: digest.size, sha256: digest.sha256 }] }),
  );
  const key = await createArchiveKey(opts.keyDir, 'obsbuild vobs mirror <vobs@obsbuild.invalid>');
  try {
    await key.sign(release);
  } finally {
    await key.close();
  }
  return names;
}

/** The index of a mirror buildMirror made. */
export function mirrorIndexPath(dir: string, suite: string, arch: string): string {
  return join(dir, 'dists', suite, 'main', `binary-${arch}`, 'Packages.gz');
}

/**
 * Resolves `wanted` against the mirror alone (nothing installed), as obsbuild image will against the
 * rootfs: every dependency must be in it. Returns the version each wanted package resolved to.
 */
export async function mirrorResolves(dir: string, suite: string, arch: string, wanted: string[]): Promise<Record<string, string>> {
  const index = await readPackagesIndex(mirrorIndexPath(dir, suite, arch));
  const resolution = resolvePackages({ wanted, index, installed: [], arch });
  const versions: Record<string, string> = {};
  for (const name of wanted) {
    const got = resolution.packages.find((p) => p.entry.name === name);
    if (!got) throw new UserError(`local mirror ${dir}: ${name} did not resolve`, { code: 'tool-failed' });
    versions[name] = got.entry.version;
  }
  return versions;
}

export interface ServedMirror {
  url: string;
  close(): Promise<void>;
}

/** Serve `dir` read-only over HTTP on 127.0.0.1 (a free port); nothing outside `dir` is reachable. */
export async function serveMirror(dir: string): Promise<ServedMirror> {
  const root = normalize(dir + sep);
  const server: Server = createServer((req, res) => {
    const path = normalize(join(root, decodeURIComponent((req.url ?? '/').split('?')[0])));
    if (!path.startsWith(root) || (req.method !== 'GET' && req.method !== 'HEAD')) {
      res.writeHead(404).end();
      return;
    }
    stat(path).then(
      (st) => {
        if (!st.isFile()) return void res.writeHead(404).end();
        res.writeHead(200, { 'content-length': st.size, 'content-type': 'application/octet-stream' });
        if (req.method === 'HEAD') return void res.end();
        createReadStream(path).pipe(res);
      },
      () => res.writeHead(404).end(),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
