import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blockMapPathFor } from '../../contracts/block-map.js';
import { buildStickImage, type StickFs } from '../../stick/diskimage.js';
import { estimateMinCfBytes, INSTALLER_NAME, renderInstaller } from '../../box/installer.js';
import { MD5SUMS_NAME, writeMd5sums } from '../../stick/md5sums.js';
import { sha256Hex } from '../../util/hash.js';
import { OVERLAY_NAME } from '../../contracts/box-paths.js';
import type { NodeState, Step } from '../pipeline.js';

const MIB = 1024 * 1024;

/** The CF card must hold the unpacked rootfs, modules, overlay and kernel: refuse smaller cards up front. */
function minCfBytes(ns: NodeState): number {
  const inputs = ns.build.inputs!;
  const overlay = ns.outputs.find((o) => o.path.endsWith(`/${OVERLAY_NAME}`))?.size ?? 0;
  const estimate = estimateMinCfBytes({
    rootfs: inputs.files.rootfs.size,
    overlay,
    kernTgz: inputs.files.kernTgz.size,
    uImage: inputs.files.uimage.size,
  });
  const known = inputs.rootfs.tarBytes + inputs.kernTgz.tarBytes + 4 * overlay + inputs.files.uimage.size + 64 * MIB;
  return Math.ceil(Math.max(estimate, known) / MIB) * MIB;
}

/**
 * msf_init.sh and MD5SUMS into stick/msf/ (src/stick), then stick.img with its block map next to it:
 * an MBR disk image whose one partition (ext3 labelled MSF by default) holds msf/.
 */
export function stickStep(fs: StickFs = 'ext3'): Step<NodeState> {
  return {
    name: 'stick image',
    async run(ns, progress) {
      const build = ns.build;
      const folder = build.board!.stickFolder;
      const stickDir = join(ns.staged.workDir, 'stick');
      const msf = join(stickDir, folder);
      const installer = renderInstaller({
        cfDevice: build.loaded!.site.install.cf_device,
        rootfsName: build.inputs!.files.rootfs.name,
        files: { overlay: OVERLAY_NAME },
        manifestId: ns.manifestId,
        minCfBytes: minCfBytes(ns),
      });
      await writeFile(join(msf, INSTALLER_NAME), installer, { mode: 0o755 });
      record(ns, `stick/${folder}/${INSTALLER_NAME}`, Buffer.from(installer));
      progress.note('MD5SUMS');
      await writeMd5sums(msf);
      record(ns, `stick/${folder}/${MD5SUMS_NAME}`, await readFile(join(msf, MD5SUMS_NAME)));

      progress.note(`stick.img (${fs}, label ${build.board!.stickLabel})`);
      const image = join(ns.staged.workDir, 'stick.img');
      const info = await buildStickImage(stickDir, image, { fs, label: build.board!.stickLabel, sourceDateEpoch: build.epoch!.value });
      ns.knownSums.set('stick.img', info.blockMap.imageSha256);
      ns.outputs.push({ path: 'stick.img', size: info.imageSize, sha256: info.blockMap.imageSha256 });
      const mapFile = blockMapPathFor(image);
      ns.outputs.push({ path: 'stick.img.bmap', size: (await stat(mapFile)).size, sha256: sha256Hex(await readFile(mapFile)) });
      progress.note(`stick.img ${Math.ceil(info.imageSize / MIB)} MiB, ${info.fs} "${info.label}"`);
    },
  };
}

function record(ns: NodeState, rel: string, bytes: Buffer): void {
  const sha256 = sha256Hex(bytes);
  ns.knownSums.set(rel, sha256);
  ns.outputs.push({ path: rel, size: bytes.length, sha256 });
}
