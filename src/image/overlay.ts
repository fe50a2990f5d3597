/**
 * The overlay tarball (obsbuild-overlay.tgz): the resolved packages' files with their exact owners, modes
 * and links, the dpkg registration (`install ok unpacked`) and every generated file, sorted, with fixed
 * timestamps, byte-identical for identical input.
 *
 * Two passes so that nothing big sits in memory: (1) each .deb is verified against its index entry and
 * its data.tar streamed into a staging directory on disk; (2) the merged, sorted tree is streamed into a
 * gzip tarball written atomically. Later layers win for the same path: package files, then the dpkg
 * database, then the generated files (configuration, first-boot script...).
 */
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { plainComponents, SetidWarnings } from '../archive/path-safety.js';
import type { TarEntry, TarEntryToWrite } from '../archive/tar-entry.js';
import { writeTarGz } from '../archive/tar-write.js';
import { forEachDataEntry, readDebControl, verifyDebChecksum, digestFile } from '../debian/deb.js';
import { dpkgRegistrationFiles, type UnpackedPackage } from '../debian/dpkg-db.js';
import type { PackageEntry } from '../debian/packages-index.js';
import { writeAtomically } from '../util/atomic.js';
import { UserError } from '../util/errors.js';
import type { GeneratedFile } from '../contracts/generated-file.js';

export interface OverlayPackage {
  /** The .deb on disk. */
  debPath: string;
  /** Its index entry: name, version and the checksums the file must match. */
  entry: Pick<PackageEntry, 'name' | 'version' | 'arch'> & Partial<Pick<PackageEntry, 'sha256' | 'md5' | 'size'>>;
}

export interface OverlayOptions {
  packages: OverlayPackage[];
  /** The base rootfs's /var/lib/dpkg/status. */
  baseStatus: string;
  /** Whether the base's dpkg database is in the multiarch layout (its info/format reads 1). */
  multiarchDb?: boolean;
  /** Configuration, first-boot script, etc.; they override package files of the same path. */
  files: GeneratedFile[];
  /** SOURCE_DATE_EPOCH: every entry's mtime. */
  mtime: number;
  /** Where to stage package contents (default: the OS temp dir). */
  stagingParent?: string;
  /** One line per step, for the caller's progress display. */
  onProgress?: (message: string) => void;
}

export interface OverlayResult {
  sha256: string;
  bytes: number;
  entries: number;
  /**
   * preinst: the package ships a preinst. It is not run at build time (it would run on the build host);
   * dpkg expects `preinst install` to have run before `--configure`, so the first-boot script runs it.
   */
  packages: { name: string; version: string; arch: string; sha256: string; preinst: boolean }[];
  /** Milliseconds per phase: verify (checksums), unpack (data.tar to staging), write (tar + gzip). */
  timings: { verify: number; unpack: number; write: number };
  /** One line per setuid/setgid file the packages install, for the build's warning list. */
  warnings: string[];
}

interface Node extends TarEntryToWrite {
  /** For a hard link from a package: the node it links to, as read. */
  hardlinkOf?: Node;
}

function ownerName(id: number): string {
  return id === 0 ? 'root' : '';
}

export function normalizeTargetPath(path: string, what: string): string {
  const parts = plainComponents(path);
  if (!parts) throw new UserError(`${what}: path '${path}' escapes the root`, { code: 'site-invalid' });
  return parts.join('/');
}

