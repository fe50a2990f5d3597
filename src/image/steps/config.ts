import { basename } from 'node:path';
import { debconfPreseedFile } from '../../debian/debconf.js';
import { renderConfigTree } from '../../lvs/render.js';
import { mergeFiles } from '../../contracts/generated-file.js';
import type { ManifestIdentity } from '../../contracts/manifest.js';
import { describeFiles, manifestId } from '../manifest.js';
import type { NodeState, Step } from '../pipeline.js';
import { OBSBUILD_VERSION } from '../pipeline.js';
import { authorizedKeysFiles, shadowFile } from '../shadow.js';

/**
 * Everything this appliance's configuration consists of: the rendered LVS and network files (lenny
 * dialect), /etc/shadow with the site's root password, authorized_keys and the debconf answers. Then the
 * manifest identity over inputs + packages + this configuration, and its id: all known before any file
 * carrying the id is generated, so the id does not depend on itself.
 */
export const configStep: Step<NodeState> = {
  name: 'render configuration',
  async run(ns, progress) {
    const build = ns.build;
    const loaded = build.loaded!;
    const site = loaded.site;
    const inputs = build.inputs!;
    const role = ns.node.role === 'single' ? undefined : ns.node.role;
    const rootfsLabel = basename(inputs.files.rootfs.path);
    ns.config = mergeFiles(
      renderConfigTree(site, { node: role, dialect: 'lenny' }),
      shadowFile(loaded, inputs.rootfs.files.shadow, rootfsLabel),
      authorizedKeysFiles(site.root.authorized_keys),
      [debconfPreseedFile(site)],
    );
    const identity: ManifestIdentity = {
      obsbuild: OBSBUILD_VERSION,
      profile: build.options.profile,
      sourceDateEpoch: build.epoch!.value,
      epochSource: build.epoch!.source,
      node: { role: ns.node.role, hostname: ns.node.hostname },
      site: { file: basename(loaded.file), sha256: loaded.sha256 },
      inputs: [
        { role: 'rootfs', ...pick(inputs.files.rootfs), version: inputs.debianVersion, architecture: inputs.arch },
        { role: 'kernel', ...pick(inputs.files.uimage), version: inputs.kernelVersion },
        { role: 'modules', ...pick(inputs.files.kernTgz), version: inputs.modulesVersion },
      ],
      packages: (build.packages ?? []).map(({ entry, debPath, sha256, size }) => ({
        name: entry.name,
        version: entry.version,
        architecture: entry.arch,
        filename: basename(entry.filename ?? debPath),
        size,
        sha256,
      })),
      config: describeFiles(ns.config),
    };
    ns.identity = identity;
    ns.manifestId = manifestId(identity);
    progress.note(`${ns.config.length} files, manifest ${ns.manifestId}`);
  },
};

function pick(f: { name: string; size: number; sha256: string }) {
  return { name: f.name, size: f.size, sha256: f.sha256 };
}
