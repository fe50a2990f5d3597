import { verifyDebChecksum } from '../../debian/deb.js';
import { fetchDebs, fetchMirrorIndex, type MirrorOptions } from '../../debian/mirror.js';
import { loadPackagesDir, type PackageEntry } from '../../debian/packages-index.js';
import { installedFromStatus, resolvePackages } from '../../debian/resolver.js';
import type { InputsReport } from '../../inputs/inspect.js';
import type { LoadedSite } from '../../site/load.js';
import type { Site } from '../../site/model.js';
import { ntpFlavour } from '../../site/services.js';
import { UserError, located } from '../../util/errors.js';
import type { ImageOptions, ResolvedDeb } from '../pipeline.js';
import type { Step, StepProgress } from '../recipe.js';

interface Needs {
  options: ImageOptions;
  loaded: LoadedSite;
  inputs: InputsReport;
  warnings: string[];
}

interface Resolved {
  /** The .debs to layer in, checked against the index. */
  packages: ResolvedDeb[];
  /** Requested packages the base system already has. */
  alreadyInstalled: string[];
}

/** What the LVS manager needs on the box, the board's NTP daemon when the site sets ntp:, and the site's extra packages. */
export function wantedPackages(site: Site): string[] {
  const base = site.lvs.manager === 'keepalived' ? ['keepalived', 'ipvsadm'] : ['ipvsadm'];
  const ntp = site.ntp ? [ntpFlavour(site.board).package] : [];
  return [...new Set([...base, ...ntp, ...site.packages.extra])];
}

function mirrorOptions(state: Needs, url: string, progress: StepProgress): MirrorOptions {
  const site = state.loaded.site;
  return {
    url,
    suite: site.packages.suite,
    arch: site.packages.arch,
    cacheDir: state.options.cacheDir,
    keyrings: state.options.keyrings,
    allowUnsigned: state.options.allowUnsigned,
    onProgress: (p) => {
      if (p.total) progress.bytes(p.received, p.total);
      else progress.note(`${p.url} ${p.received} bytes`);
    },
    onNote: (line) => progress.note(line),
    onWarning: (line) => {
      state.warnings.push(line);
      progress.warn(line);
    },
  };
}

/**
 * Resolve keepalived, ipvsadm and packages.extra against the rootfs's dpkg status, from --packages DIR,
 * --mirror URL or the site's packages.mirror, and make sure every chosen .deb is on disk.
 */
export const packagesStep: Step<Needs, Resolved> = {
  name: 'resolve packages',
  async run(state, progress) {
    const { options, loaded } = state;
    const site = loaded.site;
    const mirror = options.mirror ?? site.packages.mirror ?? undefined;
    let index: PackageEntry[];
    let mirrorOpts: MirrorOptions | undefined;
    let signedBy: string | undefined;
    if (options.packagesDir) {
      index = await loadPackagesDir(options.packagesDir);
    } else if (mirror) {
      mirrorOpts = {
        ...mirrorOptions(state, mirror, progress),
        onSigned: (v) => (signedBy = `${v.signer}${v.keyExpired ? ', key expired since' : ''}`),
      };
      index = await fetchMirrorIndex(mirrorOpts);
    } else {
      throw new UserError(
        located(loaded.file, loaded.lineOf(['packages']), 'no package source: pass --packages DIR or --mirror URL, or set packages.mirror'),
        { code: 'site-invalid' },
      );
    }
    const status = state.inputs.rootfs.files.dpkgStatus ?? '';
    const resolution = resolvePackages({
      wanted: wantedPackages(site),
      index,
      installed: installedFromStatus(status),
      arch: site.packages.arch,
    });
    const entries = resolution.packages.map((p) => p.entry);
    if (mirrorOpts) await fetchDebs(mirrorOpts, entries);
    const packages: ResolvedDeb[] = [];
    for (const entry of entries) {
      if (!entry.localPath) {
        const where = options.packagesDir ?? mirror ?? '';
        throw new UserError(`${where}: the index lists ${entry.filename ?? entry.name} but the .deb is not there`, { code: 'package-invalid' });
      }
      // Checked against the index here, before anything is unpacked; the digests go into the manifest
      // (lenny's index carries only MD5Sum, the manifest records sha256).
      const digests = await verifyDebChecksum(entry.localPath, { sha256: entry.sha256, md5: entry.md5, size: entry.size });
      packages.push({ entry, debPath: entry.localPath, sha256: digests.sha256, size: digests.size });
    }
    const list = entries.map((e) => `${e.name} ${e.version}`).join(', ') || 'nothing to add';
    progress.note(signedBy ? `${list} (index signed by ${signedBy})` : list);
    return { packages, alreadyInstalled: resolution.alreadyInstalled };
  },
};