function nodeFromGenerated(file: GeneratedFile): Node {
  const path = normalizeTargetPath(file.path, 'generated file');
  const uid = file.uid ?? 0;
  const gid = file.gid ?? 0;
  const base = { path, mode: file.mode & 0o7777, uid, gid, uname: ownerName(uid), gname: ownerName(gid) };
  switch (file.type ?? 'file') {
    case 'dir':
      return { ...base, type: 'directory' };
    case 'symlink':
      if (!file.linkTarget) throw new UserError(`generated file ${file.path}: symlink without a target`, { code: 'site-invalid' });
      return { ...base, type: 'symlink', linkname: file.linkTarget };
    default: {
      const buffer = typeof file.content === 'string' ? Buffer.from(file.content, 'utf8') : file.content;
      return { ...base, type: 'file', content: { buffer } };
    }
  }
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function stagePackage(
  pkg: OverlayPackage,
  staging: string,
  counter: { n: number },
): Promise<{ nodes: Node[]; unpacked: UnpackedPackage; warnings: string[] }> {
  const { control, files: controlFiles } = await readDebControl(pkg.debPath);
  // readDebControl refuses a control file without them; '' could only fail the comparison below.
  const name = control.get('Package') ?? '';
  const version = control.get('Version') ?? '';
  if (name !== pkg.entry.name || version !== pkg.entry.version) {
    throw new UserError(`${pkg.debPath}: the index says ${pkg.entry.name} ${pkg.entry.version} but the .deb is ${name} ${version}`, { code: 'package-invalid' });
  }
  // md5 is needed for conffiles (dpkg status) and, when the package ships no md5sums, for every file.
  const shipsMd5sums = controlFiles.has('md5sums');
  const conffiles = new Set((controlFiles.get('conffiles')?.content.toString('utf8') ?? '').split('\n').map((l) => l.trim().replace(/^\/+/, '')));
  const nodes: Node[] = [];
  const byPath = new Map<string, Node>();
  const md5s = new Map<string, string>();
  const paths: string[] = [];
  const setid = new SetidWarnings(pkg.debPath);
  await forEachDataEntry(pkg.debPath, async (entry: TarEntry, content) => {
    paths.push(entry.path);
    if (entry.type === 'file') setid.add(entry.path, entry.mode, entry.uid, entry.gid);
    const node: Node = {
      path: entry.path,
      type: entry.type,
      mode: entry.mode,
      uid: entry.uid,
      gid: entry.gid,
      uname: entry.uname,
      gname: entry.gname,
      linkname: entry.type === 'symlink' ? entry.linkname : undefined,
      devmajor: entry.devmajor,
      devminor: entry.devminor,
    };
    if (entry.type === 'file') {
      const file = join(staging, String(counter.n++));
      const md5 = !shipsMd5sums || conffiles.has(entry.path) ? createHash('md5') : undefined;
      await pipeline(
        content,
        async function* (chunks: AsyncIterable<Buffer>) {
          for await (const chunk of chunks) {
            md5?.update(chunk);
            yield chunk;
          }
        },
        createWriteStream(file),
      );
      node.content = { file, size: entry.size };
      if (md5) md5s.set(entry.path, md5.digest('hex'));
    } else if (entry.type === 'link') {
      const target = byPath.get(entry.linkname ?? '');
      if (!target || target.type !== 'file') throw new UserError(`${pkg.debPath}: hard link ${entry.path} points to missing ${entry.linkname}`, { code: 'package-invalid' });
      node.type = 'file';
      node.content = target.content;
      node.hardlinkOf = target;
      const targetMd5 = md5s.get(target.path);
      if (targetMd5) md5s.set(entry.path, targetMd5);
    }
    if (entry.path !== '') {
      nodes.push(node);
      byPath.set(entry.path, node);
    }
  });
  return { nodes, unpacked: { control, controlFiles, paths, md5s }, warnings: setid.lines() };
}

/**
 * Hard links: a tar extractor needs the link target before the link. After sorting and overriding, each
 * group of paths that still share content is written as the first path (regular file) plus links to it;
 * a link whose target was replaced keeps the package's bytes as a plain file.
 */
function relinkHardlinks(sorted: Node[], tree: Map<string, Node>): void {
  const groups = new Map<Node, Node[]>();
  for (const node of sorted) {
    if (!node.hardlinkOf) continue;
    const target = node.hardlinkOf;
    if (tree.get(target.path) !== target) continue; // target overridden: stay a plain copy
    groups.set(target, [...(groups.get(target) ?? [target]), node]);
  }
  for (const members of groups.values()) {
    members.sort((a, b) => byteCompare(a.path, b.path));
    const [first, ...rest] = members;
    first.type = 'file';
    for (const node of rest) {
      node.type = 'link';
      node.linkname = first.path;
      node.content = undefined;
    }
  }
}

function addParents(tree: Map<string, Node>): void {
  for (const path of [...tree.keys()]) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (!tree.has(parent)) tree.set(parent, { path: parent, type: 'directory', mode: 0o755, uid: 0, gid: 0, uname: 'root', gname: 'root' });
    }
  }
}

export async function writeOverlay(outPath: string, opts: OverlayOptions): Promise<OverlayResult> {
  const progress = opts.onProgress ?? (() => {});
  const timings = { verify: 0, unpack: 0, write: 0 };
  const staging = await mkdtemp(join(opts.stagingParent ?? tmpdir(), 'obsbuild-overlay-'));
  try {
    const tree = new Map<string, Node>();
    const unpacked: UnpackedPackage[] = [];
    const packages: OverlayResult['packages'] = [];
    const counter = { n: 0 };
    const warnings: string[] = [];
    for (const pkg of opts.packages) {
      progress(`verifying ${pkg.entry.name} ${pkg.entry.version}`);
      let t = Date.now();
      const { sha256, md5, size } = pkg.entry;
      const digests = sha256 || md5 ? await verifyDebChecksum(pkg.debPath, { sha256, md5, size }) : await digestFile(pkg.debPath);
      timings.verify += Date.now() - t;
      progress(`unpacking ${pkg.entry.name} ${pkg.entry.version}`);
      t = Date.now();
      const staged = await stagePackage(pkg, staging, counter);
      timings.unpack += Date.now() - t;
      warnings.push(...staged.warnings);
      for (const node of staged.nodes) {
        const existing = tree.get(node.path);
        if (existing?.type === 'directory' && node.type === 'directory') continue; // first owner's directory stays
        tree.set(node.path, node);
      }
      unpacked.push(staged.unpacked);
      packages.push({ name: pkg.entry.name, version: pkg.entry.version, arch: staged.unpacked.control.get('Architecture') ?? pkg.entry.arch, sha256: digests.sha256, preinst: staged.unpacked.controlFiles.has('preinst') });
    }
    const layered = [...(unpacked.length ? dpkgRegistrationFiles(opts.baseStatus, unpacked, opts.multiarchDb) : []), ...opts.files];
    for (const file of layered) {
      const node = nodeFromGenerated(file);
      if (node.path === '') continue; // never re-own the target's root directory
      tree.set(node.path, node);
    }
    addParents(tree);
    const sorted = [...tree.values()].sort((a, b) => byteCompare(a.path, b.path));
    relinkHardlinks(sorted, tree);
    progress(`writing ${outPath} (${sorted.length} entries)`);
    const t = Date.now();
    const written = await writeAtomically(outPath, (tmp) => writeTarGz(tmp, sorted, opts.mtime, undefined, outPath));
    timings.write = Date.now() - t;
    return { ...written, packages, timings, warnings };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
