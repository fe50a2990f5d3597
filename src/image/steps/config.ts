import { basename } from 'node:path';
import { debconfPreseedFile } from '../../debian/debconf.js';
import { renderConfigTree } from '../../lvs/render.js';
import { mergeFiles, type GeneratedFile } from '../../contracts/generated-file.js';
import type { ManifestIdentity } from '../../contracts/manifest.js';
import type { InputsReport } from '../../inputs/inspect.js';
import type { LoadedSite } from '../../site/load.js';
import type { NodeView } from '../../site/nodes.js';
import { describeFiles, manifestId } from '../manifest.js';
import type { Epoch, ImageOptions, ResolvedDeb } from '../pipeline.js';
import type { Step } from '../recipe.js';
import { authorizedKeysFiles, shadowFile } from '../shadow.js';
import { rootfsTimezoneFiles } from '../timezone.js';
import { siteFiles } from '../site-files.js';
import { syslogFiles } from '../syslog.js';
import { OBSBUILD_VERSION } from '../version.js';

interface Needs {
  options: Pick<ImageOptions, 'profile'>;
  loaded: LoadedSite;
  inputs: InputsReport;
  epoch: Epoch;
  packages: ResolvedDeb[];
  node: NodeView;
  warnings: string[];
}

interface Configured {
  /** Configuration that goes into the manifest id (rendered config, shadow, keys, debconf answers). */
  config: GeneratedFile[];
  identity: ManifestIdentity;
  manifestId: string;
}

/**
 * Everything this appliance's configuration consists of: the rendered LVS and network files (lenny
 * dialect), /etc/shadow with the site's root password, authorized_keys, the debconf answers and the time zone
 * (/etc/timezone, /etc/localtime from the rootfs's tzdata). Then the
 * manifest identity over inputs + packages + this configuration, and its id: all known before any file
 * carrying the id is generated, so the id does not depend on itself.
 */
export const configStep: Step<Needs, Configured> = {
  name: 'render configuration',
  async run({ options, loaded, inputs, epoch, packages, node, warnings }, progress) {
    const site = loaded.site;
    const role = node.role === 'single' ? undefined : node.role;
    const rootfsLabel = basename(inputs.files.rootfs.path);
    const generated = mergeFiles(
      renderConfigTree(site, { node: role, dialect: 'lenny' }),
      shadowFile(loaded, inputs.rootfs.files.shadow, rootfsLabel),
      authorizedKeysFiles(site.root.authorized_keys),
      [debconfPreseedFile(site)],
      rootfsTimezoneFiles(loaded, inputs.rootfs, rootfsLabel),
      syslogFiles(loaded, { dpkgStatus: inputs.rootfs.files.dpkgStatus ?? '', syslogConf: inputs.rootfs.files.syslogConf }, rootfsLabel, (w) => {
        if (warnings.includes(w)) return; // every node of a pair sees the same rootfs
        warnings.push(w);
        progress.warn(w);
      }),
    );
    // The site's own files, under everything obsbuild generates (a generated directory such as /root/.ssh keeps its mode).
    const accounts = { passwd: inputs.rootfs.files.passwd, group: inputs.rootfs.files.group, whose: `the rootfs's (${rootfsLabel})` };
    const config = mergeFiles(siteFiles(loaded, accounts, generated), generated);
    const identity: ManifestIdentity = {
      obsbuild: OBSBUILD_VERSION,
      profile: options.profile,
      sourceDateEpoch: epoch.value,
      epochSource: epoch.source,
      node: { role: node.role, hostname: node.hostname },
      site: { file: basename(loaded.file), sha256: loaded.sha256 },
      inputs: [
        { role: 'rootfs', ...pick(inputs.files.rootfs), version: inputs.debianVersion, architecture: inputs.arch },
        { role: 'kernel', ...pick(inputs.files.uimage), version: inputs.kernelVersion },
        { role: 'modules', ...pick(inputs.files.kernTgz), version: inputs.modulesVersion },
      ],
      packages: packages.map(({ entry, debPath, sha256, size }) => ({
        name: entry.name,
        version: entry.version,
        architecture: entry.arch,
        filename: basename(entry.filename ?? debPath),
        size,
        sha256,
      })),
      config: describeFiles(config),
    };
    const id = manifestId(identity);
    progress.note(`${config.length} files, manifest ${id}`);
    return { config, identity, manifestId: id };
  },
};

function pick(f: { name: string; size: number; sha256: string }) {
  return { name: f.name, size: f.size, sha256: f.sha256 };
}
