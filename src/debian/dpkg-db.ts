/**
 * dpkg registration of packages unpacked at build time, in the state `install ok unpacked`: the base
 * status file with the new stanzas merged in (sorted by name, as dpkg writes it), and per package
 * /var/lib/dpkg/info/<pkg>.list, .md5sums, .conffiles and the maintainer scripts, so that
 * `dpkg --configure -a` on the box finishes the job.
 *
 * Conffiles are placed at their final paths (not as .dpkg-new) and recorded with the package's md5, which
 * is what dpkg records after configuring: `dpkg --configure -a` then never prompts about them, and a
 * conffile the site configuration replaced reads as "locally modified" on later upgrades, which it is.
 */
import type { GeneratedFile } from '../contracts/generated-file.js';
import { Stanza, formatStanzas, parseStanzas } from './control.js';

export const DPKG_ADMIN_DIR = '/var/lib/dpkg';

export interface UnpackedPackage {
  /** The package's DEBIAN/control stanza. */
  control: Stanza;
  /** Control members (md5sums, conffiles, preinst, postinst, prerm, postrm, config, templates...). */
  controlFiles: Map<string, { content: Buffer; mode: number }>;
  /** data.tar paths in archive order, normalized ('' = the root directory). */
  paths: string[];
  /** md5 of every regular file, by normalized path. */
  md5s: Map<string, string>;
}

/** dpkg's own field order for status stanzas (lib/dpkg/parse.c fieldinfos); other fields follow in their order. */
const STATUS_FIELD_ORDER = [
  'Package', 'Essential', 'Protected', 'Status', 'Priority', 'Section', 'Installed-Size', 'Origin', 'Maintainer',
  'Bugs', 'Architecture', 'Multi-Arch', 'Source', 'Version', 'Config-Version', 'Built-Using', 'Replaces',
  'Provides', 'Depends', 'Pre-Depends', 'Recommends', 'Suggests', 'Breaks', 'Conflicts', 'Enhances',
  'Conffiles', 'Description', 'Triggers-Pending', 'Triggers-Awaited',
];

/** Index-only fields that never belong in a status file. */
const INDEX_ONLY = new Set(['filename', 'size', 'md5sum', 'sha1', 'sha256', 'sha512', 'description-md5', 'msdos-filename']);

function conffileList(pkg: UnpackedPackage): string[] {
  const text = pkg.controlFiles.get('conffiles')?.content.toString('utf8') ?? '';
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith('/'));
}

function normalized(path: string): string {
  return path.replace(/^\/+/, '');
}

export function statusStanza(pkg: UnpackedPackage): Stanza {
  const source = new Stanza(pkg.control.entries().filter(([name]) => !INDEX_ONLY.has(name.toLowerCase())));
  source.set('Status', 'install ok unpacked');
  const conffiles = conffileList(pkg);
  if (conffiles.length) {
    const lines = conffiles.map((c) => ` ${c} ${pkg.md5s.get(normalized(c)) ?? 'newconffile'}`);
    source.set('Conffiles', `\n${lines.join('\n')}`);
  }
  const out = new Stanza();
  for (const name of STATUS_FIELD_ORDER) {
    const value = source.get(name);
    if (value !== undefined) out.set(source.entries().find(([n]) => n.toLowerCase() === name.toLowerCase())![0], value);
  }
  for (const [name, value] of source.entries()) if (!out.has(name)) out.set(name, value);
  return out;
}

function byteCompare(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/** The base status with the new packages' stanzas merged in (replacing same-named ones), sorted by name. */
export function mergeStatus(baseStatus: string, pkgs: UnpackedPackage[]): string {
  const byName = new Map<string, Stanza>();
  for (const stanza of parseStanzas(baseStatus)) byName.set(stanza.get('Package') ?? '', stanza);
  for (const pkg of pkgs) byName.set(pkg.control.get('Package')!, statusStanza(pkg));
  const names = [...byName.keys()].sort(byteCompare);
  return formatStanzas(names.map((n) => byName.get(n)!));
}

/** `.list`: one absolute path per line, the root as `/.`, in archive order. */
export function fileList(pkg: UnpackedPackage): string {
  const seen = new Set<string>();
  const lines: string[] = [];
  for (const p of pkg.paths) {
    const line = p === '' ? '/.' : `/${p}`;
    if (!seen.has(line)) lines.push(line);
    seen.add(line);
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/** `.md5sums` as shipped, or generated from the unpacked files when the package ships none. */
export function md5sumsFile(pkg: UnpackedPackage): Buffer | undefined {
  const shipped = pkg.controlFiles.get('md5sums');
  if (shipped) return shipped.content;
  const lines = pkg.paths.filter((p) => pkg.md5s.has(p)).map((p) => `${pkg.md5s.get(p)}  ${p}`);
  return lines.length ? Buffer.from(`${lines.join('\n')}\n`) : undefined;
}

/** Whether a base system's dpkg database uses the multiarch layout (`info/format` reads `1`, dpkg >= 1.16.2). */
export function isMultiarchDb(infoFormat: string | undefined): boolean {
  return infoFormat?.trim() === '1';
}

/**
 * The name dpkg gives a package's info files: in a multiarch database, `<pkg>:<arch>` for `Multi-Arch: same`
 * packages (dpkg looks them up only under that name; `dpkg --audit` reports them missing otherwise); `<pkg>`
 * for the rest and always in a lenny database, which has no `info/format` file.
 */
export function infoFileBase(control: Stanza, multiarchDb: boolean): string {
  const name = control.get('Package')!;
  const multiArch = control.get('Multi-Arch')?.trim().toLowerCase();
  const arch = control.get('Architecture')?.trim();
  return multiarchDb && multiArch === 'same' && arch ? `${name}:${arch}` : name;
}

/** Everything dpkg registration adds to the target root: the merged status file and the info files. */
export function dpkgRegistrationFiles(baseStatus: string, pkgs: UnpackedPackage[], multiarchDb = false): GeneratedFile[] {
  const files: GeneratedFile[] = [
    { path: `${DPKG_ADMIN_DIR}/status`, content: mergeStatus(baseStatus, pkgs), mode: 0o644, uid: 0, gid: 0 },
  ];
  for (const pkg of pkgs) {
    const info = `${DPKG_ADMIN_DIR}/info/${infoFileBase(pkg.control, multiarchDb)}`;
    files.push({ path: `${info}.list`, content: fileList(pkg), mode: 0o644, uid: 0, gid: 0 });
    const md5sums = md5sumsFile(pkg);
    if (md5sums) files.push({ path: `${info}.md5sums`, content: md5sums, mode: 0o644, uid: 0, gid: 0 });
    for (const [member, { content, mode }] of [...pkg.controlFiles].sort(([a], [b]) => byteCompare(a, b))) {
      // `list` is dpkg's own record of the package's files: a control member of that name must not replace it.
      if (member === 'control' || member === 'md5sums' || member === 'list' || member.includes('/')) continue;
      files.push({ path: `${info}.${member}`, content, mode: mode & 0o7777, uid: 0, gid: 0 });
    }
  }
  return files;
}
